"""`gtmerge validate` as a user runs it: exit statuses, text and JSON output, --annotate, S3."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from conftest import put_objects
from test_validate import boxes, classification, encode, good_lines

from gtmerge.cli import main


def write(path: Path, lines: list[dict | bytes]) -> str:
    path.write_bytes(b"".join(encode(line) + b"\n" for line in lines))
    return str(path)


@pytest.fixture
def bad_manifest(tmp_path: Path) -> str:
    lines: list[dict | bytes] = [*good_lines(16)]
    for at in (4, 9, 12):
        lines[at - 1] = classification(f"https://bucket/images/{at}.png")
    lines.append({"source-ref": "s3://bucket/images/unlabeled.png"})
    lines.append({**boxes("s3://bucket/images/b.png", [(0, 1, 1, 20, 20), (1, 630, 10, 20, 20)])})
    return write(tmp_path / "bad.manifest", lines)


def test_valid_manifest_exits_0(tmp_path, capsys):
    path = write(tmp_path / "ok.manifest", good_lines())
    assert main(["validate", path]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        f"{path} (training): 9 lines (9 valid, 0 invalid, 0 ignored), 2 labels, 9 images, "
        "use case IMAGE_LEVEL_LABELS"
    )
    assert out.splitlines()[-1] == "OK: 0 errors, 0 warnings"


def test_text_report_groups_by_code(bad_manifest, capsys):
    assert main(["validate", bad_manifest]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(
        "18 lines (14 valid, 3 invalid, 1 ignored), 2 labels, 15 images, "
        "use case IMAGE_LEVEL_LABELS"
    )
    assert lines[1] == "  ERROR_INVALID_SOURCE_REF_FORMAT  3 lines  (lines 4, 9, 12)"
    assert lines[2].startswith("      line 4: The format of the source-ref value is invalid.")
    assert lines[3] == "  ERROR_INVALID_BOUNDING_BOX  1 line  (line 18)"
    assert lines[5] == "  WARNING_UNANNOTATED_RECORD  1 line  (line 17)"
    assert lines[-1] == "INVALID: 4 errors, 1 warning"


def test_json_output(bad_manifest, capsys):
    assert main(["validate", "--json", bad_manifest]) == 1
    document = orjson.loads(capsys.readouterr().out)
    assert set(document) == {"summary", "errors", "warnings"}
    (stats,) = document["summary"]["manifests"]
    assert stats["dataset"] == "training"
    assert stats["error_json_line_indices"] == [4, 9, 12, 18]
    assert (stats["valid_json_lines"], stats["invalid_json_lines"]) == (14, 3)
    assert [(e["code"], e["line"]) for e in document["errors"]] == [
        ("ERROR_INVALID_SOURCE_REF_FORMAT", 4),
        ("ERROR_INVALID_SOURCE_REF_FORMAT", 9),
        ("ERROR_INVALID_SOURCE_REF_FORMAT", 12),
        ("ERROR_INVALID_BOUNDING_BOX", 18),
    ]
    assert document["errors"][3]["annotation"] == 1
    assert document["errors"][3]["attribute"] == "bounding-box"
    assert document["warnings"][0]["code"] == "WARNING_UNANNOTATED_RECORD"


def test_annotate_writes_findings_where_rekognition_puts_them(tmp_path, capsys):
    lines: list[dict | bytes] = [*good_lines()]
    lines[1] = b"{not json"
    lines[2] = classification("s3://bucket/images/3.png", confidence=2)
    lines[3] = boxes("s3://bucket/images/4.png", [(0, 1, 1, 20, 20), (1, 630, 10, 20, 20)])
    old = classification("s3://bucket/images/5.png", "dog")
    old["errors"] = [{"code": "ERROR_OLD", "message": "from an earlier run"}]
    lines[4] = old
    lines.append({"source-ref": "s3://bucket/images/x.png"})
    path = write(tmp_path / "in.manifest", lines)
    out = tmp_path / "annotated.manifest"
    assert main(["validate", path, "--annotate", str(out)]) == 1
    capsys.readouterr()
    written = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert len(written) == len(lines)
    assert written[0] == lines[0]
    assert [e["code"] for e in written[1]["errors"]] == ["ERROR_INVALID_JSON_LINE"]
    assert set(written[1]) == {"errors"}
    assert [e["code"] for e in written[2]["animal-metadata"]["errors"]] == [
        "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"
    ]
    box = written[3]["bounding-box"]["annotations"]
    assert "errors" not in box[0]
    assert [e["code"] for e in box[1]["errors"]] == ["ERROR_INVALID_BOUNDING_BOX"]
    assert "errors" not in written[4]  # stale findings of an earlier validation are dropped
    assert written[-1]["warnings"] == [
        {"code": "WARNING_UNANNOTATED_RECORD", "message": "Record is unannotated."}
    ]


def test_missing_manifest_exits_2_with_one_line(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.manifest")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"gtmerge validate: {tmp_path / 'nope.manifest'}: no such file\n"


def test_test_manifest_overlap_and_shared_images(tmp_path, capsys):
    train = [classification(f"s3://bucket/t/{n}.png", f"label{n % 4}") for n in range(8)]
    test = [classification(f"s3://bucket/e/{n}.png", "label0") for n in range(3)]
    test.append(classification("s3://bucket/t/5.png", "other"))
    args = [
        "validate",
        "--json",
        write(tmp_path / "train.manifest", train),
        "--test",
        write(tmp_path / "test.manifest", test),
    ]
    assert main(args) == 1
    document = orjson.loads(capsys.readouterr().out)
    assert [(e["code"], e["line"], e["manifest"]) for e in document["errors"]] == [
        ("ERROR_INSUFFICIENT_LABEL_OVERLAP", None, None)
    ]
    assert "1 of the 4 training labels" in document["errors"][0]["message"]
    assert [(w["code"], w["line"]) for w in document["warnings"]] == [
        ("WARNING_IMAGE_IN_TRAINING_AND_TEST", 4)
    ]
    assert [m["dataset"] for m in document["summary"]["manifests"]] == ["training", "testing"]


def test_max_lines_raises_the_quota(tmp_path, capsys):
    path = write(tmp_path / "m.manifest", good_lines(12))
    assert main(["validate", path, "--max-lines", "10"]) == 1
    assert "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM" in capsys.readouterr().out
    assert main(["validate", path, "--max-lines", "12"]) == 0


def test_compressed_manifest_in_s3(s3, capsys):
    body = gzip.compress(b"".join(orjson.dumps(line) + b"\n" for line in good_lines()))
    put_objects(s3, "manifests-bucket", {"train/output.manifest": body})
    assert main(["validate", "s3://manifests-bucket/train/output.manifest"]) == 0
    assert "9 lines (9 valid" in capsys.readouterr().out


def test_unreachable_bucket_exits_2(s3, capsys):
    assert main(["validate", "s3://no-such-bucket/output.manifest"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gtmerge validate: s3://no-such-bucket/output.manifest: ")
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_check_images_from_the_command_line(s3, tmp_path, capsys):
    from test_validate_images import gif, png

    images = {f"ok/{n}.png": png(100, 100) for n in range(12)}
    images |= {"animated.gif": gif(100, 100), "tiny.png": png(32, 32)}
    put_objects(s3, "images-bucket", images)
    refs = [*images, "missing.png"]
    lines = [
        classification(f"s3://images-bucket/{k}", "cat" if n % 2 else "dog")
        for n, k in enumerate(refs)
    ]
    path = write(tmp_path / "m.manifest", lines)
    assert main(["validate", path, "--check-images", "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "  ERROR_INVALID_IMAGE  3 lines  (lines 13, 14, 15)" in out


def test_runs_as_a_module(tmp_path, bad_manifest):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "-m", "gtmerge", "validate", "--json", bad_manifest],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert len(orjson.loads(done.stdout)["errors"]) == 4
    assert done.stderr == b""
