"""``gtmerge merge`` end to end on local files: output lines, report, rejects, failures."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from builders import boxes, classification, line, manifest, multilabel, verification

from gtmerge import merge
from gtmerge.cli import main

SPECIES = manifest(
    line("a.jpg", classification("species", "dog", 0, confidence=0.0)),
    line("b.jpg", classification("species", "cat", "1")),
    line("a.jpg", classification("species", "dog", 0, confidence=0.0)),  # duplicate line
    "",
    '{"source-ref": "s3://gt-bucket/images/c.jpg", "species": 0, ',  # truncated
)
SCENE = manifest(
    line(
        "https://gt-bucket.s3.us-west-2.amazonaws.com/images/a.jpg",
        multilabel("scene", {1: ("outdoor", 0.9), 0: ("dog", 0.5)}),
    ),
    line("c.jpg", multilabel("scene", {})),
)
BOXES = manifest(
    line(
        "b.jpg",
        boxes("bb", [("cat", 10, 20, 30, 40)]),
        boxes("bb-adjusted", [("cat", 12, 20, 30, 40)], adjustment="adjusted"),
        verification("verify", "good"),
    ),
)


def write(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def three_jobs(tmp_path: Path) -> list[str]:
    return [
        write(tmp_path, "species/output.manifest", SPECIES),
        write(tmp_path, "scene/output.manifest", SCENE),
        write(tmp_path, "boxes/output.manifest", BOXES),
    ]


def read_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(text) for text in path.read_text(encoding="utf-8").splitlines()]


def test_every_image_is_one_line_with_the_union_of_its_labels(tmp_path: Path) -> None:
    out = tmp_path / "out.manifest"
    assert main(["merge", *three_jobs(tmp_path), "-o", str(out)]) == 0
    a, b, c = read_lines(out)
    assert a == {
        "source-ref": "s3://gt-bucket/images/a.jpg",
        "label0": 0,
        "label0-metadata": {
            "confidence": 0.0,
            "job-name": "labeling-job/species",
            "class-name": "dog",
            "human-annotated": "yes",
            "creation-date": "2018-10-18T22:18:13.527256",
            "type": "groundtruth/image-classification",
        },
        "label1": 1,
        "label1-metadata": {
            "confidence": 0.9,
            "job-name": "labeling-job/scene",
            "class-name": "outdoor",
            "human-annotated": "yes",
            "creation-date": "2020-02-27T21:36:25.000201",
            "type": "groundtruth/image-classification",
        },
    }
    assert b["label0-metadata"]["class-name"] == "cat"  # type: ignore[index]
    assert b["bounding-box0"] == {
        "image_size": [{"width": 640, "height": 480, "depth": 3}],
        "annotations": [{"class_id": 0, "top": 20, "left": 12, "width": 30, "height": 40}],
    }
    assert "bounding-box1" not in b  # the adjusted set replaced the original
    assert b["bounding-box0-metadata"]["class-map"] == {"0": "cat"}  # type: ignore[index]
    assert c == {"source-ref": "s3://gt-bucket/images/c.jpg"}


def test_output_is_compact_utf8_with_fixed_key_order(tmp_path: Path) -> None:
    source = write(
        tmp_path, "in.manifest", manifest(line("猫.jpg", classification("s", "chat noir")))
    )
    out = tmp_path / "out.manifest"
    merge([source], str(out))
    assert (
        out.read_bytes()
        == (
            '{"source-ref":"s3://gt-bucket/images/猫.jpg","label0":0,"label0-metadata":'
            '{"confidence":0.9,"job-name":"labeling-job/species","class-name":"chat noir",'
            '"human-annotated":"yes","creation-date":"2018-10-18T22:18:13.527256",'
            '"type":"groundtruth/image-classification"}}\n'
        ).encode()
    )


def test_report_accounts_for_every_line(tmp_path: Path) -> None:
    out, report_path = tmp_path / "out.manifest", tmp_path / "report.json"
    merge(three_jobs(tmp_path), str(out), report=str(report_path))
    report = json.loads(report_path.read_text())
    species, scene, box_job = report["inputs"]
    assert species == {
        "input": str(tmp_path / "species/output.manifest"),
        "mapping": "groundtruth",
        "lines": 5,
        "used": 2,
        "duplicates": 1,
        "rejected": 1,
        "skipped": 1,
        "rejected_by_reason": {"invalid JSON": 1},
        "dropped_attributes": 0,
        "dropped_attributes_by_reason": {},
    }
    for entry in report["inputs"]:
        assert entry["lines"] == (
            entry["used"] + entry["duplicates"] + entry["rejected"] + entry["skipped"]
        )
    assert (scene["lines"], scene["used"], box_job["used"]) == (2, 2, 1)
    assert report["totals"]["lines"] == 8
    assert report["images_written"] == 3
    assert report["labels_per_class"] == {"cat": 1, "dog": 1, "outdoor": 1}
    assert report["boxes_per_class"] == {"cat": 1}
    assert report["verification_verdicts"] == {"verify-bounding-boxes": {"good": 1}}
    assert report["warnings"] == [
        {
            "code": "WARNING_UNANNOTATED_RECORD",
            "count": 1,
            "message": "Record is unannotated.",
            "lines": [3],
        }
    ]


def test_rejects_file_has_file_line_reason_and_raw_text(tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.jsonl"
    inputs = three_jobs(tmp_path)
    merge(inputs, str(tmp_path / "out.manifest"), rejects=str(rejects))
    assert read_lines(rejects) == [
        {
            "file": inputs[0],
            "line": 5,
            "reason": "invalid JSON: unexpected end of data at byte 62",
            "raw": '{"source-ref": "s3://gt-bucket/images/c.jpg", "species": 0, ',
        }
    ]


def test_same_class_from_two_jobs_is_one_label_keeping_the_human_one(tmp_path: Path) -> None:
    machine = classification("s", "dog", confidence=0.99, human="no", job="auto")
    human = classification("t", "dog", confidence=0.5, human="yes", job="people")
    source = write(tmp_path, "in.manifest", manifest(line("a.jpg", machine), line("a.jpg", human)))
    out = tmp_path / "out.manifest"
    merge([source], str(out))
    [image] = read_lines(out)
    assert image["label0-metadata"]["job-name"] == "people"  # type: ignore[index]
    assert "label1" not in image


def test_adjusted_boxes_replace_the_original_job_output_given_separately(tmp_path: Path) -> None:
    original = boxes("bb", [("cat", 10, 20, 30, 40)])
    adjusted = boxes("bb-adj", [("cat", 12, 20, 30, 40)], adjustment="adjusted")
    first = write(tmp_path, "boxes.manifest", manifest(line("b.jpg", original)))
    chained = write(tmp_path, "adjust.manifest", manifest(line("b.jpg", original, adjusted)))
    out = tmp_path / "out.manifest"
    merge([first, chained], str(out))
    [image] = read_lines(out)
    assert image["bounding-box0"]["annotations"][0]["left"] == 12  # type: ignore[index]
    assert "bounding-box1" not in image


def test_attribute_names_are_configurable(tmp_path: Path) -> None:
    source = write(tmp_path, "in.manifest", manifest(line("a.jpg", classification("s", "dog"))))
    out = tmp_path / "out.manifest"
    assert main(["merge", source, "-o", str(out), "--attribute", "sport"]) == 0
    assert list(read_lines(out)[0]) == ["source-ref", "sport0", "sport0-metadata"]


def test_same_inputs_give_the_same_bytes(tmp_path: Path) -> None:
    inputs = three_jobs(tmp_path)
    merge(inputs, str(tmp_path / "one.manifest"))
    merge(inputs, str(tmp_path / "two.manifest"))
    assert (tmp_path / "one.manifest").read_bytes() == (tmp_path / "two.manifest").read_bytes()


def test_glob_inputs_and_compressed_input_without_extension(tmp_path: Path) -> None:
    write(tmp_path, "jobs/1/output.manifest", manifest(line("a.jpg", classification("s", "dog"))))
    packed = tmp_path / "jobs/2/output.manifest"
    packed.parent.mkdir(parents=True)
    packed.write_bytes(gzip.compress(manifest(line("a.jpg", classification("t", "cat"))).encode()))
    out = tmp_path / "out.manifest.gz"
    merge([str(tmp_path / "jobs/*/output.manifest")], str(out))
    [image] = [json.loads(x) for x in gzip.decompress(out.read_bytes()).splitlines()]
    assert [image["label0-metadata"]["class-name"], image["label1-metadata"]["class-name"]] == [
        "dog",
        "cat",
    ]


def test_strict_stops_at_the_first_bad_record_and_keeps_the_destination(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.manifest"
    out.write_text("previous\n")
    inputs = three_jobs(tmp_path)
    assert main(["merge", *inputs, "-o", str(out), "--strict"]) == 2
    assert capsys.readouterr().err == (
        f"gtmerge merge: {inputs[0]}:5: invalid JSON: unexpected end of data at byte 62\n"
    )
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "boxes",
        "out.manifest",
        "scene",
        "species",
    ]


def test_missing_input_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.manifest"
    assert main(["merge", str(missing), "-o", str(tmp_path / "out.manifest")]) == 2
    assert capsys.readouterr().err == f"gtmerge merge: {missing}: no such file\n"
    assert not (tmp_path / "out.manifest").exists()


def test_refuses_to_write_over_an_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write(tmp_path, "in.manifest", manifest(line("a.jpg")))
    assert main(["merge", source, "-o", source]) == 2
    assert "refusing to overwrite one of the inputs" in capsys.readouterr().err
    assert Path(source).read_text() == manifest(line("a.jpg"))


def test_summary_goes_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["merge", *three_jobs(tmp_path), "-o", str(tmp_path / "out.manifest")])
    err = capsys.readouterr().err
    assert "8 records → 3 images written to" in err
    assert "rejected 1: invalid JSON" in err
    assert "verification verify-bounding-boxes: good 1 (applied)" in err


def test_stdin_to_stdout_as_a_real_process(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gtmerge", "merge", "-", "-o", "-"],
        input=manifest(line("a.jpg", classification("s", "dog"))).encode(),
        capture_output=True,
        check=True,
    )
    assert json.loads(done.stdout)["label0-metadata"]["class-name"] == "dog"
    assert b"Traceback" not in done.stderr


def test_fail_on_invalid_keeps_the_destination(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    two_buckets = manifest(
        line("s3://bucket-one/a.jpg", classification("s", "dog")),
        line("s3://bucket-two/b.jpg", classification("s", "cat")),
    )
    source = write(tmp_path, "in.manifest", two_buckets)
    out = tmp_path / "out.manifest"
    out.write_text("previous\n")
    assert main(["merge", source, "-o", str(out), "--report", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert [w["code"] for w in report["warnings"]] == ["ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS"]
    out.write_text("previous\n")
    assert main(["merge", source, "-o", str(out), "--fail-on-invalid"]) == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith(f"gtmerge merge: {out}: the merged manifest is not valid for Rekognition")
    assert "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS" in err
    assert out.read_text() == "previous\n"


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".zst", ".xz"])
def test_every_codec_round_trips_whatever_the_input_is_named(tmp_path: Path, suffix: str) -> None:
    text = manifest(line("a.jpg", classification("s", "dog")))
    packed = tmp_path / f"packed{suffix}"
    merge([write(tmp_path, "plain.manifest", text)], str(packed))
    disguised = tmp_path / "output.manifest"  # Ground Truth's name, whatever the codec
    disguised.write_bytes(packed.read_bytes())
    assert not packed.read_bytes().startswith(b"{")
    out = tmp_path / "out.manifest"
    merge([str(disguised)], str(out))
    assert read_lines(out)[0]["label0-metadata"]["class-name"] == "dog"  # type: ignore[index]


def test_report_counts_every_finding_but_keeps_a_sample(tmp_path: Path) -> None:
    unlabeled = manifest(*(line(f"img{n}.jpg") for n in range(1500)))
    report_path = tmp_path / "report.json"
    merge(
        [write(tmp_path, "in.manifest", unlabeled)], str(tmp_path / "out"), report=str(report_path)
    )
    report = json.loads(report_path.read_text())
    codes = {finding["code"]: finding for finding in report["warnings"]}
    assert set(codes) == {"ERROR_MANIFEST_TOO_FEW_LABELS", "WARNING_UNANNOTATED_RECORD"}
    warning = codes["WARNING_UNANNOTATED_RECORD"]
    assert (warning["code"], warning["count"], warning["lines"]) == (
        "WARNING_UNANNOTATED_RECORD",
        1500,
        list(range(1, 11)),
    )
    assert len(report["validation"]["warnings"]) == 1000
    assert report["validation"]["summary"]["images"] == 1500


def test_a_missing_directory_fails_before_anything_is_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write(tmp_path, "in.manifest", manifest(line("a.jpg", classification("s", "dog"))))
    out = tmp_path / "keep.manifest"
    out.write_text("previous\n")
    report = tmp_path / "missing" / "report.json"
    assert main(["merge", source, "-o", str(out), "--report", str(report)]) == 2
    assert capsys.readouterr().err == (
        f"gtmerge merge: {report}: no such directory: {report.parent}\n"
    )
    assert out.read_text() == "previous\n"


def test_stdout_cannot_take_two_outputs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = write(tmp_path, "in.manifest", manifest(line("a.jpg")))
    assert main(["merge", source, "-o", "-", "--rejects", "-"]) == 2
    assert "-: every output needs distinct files" in capsys.readouterr().err


def test_folders_named_key_equals_value_are_paths_not_mappings(tmp_path: Path) -> None:
    write(tmp_path, "date=2024-01-01/output.manifest", manifest(line("a.jpg")))
    out = tmp_path / "out.manifest"
    assert main(["merge", str(tmp_path / "date=*/output.manifest"), "-o", str(out)]) == 0
    assert read_lines(out) == [{"source-ref": "s3://gt-bucket/images/a.jpg"}]


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".zst", ".xz"])
@pytest.mark.parametrize("damage", ["truncated", "garbled"])
def test_a_damaged_compressed_input_is_named_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str, damage: str
) -> None:
    packed = tmp_path / f"packed{suffix}"
    rows = [line(f"{n}.jpg", classification("s", "dog")) for n in range(2000)]
    merge([write(tmp_path, "plain.manifest", manifest(*rows))], str(packed))
    data = packed.read_bytes()
    broken = tmp_path / "output.manifest"
    # the codec's magic bytes stay, so the input is still recognised as compressed
    broken.write_bytes(data[: len(data) // 2] if damage == "truncated" else data[:6] + b"x" * 64)
    out = tmp_path / "out.manifest"
    out.write_text("previous\n")
    assert main(["merge", f"groundtruth={broken}", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"gtmerge merge: {broken}: cannot decompress: "), err
    assert len(err.splitlines()) == 1
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["packed" + suffix, "plain.manifest", "output.manifest", "out.manifest"]
    )
