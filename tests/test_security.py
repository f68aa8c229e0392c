"""Security promises: safe YAML, no eval/exec/pickle of user data, no credentials or presigned
URLs in any output, SSE and expected-owner headers on every S3 request, no output over an
input, no image outside the intended bucket."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from builders import classification, line, manifest
from conftest import put_objects
from faultproxy import FaultProxy
from procs import run_gtmerge, time_limit

import gtmerge
from gtmerge.cli import main
from gtmerge.mapping.expressions import compile_expression
from gtmerge.mapping.functions import new_options

PACKAGE = Path(gtmerge.__file__).parent
SECRETS = {
    "AWS_ACCESS_KEY_ID": "AKIAFAKESECRETID0001",
    "AWS_SECRET_ACCESS_KEY": "fakeSecretAccessKeyThatMustNeverBePrinted",
    "AWS_SESSION_TOKEN": "fakeSessionTokenThatMustNeverBePrinted",
    "AWS_DEFAULT_REGION": "us-east-1",
}
OWNER = "123456789012"
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
GOOD = manifest(line("a.jpg", classification("species", "dog"))).encode()


def _calls(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                yield func.id
            elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                yield f"{func.value.id}.{func.attr}"


#: The one reviewed use: mapping/expressions.py generates the function of a plain JMESPath path
#: with every key embedded by repr() (test below). Any new use fails this test.
REVIEWED = ["expressions.py: exec"]


def test_no_unsafe_yaml_eval_exec_or_pickle_in_the_package() -> None:
    banned_calls = {
        "eval",
        "exec",
        "compile",
        "__import__",
        "yaml.load",
        "yaml.unsafe_load",
        "yaml.full_load",
        "yaml.load_all",
        "pickle.load",
        "pickle.loads",
        "marshal.loads",
        "os.system",
        "subprocess.run",
        "subprocess.Popen",
    }
    banned_modules = {"pickle", "marshal", "shelve", "dill"}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        found += [f"{path.name}: {call}" for call in _calls(tree) if call in banned_calls]
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            found += [
                f"{path.name}: import {n}" for n in names if n.split(".")[0] in banned_modules
            ]
    yaml_calls = [
        f"{p.name}: {c}"
        for p in PACKAGE.rglob("*.py")
        for c in _calls(ast.parse(p.read_text()))
        if c.startswith("yaml.")
    ]
    assert found == REVIEWED
    # compose builds nodes only (no object is constructed, no alias expanded): renames use it
    # for line numbers; parse only yields events (the alias-expansion check counts them)
    allowed = ("yaml.safe_load", "yaml.compose", "yaml.parse")
    assert yaml_calls and all(c.endswith(allowed) for c in yaml_calls), yaml_calls


def test_hostile_keys_in_a_mapping_path_are_data_not_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    key = f"a\")\n__import__('os').system('touch {marker}')#"
    quoted = key.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    expression = compile_expression(f'"{quoted}".b[0]', new_options()[0])
    assert expression.search({key: {"b": [7]}}) == 7
    assert not marker.exists()


def test_a_mapping_with_python_tags_is_refused_without_running_them(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    mapping = tmp_path / "evil.yaml"
    mapping.write_text(
        f'records: !!python/object/apply:os.system ["touch {marker}"]\nimage: name\n'
    )
    (tmp_path / "in.jsonl").write_text('{"name": "a.jpg"}\n')
    done = run_gtmerge("merge", f"{mapping}={tmp_path / 'in.jsonl'}", "-o", str(tmp_path / "o"))
    assert done.returncode == 2
    assert done.stderr.startswith(f"gtmerge merge: {mapping}")
    assert done.stderr.count("\n") == 1
    assert not marker.exists()


@pytest.fixture
def proxy(s3: Any, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    with FaultProxy(s3_endpoint) as fault_proxy, time_limit(60):
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", fault_proxy.url)
        yield fault_proxy


def test_sse_and_expected_owner_go_with_every_s3_request(s3: Any, proxy: FaultProxy) -> None:
    put_objects(s3, "sec-bucket", {"jobs/a/output.manifest": GOOD, "jobs/b/output.manifest": GOOD})
    args = [
        "merge",
        "s3://sec-bucket/jobs/*/output.manifest",
        "s3://sec-bucket/jobs/a/output.manifest",
        "-o",
        "s3://sec-bucket/out/train.manifest.gz",
        "--report",
        "s3://sec-bucket/out/report.json",
        "--rejects",
        "s3://sec-bucket/out/rejects.jsonl",  # empty: written with one PutObject
        "--sse",
        "aws:kms",
        "--sse-kms-key-id",
        KMS_KEY,
        "--expected-bucket-owner",
        OWNER,
    ]
    assert main(args) == 0
    kinds = {(r.method, "uploads" in r.target, "partNumber" in r.target) for r in proxy.requests}
    assert {
        ("HEAD", False, False),
        ("GET", False, False),
        ("POST", True, False),
        ("PUT", False, True),
        ("PUT", False, False),
    } <= kinds
    assert [r for r in proxy.requests if r.header("x-amz-expected-bucket-owner") != OWNER] == []
    creates = [r for r in proxy.requests if r.method == "POST" and r.target.endswith("?uploads")]
    puts = [r for r in proxy.requests if r.method == "PUT" and "uploadId" not in r.target]
    assert len(creates) == 3  # output, report, rejects
    assert puts  # the empty rejects file
    for request in creates + puts:
        assert request.header("x-amz-server-side-encryption") == "aws:kms"
        assert request.header("x-amz-server-side-encryption-aws-kms-key-id") == KMS_KEY


def test_credentials_never_reach_any_output(s3: Any, proxy: FaultProxy, tmp_path: Path) -> None:
    put_objects(s3, "sec-bucket", {"in.manifest": GOOD + b"not json\n"})
    proxy.add("status", "PUT", r"partNumber=", times=99, status=403, code="AccessDenied")
    env = {**SECRETS, "AWS_ENDPOINT_URL_S3": proxy.url}
    report, rejects = tmp_path / "r.json", tmp_path / "x.jsonl"
    runs = [
        [
            "s3://sec-bucket/in.manifest",
            "-o",
            str(tmp_path / "o"),
            "--report",
            str(report),
            "--rejects",
            str(rejects),
        ],
        ["s3://sec-bucket/missing.manifest", "-o", str(tmp_path / "o")],
        ["s3://sec-bucket/in.manifest", "-o", "s3://sec-bucket/out.manifest"],
        ["s3://sec-bucket/in.manifest", "-o", str(tmp_path / "o"), "--strict"],
    ]
    outputs, codes = [], []
    for args in runs:
        done = run_gtmerge("merge", *args, "--progress", env=env)
        outputs += [done.stdout, done.stderr]
        codes.append(done.returncode)
    assert codes == [0, 2, 2, 2]
    outputs += [report.read_text(), rejects.read_text()]
    text = "\n".join(outputs)
    for secret in (
        SECRETS["AWS_ACCESS_KEY_ID"],
        SECRETS["AWS_SECRET_ACCESS_KEY"],
        SECRETS["AWS_SESSION_TOKEN"],
        "X-Amz-Signature",
        "X-Amz-Credential",
    ):
        assert secret not in text
    # and the secret key itself never travels: requests carry only its signature
    for request in proxy.requests:
        assert SECRETS["AWS_SECRET_ACCESS_KEY"] not in json.dumps(request.headers)


PRESIGNED = (
    "https://cdn.example.com/a.jpg?Expires=1700000000&Signature=SECRETSIGNATURE&Key-Pair-Id=K"
)


def test_a_presigned_url_is_not_echoed_in_errors(tmp_path: Path) -> None:
    source = tmp_path / "in.manifest"
    source.write_text(json.dumps({"source-ref": PRESIGNED}) + "\n")
    done = run_gtmerge("merge", str(source), "-o", str(tmp_path / "o"), "--strict")
    assert done.returncode == 2
    assert "SECRETSIGNATURE" not in done.stderr


def test_a_presigned_s3_url_becomes_a_plain_s3_reference(tmp_path: Path) -> None:
    url = (
        "https://good-bucket.s3.us-west-2.amazonaws.com/img/a.jpg?X-Amz-Algorithm=AWS4"
        "&X-Amz-Credential=AKIAFAKESECRETID0001%2F20240101&X-Amz-Signature=abcdef"
    )
    source = tmp_path / "in.manifest"
    source.write_text(line(url, classification("species", "dog")) + "\n")
    assert main(["merge", str(source), "-o", str(tmp_path / "o")]) == 0
    written = (tmp_path / "o").read_text()
    assert json.loads(written)["source-ref"] == "s3://good-bucket/img/a.jpg"
    assert "X-Amz" not in written


def test_the_output_is_never_written_over_an_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.manifest"
    source.write_bytes(GOOD)
    (tmp_path / "link.manifest").symlink_to(source)
    for target in (str(source), str(tmp_path / "link.manifest"), f"{tmp_path}/./in.manifest"):
        for option in ("-o", "--report", "--rejects"):
            args = ["merge", str(source), option, target]
            if option != "-o":
                args += ["-o", str(tmp_path / "out.manifest")]
            assert main(args) == 2
            assert capsys.readouterr().err == (
                f"gtmerge merge: {target}: refusing to overwrite one of the inputs\n"
            )
    assert source.read_bytes() == GOOD


def test_the_report_is_never_written_over_the_output(tmp_path: Path) -> None:
    source = tmp_path / "in.manifest"
    source.write_bytes(GOOD)
    out = str(tmp_path / "out.manifest")
    assert main(["merge", str(source), "-o", out, "--report", out]) == 2


def test_relative_names_never_leave_the_image_root_bucket(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("../../x.jpg,dog\n%2e%2e/%2e%2e/y.jpg,cat\n//z.jpg,cow\n")
    out = tmp_path / "o"
    assert main(["merge", f"csv={labels}", "--image-root", "s3://good/imgs/", "-o", str(out)]) == 0
    refs = [json.loads(x)["source-ref"] for x in out.read_text().splitlines()]
    assert refs == [
        "s3://good/imgs/../../x.jpg",
        "s3://good/imgs/../../y.jpg",
        "s3://good/imgs/z.jpg",
    ]


def test_an_export_naming_another_bucket_than_the_image_root_is_rejected(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "a.jpg,dog\ns3://evil-bucket/y.jpg,cat\nhttps://evil-bucket.s3.amazonaws.com/z.jpg,cow\n"
    )
    out = tmp_path / "o"
    report = merge_report(labels, out)
    assert [json.loads(x)["source-ref"] for x in out.read_text().splitlines()] == [
        "s3://good/imgs/a.jpg"
    ]
    assert report["totals"]["rejected"] == 2


def merge_report(labels: Path, out: Path) -> Any:
    report = out.with_suffix(".json")
    args = ["merge", f"csv={labels}", "--image-root", "s3://good/imgs/", "-o", str(out)]
    assert main([*args, "--report", str(report)]) == 0
    return json.loads(report.read_text())
