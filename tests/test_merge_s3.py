"""``gtmerge merge`` against a real S3-compatible server (moto, in its own process)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from builders import boxes, classification, line, manifest, multilabel
from conftest import put_objects, read_object

from gtmerge import merge
from gtmerge.cli import main

JOBS = {
    "jobs/species/manifests/output/output.manifest": manifest(
        line("a.jpg", classification("species", "dog")),
        line("b.jpg", classification("species", "cat", "1")),
        "not json",
    ).encode(),
    "jobs/scene/manifests/output/output.manifest": gzip.compress(
        manifest(line("a.jpg", multilabel("scene", {2: ("park", 0.8)}))).encode()
    ),
    "jobs/boxes/manifests/output/output.manifest": manifest(
        line("b.jpg", boxes("bb", [("cat", 1, 2, 30, 40)]))
    ).encode(),
    "jobs/boxes/manifests/intermediate/1/output.manifest": b"ignored by the glob\n",
}
GLOB = "s3://gt-jobs/jobs/*/manifests/output/output.manifest"


def test_s3_glob_to_s3_gives_the_same_bytes_as_local(s3: Any, tmp_path: Path) -> None:
    put_objects(s3, "gt-jobs", JOBS)
    put_objects(s3, "gt-datasets", {})
    assert main(["merge", GLOB, "-o", "s3://gt-datasets/train.manifest", "--no-progress"]) == 0
    from_s3 = read_object(s3, "gt-datasets", "train.manifest")

    local = []
    for key in sorted(k for k in JOBS if "/output/" in k):  # the glob's sorted order
        path = tmp_path / key
        path.parent.mkdir(parents=True)
        path.write_bytes(JOBS[key])
        local.append(str(path))
    merge(local, str(tmp_path / "local.manifest"))
    assert from_s3 == (tmp_path / "local.manifest").read_bytes()
    assert len(from_s3.splitlines()) == 2
    head = s3.head_object(Bucket="gt-datasets", Key="train.manifest")
    assert head["ContentType"] == "application/x-ndjson"


def test_report_names_s3_inputs_in_sorted_order(s3: Any, tmp_path: Path) -> None:
    put_objects(s3, "gt-jobs", JOBS)
    report = merge([GLOB], str(tmp_path / "out.manifest"), report=str(tmp_path / "r.json"))
    assert [entry.input for entry in report.inputs] == [
        "s3://gt-jobs/jobs/boxes/manifests/output/output.manifest",
        "s3://gt-jobs/jobs/scene/manifests/output/output.manifest",
        "s3://gt-jobs/jobs/species/manifests/output/output.manifest",
    ]
    assert json.loads((tmp_path / "r.json").read_text())["totals"]["rejected"] == 1


def test_compressed_s3_output_by_extension(s3: Any, tmp_path: Path) -> None:
    put_objects(s3, "gt-jobs", JOBS)
    merge([GLOB], "s3://gt-jobs/out/train.manifest.gz")
    body = gzip.decompress(read_object(s3, "gt-jobs", "out/train.manifest.gz"))
    assert [json.loads(x)["source-ref"] for x in body.splitlines()] == [
        "s3://gt-bucket/images/b.jpg",
        "s3://gt-bucket/images/a.jpg",
    ]


def test_failed_run_leaves_the_previous_object_and_no_upload(
    s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    put_objects(s3, "gt-jobs", {**JOBS, "out/train.manifest": b"previous\n"})
    # The species job has a bad line: --strict fails the run after the upload has started.
    code = main(["merge", GLOB, "-o", "s3://gt-jobs/out/train.manifest", "--strict"])
    assert code == 2
    assert capsys.readouterr().err == (
        "gtmerge merge: s3://gt-jobs/jobs/species/manifests/output/output.manifest:3: "
        "invalid JSON: invalid literal, expected 'null' at byte 1\n"
    )
    assert read_object(s3, "gt-jobs", "out/train.manifest") == b"previous\n"
    assert s3.list_multipart_uploads(Bucket="gt-jobs").get("Uploads", []) == []


def test_missing_object_and_bucket_are_one_line_errors(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put_objects(s3, "gt-jobs", JOBS)
    out = str(tmp_path / "out.manifest")
    assert main(["merge", "s3://gt-jobs/nope.manifest", "-o", out]) == 2
    assert capsys.readouterr().err == "gtmerge merge: s3://gt-jobs/nope.manifest: 404: Not Found\n"
    assert main(["merge", "s3://no-such-bucket/jobs/*/x.manifest", "-o", out]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gtmerge merge: s3://no-such-bucket/jobs/*/x.manifest: NoSuchBucket")
    assert err.count("\n") == 1


def test_endpoint_url_option(
    s3: Any, s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_objects(s3, "gt-jobs", JOBS)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    out = tmp_path / "out.manifest"
    args = ["merge", GLOB, "-o", str(out), "--endpoint-url", s3_endpoint]
    assert main(args) == 0
    assert len(out.read_text().splitlines()) == 2


def test_a_key_with_glob_characters_is_read_as_it_is(s3: Any, tmp_path: Path) -> None:
    key = "jobs/run[1]/output.manifest"
    put_objects(s3, "gt-jobs", {key: manifest(line("a.jpg", classification("s", "dog"))).encode()})
    out = tmp_path / "out.manifest"
    assert main(["merge", f"s3://gt-jobs/{key}", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["label0-metadata"]["class-name"] == "dog"
