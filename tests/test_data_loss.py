"""Runs that used to lose a user's data (issue #11, items 1 to 4): an annotated copy written over
its own input, an interrupted annotation, a report that cannot be written, attribute names whose
numbered forms collide."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from builders import boxes, classification, line, manifest
from conftest import put_objects, read_object

from gtmerge.cli import main


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("attribute", "box_attribute"),
    [("a", "a1"), ("a1", "a"), ("label", "label0"), ("x", "x007")],
)
def test_attribute_names_whose_numbered_forms_collide_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], attribute: str, box_attribute: str
) -> None:
    source = write(tmp_path, "in.manifest", manifest(line("a.jpg", classification("s", "dog"))))
    out = write(tmp_path, "out.manifest", "previous\n")
    argv = ["merge", str(source), "-o", str(out), "--attribute", attribute]
    assert main([*argv, "--box-attribute", box_attribute]) == 2
    long = max(attribute, box_attribute, key=len)
    assert capsys.readouterr().err == (
        f"gtmerge merge: attribute names {attribute!r} and {box_attribute!r} would collide: "
        f"both number an attribute {long + '0'!r}\n"
    )
    assert out.read_text() == "previous\n"


@pytest.mark.parametrize(("attribute", "box_attribute"), [("a", "a1b"), ("a1", "b1"), ("a", "b")])
def test_attribute_names_that_cannot_collide_are_accepted(
    tmp_path: Path, attribute: str, box_attribute: str
) -> None:
    labels = [classification(f"s{n}", f"class{n}") for n in range(12)]
    source = write(
        tmp_path,
        "in.manifest",
        manifest(line("a.jpg", *labels, boxes("bb", [("cat", 1, 2, 3, 4)]))),
    )
    out = tmp_path / "out.manifest"
    argv = ["merge", str(source), "-o", str(out), "--attribute", attribute]
    assert main([*argv, "--box-attribute", box_attribute]) == 0
    (written,) = out.read_text().splitlines()
    assert written.count("-metadata") == 13


# --- 1. validate --annotate onto an input --------------------------------------------------


def big_manifest(directory: Path, lines: int) -> Path:
    text = "".join(
        line(f"img{n}.jpg", classification("species", f"c{n % 7}")) + "\n" for n in range(lines)
    )
    return write(directory, "in.manifest", text)


@pytest.mark.parametrize("through", ["itself", "a symlink", "./", "the test manifest"])
def test_annotate_onto_an_input_is_refused_and_the_input_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], through: str
) -> None:
    manifest_path = big_manifest(tmp_path, 5000)  # over 1 MiB: the old copy cut it there
    before = manifest_path.read_bytes()
    args = ["validate", str(manifest_path)]
    target = str(manifest_path)
    if through == "a symlink":
        target = str(tmp_path / "link.manifest")
        Path(target).symlink_to(manifest_path)
    elif through == "./":
        target = str(tmp_path / "." / "in.manifest")
    elif through == "the test manifest":
        test_path = write(tmp_path, "test.manifest", before.decode())
        args += ["--test", str(test_path)]
        target = str(test_path)
    assert main([*args, "--annotate", target]) == 2
    assert capsys.readouterr().err == (
        f"gtmerge validate: {target}: refusing to overwrite one of the inputs\n"
    )
    assert manifest_path.read_bytes() == before
    assert [p.name for p in tmp_path.glob(".gtmerge-*")] == []


def test_annotate_from_stdin_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", open(big_manifest(tmp_path, 3)))  # noqa: SIM115
    out = tmp_path / "annotated.manifest"
    assert main(["validate", "-", "--annotate", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"gtmerge validate: {out}: --annotate reads MANIFEST twice, which stdin cannot be\n"
    )
    assert not out.exists()


def test_annotate_into_a_missing_bucket_is_one_line_before_any_work(
    s3: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = big_manifest(tmp_path, 3)
    assert main(["validate", str(source), "--annotate", "s3://no-such-bucket/a.manifest"]) == 2
    assert capsys.readouterr().err == (
        "gtmerge validate: s3://no-such-bucket/a.manifest: write failed: NoSuchBucket: "
        "The specified bucket does not exist\n"
    )


# --- 3. a destination that cannot be written fails the run before anything is replaced -------


@pytest.mark.parametrize("where", ["/proc/gtmerge-report.json", "missing-dir/report.json", ""])
def test_an_unwritable_report_fails_before_the_output_is_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    source = big_manifest(tmp_path, 3)
    out = write(tmp_path, "out.manifest", "previous\n")
    report = where if where.startswith("/") or not where else str(tmp_path / where)
    assert main(["merge", str(source), "-o", str(out), "--report", report]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"gtmerge merge: {report or repr('')}: ")
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.manifest", "out.manifest"]


def test_a_report_into_a_missing_bucket_leaves_the_output_and_no_upload(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put_objects(s3, "out-bucket", {"out.manifest": b"previous\n"})
    source = big_manifest(tmp_path, 3)
    args = ["merge", str(source), "-o", "s3://out-bucket/out.manifest"]
    assert main([*args, "--report", "s3://no-such-bucket/report.json"]) == 2
    assert capsys.readouterr().err == (
        "gtmerge merge: s3://no-such-bucket/report.json: write failed: NoSuchBucket: "
        "The specified bucket does not exist\n"
    )
    assert read_object(s3, "out-bucket", "out.manifest") == b"previous\n"
    assert s3.list_multipart_uploads(Bucket="out-bucket").get("Uploads", []) == []


@pytest.mark.parametrize("output", ["s3://out-bucket", "s3://out-bucket/", "s3://out-bucket/d/"])
def test_an_s3_output_without_a_key_is_one_line(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], output: str
) -> None:
    source = big_manifest(tmp_path, 3)
    assert main(["merge", str(source), "-o", output]) == 2
    assert capsys.readouterr().err == (
        f"gtmerge merge: {output}: an S3 output needs s3://BUCKET/KEY\n"
    )


def test_empty_outputs_in_s3_are_empty_objects(s3: Any, tmp_path: Path) -> None:
    put_objects(s3, "out-bucket", {})
    source = big_manifest(tmp_path, 3)
    args = ["merge", str(source), "-o", "s3://out-bucket/out.manifest"]
    assert main([*args, "--rejects", "s3://out-bucket/rejects.jsonl"]) == 0
    assert read_object(s3, "out-bucket", "rejects.jsonl") == b""
    assert read_object(s3, "out-bucket", "out.manifest").count(b"\n") == 3
    assert s3.list_multipart_uploads(Bucket="out-bucket").get("Uploads", []) == []
