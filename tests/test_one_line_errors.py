"""Inputs and settings that used to end in a traceback or a wrong answer (issue #11, items 13
to 19): each now ends with exit 0, 1 or 2 as documented and at most one line of error."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from builders import classification, line
from procs import gtmerge_command, time_limit
from test_data_loss import write
from test_faults import _closed_port
from test_validate_images import manifest_for, png, upload

from gtmerge.cli import main


def rejects_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(text) for text in path.read_text().splitlines()]


# --- 13. tracebacks ------------------------------------------------------------------------


def coco(width: object, bbox: list[object]) -> str:
    return json.dumps(
        {
            "images": [
                {"id": 1, "file_name": "a.jpg", "width": width, "height": 100},
                {"id": 2, "file_name": "b.jpg", "width": 100, "height": 100},
            ],
            "annotations": [
                {"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]},
                {"image_id": 2, "category_id": 1, "bbox": bbox},
            ],
            "categories": [{"id": 1, "name": "cat"}],
        }
    )


@pytest.mark.parametrize(
    ("width", "height", "reasons"),
    [
        (
            1e20,
            1e300,
            [
                "boxes.image_size.width: 1e+20 is out of range (over 2**53) (expression: width)",
                "boxes[0].height: 1e+300 is out of range (over 2**53) (expression: bbox[3])",
            ],
        ),
        (
            2**53 + 2,
            5,
            [
                "boxes.image_size.width: 9007199254740994 is out of range (over 2**53) "
                "(expression: width)"
            ],
        ),
    ],
)
def test_huge_numbers_in_an_export_are_rejected_not_a_traceback(
    tmp_path: Path, width: object, height: object, reasons: list[str]
) -> None:
    source = write(tmp_path, "coco.json", coco(width, [1, 2, 3, height]))
    out, rejects = tmp_path / "out.manifest", tmp_path / "rejects.jsonl"
    args = ["merge", f"coco={source}", "--image-root", "s3://bucket/", "-o", str(out)]
    assert main([*args, "--rejects", str(rejects)]) == 0
    assert [entry["reason"] for entry in rejects_of(rejects)] == reasons
    assert out.read_text().count("\n") == 2 - len(reasons)


def test_a_label_studio_box_that_converts_to_infinity_is_rejected(tmp_path: Path) -> None:
    """14: x = 1e308 % of 500 px was written as "left": null and counted as used."""
    task = {
        "data": {"image": "s3://bucket/a.jpg"},
        "annotations": [
            {
                "result": [
                    {
                        "type": "rectanglelabels",
                        "original_width": 500,
                        "original_height": 400,
                        "value": {
                            "x": 1e308,
                            "y": 1,
                            "width": 2,
                            "height": 3,
                            "rectanglelabels": ["cat"],
                        },
                    }
                ]
            }
        ],
    }
    source = write(tmp_path, "ls.json", json.dumps([task]))
    out, rejects = tmp_path / "out.manifest", tmp_path / "rejects.jsonl"
    assert main(["merge", f"labelstudio={source}", "-o", str(out), "--rejects", str(rejects)]) == 0
    assert [entry["reason"] for entry in rejects_of(rejects)] == [
        "boxes[0].left: 1e+308 is out of range (over 2**53) (expression: (value || @).x)"
    ]
    assert out.read_text() == ""


def run(*args: str, stdin: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        gtmerge_command(*args),
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_stdin_twice_or_closed_is_one_line(tmp_path: Path) -> None:
    source = write(tmp_path, "in.manifest", line("a.jpg", classification("s", "dog")) + "\n")
    out = str(tmp_path / "out.manifest")
    with open(source) as stdin:
        twice = run("merge", "-", "-", "-o", out, stdin=stdin.fileno())
    assert (twice.returncode, twice.stderr) == (
        2,
        "gtmerge merge: -: standard input can be read only once\n",
    )
    closed = subprocess.run(
        ["sh", "-c", 'exec "$@" <&-', "sh", *gtmerge_command("merge", "-", "-o", out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (closed.returncode, closed.stderr) == (2, "gtmerge merge: -: standard input is closed\n")
    assert not Path(out).exists()


def test_a_bucket_without_a_slash_is_the_whole_bucket(s3: Any, tmp_path: Path) -> None:
    """Like ``s3://whole/``: a prefix, read as a folder of images."""
    s3.create_bucket(Bucket="whole")
    s3.put_object(Bucket="whole", Key="cat/a.jpg", Body=b"")
    out = tmp_path / "out.manifest"
    assert main(["merge", "s3://whole", "-o", str(out)]) == 0
    (written,) = (json.loads(text) for text in out.read_text().splitlines())
    assert written["source-ref"] == "s3://whole/cat/a.jpg"
    assert written["label0-metadata"]["class-name"] == "cat"


# --- 17. --check-images that cannot reach S3 --------------------------------------------------


def test_check_images_that_cannot_reach_s3_could_not_run(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    images = {f"ok/{n}.png": png(640, 480) for n in range(12)}
    upload(s3, images)
    path = tmp_path / "m.manifest"
    path.write_bytes(manifest_for(images))
    assert main(["validate", str(path), "--check-images"]) == 0  # reachable: all fine
    capsys.readouterr()
    endpoint = _closed_port()
    assert main(["validate", str(path), "--check-images", "--endpoint-url", endpoint]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("gtmerge validate: s3://")
    assert f': cannot check the image: Could not connect to the endpoint URL: "{endpoint}/' in err
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["validate", str(path), "--check-images"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.endswith(": cannot check the image: Unable to locate credentials\n")


# --- 18. a dangling symlink in a folder input -------------------------------------------------


def test_a_dangling_symlink_in_a_folder_is_rejected_and_the_rest_merged(tmp_path: Path) -> None:
    for name in ("cat/a.jpg", "dog/b.jpg"):
        (tmp_path / "in" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / name).write_bytes(b"")
    (tmp_path / "in" / "dog" / "c.jpg").symlink_to(tmp_path / "nowhere.jpg")
    out, rejects = tmp_path / "out.manifest", tmp_path / "rejects.jsonl"
    args = ["merge", f"folders={tmp_path / 'in'}", "--image-root", "s3://bucket/images/"]
    assert main([*args, "-o", str(out), "--rejects", str(rejects)]) == 0
    assert rejects_of(rejects) == [
        {
            "file": str(tmp_path / "in"),
            "line": 3,
            "reason": "cannot read the file: a symbolic link to nothing",
            "raw": "dog/c.jpg",
        }
    ]
    assert out.read_text().count("\n") == 2


# --- 19. smaller ones -------------------------------------------------------------------------


def csv_merge(tmp_path: Path, data: bytes, *extra: str) -> tuple[int, Path]:
    source = tmp_path / "in.csv"
    source.write_bytes(data)
    rejects = tmp_path / "rejects.jsonl"
    args = ["merge", f"csv={source}", "--image-root", "s3://bucket/images/"]
    code = main([*args, "-o", str(tmp_path / "out.manifest"), "--rejects", str(rejects), *extra])
    return code, rejects


def test_a_csv_decoding_error_names_its_own_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = csv_merge(tmp_path, b"image,label\na.jpg,cat\n\xff.jpg,dog\n")
    assert code == 2
    assert capsys.readouterr().err == (
        f"gtmerge merge: {tmp_path / 'in.csv'}: line 3 is not utf-8-sig text; "
        "set records.encoding in the mapping\n"
    )


def test_an_unclosed_quote_is_rejected_where_it_opened(tmp_path: Path) -> None:
    tail = b"".join(b"x%d.jpg,cat\n" % n for n in range(30_000))  # past csv's field limit
    code, rejects = csv_merge(tmp_path, b'image,label\na.jpg,cat\n"b.jpg,dog\n' + tail)
    assert code == 0
    (entry, *more) = rejects_of(rejects)
    assert entry["line"] == 3
    assert entry["reason"] == (
        "field larger than field limit (131072); does the quote opened on line 3 ever close?"
    )
    assert all(later["line"] > 3 for later in more)


def test_a_nul_in_an_image_name_is_rejected_by_merge_and_by_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, rejects = csv_merge(tmp_path, b"image,label\na\x00.jpg,cat\nb.jpg,dog\n")
    assert code == 0
    assert [entry["reason"] for entry in rejects_of(rejects)] == [
        "image: source-ref 's3://bucket/images/a\\x00.jpg' contains a control character "
        "(U+0000) (expression: trim([0]))"
    ]
    good = line("a.jpg", classification("s", "dog"))
    nul = good.replace("a.jpg", "a\\u0000.jpg")
    manifest_path = write(tmp_path, "m.manifest", f"{good}\n{nul}\n")
    assert main(["validate", "--json", str(manifest_path)]) == 1
    errors = json.loads(capsys.readouterr().out)["errors"]
    (error,) = (e for e in errors if e["line"] is not None)
    assert error["code"] == "ERROR_INVALID_SOURCE_REF_FORMAT"
    assert error["line"] == 2
    assert "contains a control character (U+0000)" in error["message"]


def test_rows_over_the_line_limit_or_too_wide_are_rejected_in_bounded_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gtmerge.mapping.records.MAX_LINE_BYTES", 1 << 16)
    monkeypatch.setattr("gtmerge.mapping.records.MAX_CSV_CELLS", 1000)
    data = b"".join(
        [
            b"image,label\na.jpg,cat\n",
            b"b.jpg," + b"x" * (1 << 17) + b"\n",  # line 3: one line over the limit
            b"d.jpg" + b",z" * 2000 + b"\n",  # line 4: too many cells
            b"e.jpg,dog\n",
            b'c.jpg,"' + b"y\n" * (1 << 15),  # line 6: a row whose lines add up over it
        ]
    )
    code, rejects = csv_merge(tmp_path, data)
    assert code == 0
    reasons = [(entry["line"], entry["reason"]) for entry in rejects_of(rejects)]
    assert reasons[:3] == [
        (3, "line too long: over the reader's line limit"),
        (4, "the row has over 1,000 cells"),
        (6, "row too long: its lines are over the reader's line limit"),
    ]
    out = (tmp_path / "out.manifest").read_text()
    assert "a.jpg" in out and "e.jpg" in out


def test_fail_on_invalid_names_no_line_for_a_manifest_level_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = csv_merge(tmp_path, b"a.jpg,cat\n", "--fail-on-invalid")
    assert code == 1
    err = capsys.readouterr().err
    assert "on line None" not in err
    assert err == (
        f"gtmerge merge: {tmp_path / 'out.manifest'}: the merged manifest is not valid for "
        "Rekognition (1 errors, first: ERROR_MANIFEST_TOO_FEW_LABELS); nothing was written\n"
    )


# --- 15. a manifest whose first line looks like CSV -----------------------------------------


@pytest.mark.parametrize("name", ["output.manifest", "output.txt"])
@pytest.mark.parametrize("first", ["image,label", "s3://bucket/x.jpg,cat"])
def test_a_manifest_whose_first_line_looks_like_csv_is_still_a_manifest(
    tmp_path: Path, name: str, first: str
) -> None:
    lines = [line(f"{n}.jpg", classification("s", f"c{n % 2}")) for n in range(3)]
    source = write(tmp_path, name, "\n".join([first, *lines]) + "\n")
    out, rejects = tmp_path / "out.manifest", tmp_path / "rejects.jsonl"
    assert main(["merge", str(source), "-o", str(out), "--rejects", str(rejects)]) == 0
    assert out.read_text().count("\n") == 3
    assert [entry["line"] for entry in rejects_of(rejects)] == [1]


# --- 16. CSV on standard input ------------------------------------------------------------


def test_csv_on_stdin_is_read_as_a_file_with_the_time_it_is_read(tmp_path: Path) -> None:
    source = write(tmp_path, "in.csv", "a.jpg,cat\nb.jpg,dog\n")
    with open(source) as stdin:
        done = run(
            "merge", "csv=-", "--image-root", "s3://bucket/i/", "-o", "-", stdin=stdin.fileno()
        )
    assert done.returncode == 0, done.stderr
    written = [json.loads(text) for text in done.stdout.splitlines()]
    assert [image["source-ref"] for image in written] == [
        "s3://bucket/i/a.jpg",
        "s3://bucket/i/b.jpg",
    ]
    dates = {image["label0-metadata"]["creation-date"] for image in written}
    (date,) = dates
    assert datetime.fromisoformat(date) > datetime.now() - timedelta(days=1)


# --- 12. mapping YAML built from nested aliases; long values in errors -----------------------

LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{level}: &{level} [{', '.join([f'*{previous}'] * 9)}]\n"
    for previous, level in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    ("yaml_text", "error"),
    [
        (
            LAUGHS + "records: *i\n",
            "over 10,000 YAML nodes once its aliases are expanded; a mapping needs a few hundred",
        ),
        (
            "image: x\nrecords: {format: " + "x" * 1_000_000 + "}\n",
            "records.format: expected one of jsonl, json, csv, listing, got '" + "x" * 80 + "…'",
        ),
        (
            "image: x\nrecords: {format: [" + ", ".join(["[1, 2, 3]"] * 1_000) + "]}\n",
            "records.format: expected one of jsonl, json, csv, listing, got [[1, 2, 3], "
            "[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3], ...]",
        ),
    ],
    ids=["billion-laughs", "long-text", "long-list"],
)
def test_a_hostile_mapping_is_refused_in_one_short_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], yaml_text: str, error: str
) -> None:
    mapping = write(tmp_path, "m.yaml", yaml_text)
    source = write(tmp_path, "in.json", "[]")
    assert main(["merge", f"{mapping}={source}", "-o", str(tmp_path / "out.manifest")]) == 2
    assert capsys.readouterr().err == f"gtmerge merge: {mapping}: {error}\n"


# --- 9. validate reads through the same line limit ------------------------------------------


def test_validate_rejects_a_line_over_the_limit_without_holding_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = [line(f"{n}.jpg", classification("s", f"c{n % 2}")) for n in range(9)]
    overlong = b'{"source-ref": "' + b"x" * (17 << 20) + b'"}\n'
    path = tmp_path / "m.manifest"
    path.write_bytes("\n".join(good[:4]).encode() + b"\n" + overlong + "\n".join(good[4:]).encode())
    annotated = tmp_path / "annotated.manifest"
    assert main(["validate", "--json", str(path), "--annotate", str(annotated)]) == 1
    document = json.loads(capsys.readouterr().out)
    (error,) = (e for e in document["errors"] if e["line"] is not None)
    assert (error["code"], error["line"]) == ("ERROR_LINE_TOO_LONG", 5)
    assert f"It has {len(overlong):,} bytes, over the 16 MiB gtmerge reads." in error["message"]
    written = annotated.read_bytes().splitlines()
    assert len(written) == 10
    assert json.loads(written[4])["errors"][0]["code"] == "ERROR_LINE_TOO_LONG"
    assert written[:4] + written[5:] == [text.encode() for text in good]


# --- 7. nesting --------------------------------------------------------------------------------


def deep(levels: int, inner: str = "") -> str:
    return "[" * levels + inner + "]" * levels


@pytest.mark.parametrize("mapping", ["coco=", ""], ids=["coco", "detected"])
def test_a_record_nested_past_the_limit_is_rejected_and_the_rest_merged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mapping: str
) -> None:
    document = coco("W", [1, 2, 3, 4]).replace('"W"', deep(20_000))  # 40 KB: it cost 1 GB
    source = write(tmp_path, "deep.json", document)
    out, rejects = tmp_path / "out.manifest", tmp_path / "rejects.jsonl"
    args = ["merge", f"{mapping}{source}", "--image-root", "s3://bucket/", "--rejects"]
    assert main([*args, str(rejects), "-o", str(out)]) == 0
    assert "2 records, 1 used, 0 duplicate, 1 rejected" in capsys.readouterr().err
    (entry,) = rejects_of(rejects)
    assert (entry["line"], entry["reason"], entry["raw"]) == (
        1,
        "nested deeper than 1024 levels",
        "",
    )
    (line,) = out.read_text().splitlines()
    assert json.loads(line)["source-ref"] == "s3://bucket/b.jpg"


def test_a_label_studio_field_nested_300_levels_is_rejected_with_a_reason(tmp_path: Path) -> None:
    task = (
        '[{"data": {"image": "s3://bucket/a.jpg"}, "annotations": [{"result": [{"type": '
        f'"choices", "value": {{"choices": {deep(300, chr(34) + "cat" + chr(34))}}}}}]}}]}}]'
    )
    source = write(tmp_path, "ls.json", task)
    out, rejects = tmp_path / "out.manifest", tmp_path / "rejects.jsonl"
    assert main(["merge", f"labelstudio={source}", "-o", str(out), "--rejects", str(rejects)]) == 0
    (entry,) = rejects_of(rejects)
    assert entry["reason"].startswith("labels.name: expected text, got [[[[...]]]]")
    assert len(entry["raw"]) < 400


def deep_objects(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


@pytest.mark.parametrize(
    "report",
    [
        {"consolidation": {"policy": "POLICY"}},  # formatted as text: a RecursionError
        {"inputs": [{"input": "a", "mapping": "POLICY"}]},  # a table cell: orjson's limit
    ],
    ids=["consolidation", "inputs"],
)
@pytest.mark.parametrize("levels", [300, 1000])
def test_a_merge_report_nested_deeper_than_gtmerge_writes_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], report: dict[str, Any], levels: int
) -> None:
    manifest = write(tmp_path, "in.manifest", line("a.jpg", classification("species", "dog")))
    path = write(tmp_path, "r.json", json.dumps(report).replace('"POLICY"', deep_objects(levels)))
    page = tmp_path / "page.html"
    args = ["stats", str(manifest), "--merge-report", str(path), "--html", str(page)]
    assert main(args) == 2
    assert capsys.readouterr().err == (
        f"gtmerge stats: {path}: not a merge report "
        "(nested deeper than the 255 levels gtmerge writes)\n"
    )
    assert not page.exists()


#: A line orjson reads (up to 1024 levels) but cannot write back (over 255).
DEEP_LINE = '{"source-ref": "s3://bucket/a.jpg", "label": ' + deep_objects(900) + "}"


def test_annotate_keeps_a_line_nested_deeper_than_gtmerge_writes_with_its_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It was a TypeError traceback: the findings are appended to the line as it was."""
    other = line("b.jpg", classification("species", "dog"))
    source = write(tmp_path, "deep.manifest", f"{DEEP_LINE}\n{other}\n")
    annotated = tmp_path / "annotated.manifest"
    assert main(["validate", str(source), "--annotate", str(annotated)]) == 1
    assert capsys.readouterr().err == ""
    first, second = annotated.read_bytes().splitlines()
    assert first.startswith(DEEP_LINE[:-1].encode() + b',"errors":[{"code":"')
    assert [e["code"] for e in json.loads(first)["errors"]] == ["ERROR_NO_LABEL_ATTRIBUTES"]
    assert json.loads(second) == json.loads(other)


def test_split_refuses_a_group_path_value_nested_deeper_than_gtmerge_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = line("b.jpg", classification("species", "dog"))
    source = write(tmp_path, "deep.manifest", f"{other}\n{DEEP_LINE}\n")
    train, test = tmp_path / "train.manifest", tmp_path / "test.manifest"
    args = ["split", str(source), "-o", str(train), "--test-output", str(test)]
    assert main([*args, "--group-path", "label"]) == 2
    assert capsys.readouterr().err == (
        f"gtmerge split: {source}:2: the --group-path value is nested deeper than the 255 "
        "levels gtmerge writes\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep.manifest"]


@pytest.mark.parametrize("command", ["validate", "merge"])
def test_a_label_value_nested_a_thousand_levels_is_described_not_recursed_into(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """The value of a classification attribute nested 1,000 levels (orjson reads it): the
    message that quotes it ran into Python's recursion limit (a RecursionError traceback)."""
    metadata = json.loads(line("x.jpg", classification("species", "cat")))["species-metadata"]
    deep = (
        '{"source-ref": "s3://bucket/a.jpg", "species": '
        + deep_objects(1000)
        + ', "species-metadata": '
        + json.dumps(metadata)
        + "}"
    )
    source = write(
        tmp_path,
        "deep.manifest",
        deep + "\n" + line("b.jpg", classification("species", "dog")) + "\n",
    )
    rejects = tmp_path / "rejects.jsonl"
    args = (
        [str(source), "--json"]
        if command == "validate"
        else [str(source), "-o", str(tmp_path / "o.manifest"), "--rejects", str(rejects)]
    )
    assert main([command, *args]) in (0, 1)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    if command == "validate":
        (finding,) = [f for f in json.loads(out)["errors"] if f.get("line") == 1]
        assert finding["message"].endswith("must be an integer, not {'a': {'a': {'a': {...}}}}.")
    else:
        (reject,) = [json.loads(text) for text in rejects.read_text().splitlines()]
        assert reject["reason"] == "classification value is not a class index (attribute species)"


def test_a_labelstudio_value_nested_a_thousand_levels_is_rejected_with_a_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """JMESPath's own message quotes the value it was given: with no repr for it, the record
    is rejected with the type of the error (it was a RecursionError traceback)."""
    tasks = (
        '[{"id": 1, "data": {"image": ' + deep_objects(990) + '}, "annotations": []},'
        ' {"id": 2, "data": {"image": "s3://bucket/b.jpg"}, "annotations": []}]'
    )
    source = write(tmp_path, "export.json", tasks)
    rejects = tmp_path / "rejects.jsonl"
    out = tmp_path / "o.manifest"
    args = ["merge", f"labelstudio={source}", "-o", str(out), "--rejects", str(rejects)]
    assert main(args) in (0, 1)
    assert "Traceback" not in capsys.readouterr().err
    (reject,) = [json.loads(text) for text in rejects.read_text().splitlines()]
    assert "the value is nested too deep to show" in reject["reason"]


# --- an empty name ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kind"),
    [
        (["validate", "IN", "--annotate", ""], "output"),
        (["validate", "IN", "--test", ""], "input"),
        (["stats", "IN", "--html", ""], "output"),
        (["stats", "IN", "--test", ""], "input"),
        (["stats", "IN", "--merge-report", ""], "input"),
        (["merge", "IN", "-o", "OUT", "--html", ""], "output"),
        (["merge", "IN", "-o", "OUT", "--report", ""], "output"),
        (["merge", "", "-o", "OUT"], "input"),
        (["split", "IN", "-o", "OUT", "--test-output", "TEST", "--report", ""], "output"),
        (["split", "IN", "-o", "OUT", "--test-output", "TEST", "--keep", ""], "input"),
    ],
)
def test_an_empty_name_is_refused_in_one_line_not_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], kind: str
) -> None:
    """``--html ''`` and the like exited 0 having written nothing, ``--test ''`` was ignored,
    and ``--keep ''`` said ": no such file"."""
    source = write(tmp_path, "in.manifest", line("a.jpg", classification("species", "dog")))
    names = {"IN": str(source), "OUT": str(tmp_path / "out"), "TEST": str(tmp_path / "test")}
    assert main([names.get(arg, arg) for arg in args]) == 2
    assert capsys.readouterr().err == f"gtmerge {args[0]}: '': an empty name cannot be an {kind}\n"
    assert [p.name for p in tmp_path.iterdir()] == ["in.manifest"]


# --- 19. a byte-order mark -----------------------------------------------------------------------


def test_merge_and_validate_agree_on_a_byte_order_mark(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A manifest line must start with "{" (formats.md §3.1, DatasetEntry's pattern): both
    commands refuse the line a BOM precedes, and use the rest."""
    first = '{"source-ref": "s3://bucket/a.jpg", "x": 1}'
    second = '{"source-ref": "s3://bucket/b.jpg", "x": 1}'
    source = tmp_path / "in.manifest"
    source.write_bytes(b"\xef\xbb\xbf" + f"{first}\n{second}\n".encode())
    out, rejects = tmp_path / "out.manifest", tmp_path / "rejects.jsonl"
    assert main(["merge", str(source), "-o", str(out), "--rejects", str(rejects)]) == 0
    (entry,) = rejects_of(rejects)
    assert (entry["line"], entry["reason"]) == (
        1,
        "invalid JSON: a byte-order mark before the line",
    )
    assert [json.loads(x)["source-ref"] for x in out.read_text().splitlines()] == [
        "s3://bucket/b.jpg"
    ]
    capsys.readouterr()
    assert main(["validate", str(source)]) == 1
    report = capsys.readouterr().out
    assert "ERROR_INVALID_JSON_LINE" in report and "line 1" in report


# --- F2. the destination layer: names the system refuses ------------------------------------


def small_manifest(tmp_path: Path) -> Path:
    records = [line(f"{n}.jpg", classification("s", f"c{n % 2}")) for n in range(4)]
    return write(tmp_path, "in.manifest", "\n".join(records) + "\n")


def cut(name: str) -> str:
    """How an error line shows a file name: 200 characters and an ellipsis."""
    return name if len(name) <= 200 else name[:200] + "…"


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("merge", ["merge", "{in}", "-o", "{bad}"]),
        ("merge", ["merge", "{in}", "-o", "{out}", "--report", "{bad}"]),
        ("validate", ["validate", "{in}", "--annotate", "{bad}"]),
        ("split", ["split", "{in}", "-o", "{bad}", "--test-output", "{test}"]),
        ("stats", ["stats", "{in}", "--html", "{bad}"]),
    ],
    ids=["merge", "report", "annotate", "split", "stats-html"],
)
@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("m" * 300 + ".manifest", "File name too long"),
        ("loop", "Too many levels of symbolic links"),
    ],
    ids=["too-long", "symlink-loop"],
)
def test_an_output_name_the_system_refuses_is_one_line_naming_it(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    args: list[str],
    target: str,
    reason: str,
) -> None:
    source = small_manifest(tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "loop").symlink_to("loop")
    bad = str(out_dir / target)
    values = {
        "{in}": str(source),
        "{bad}": bad,
        "{out}": str(out_dir / "out.manifest"),
        "{test}": str(out_dir / "test.manifest"),
    }
    assert main([values.get(arg, arg) for arg in args]) == 2
    assert capsys.readouterr().err == f"gtmerge {command}: {cut(bad)}: cannot write: {reason}\n"
    assert sorted(p.name for p in out_dir.iterdir()) == ["loop"]  # nothing written, no temp


def test_a_mapping_name_too_long_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping = str(tmp_path / ("m" * 300 + ".yaml"))
    args = ["merge", str(small_manifest(tmp_path)), "--mapping", mapping]
    assert main([*args, "-o", str(tmp_path / "out.manifest")]) == 2
    assert capsys.readouterr().err == (
        f"gtmerge merge: {cut(mapping)}: cannot read: File name too long\n"
    )


# --- F10. values from the command line are quoted as excerpts -------------------------------

HUGE = "p" * 100_000


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["merge", HUGE, "-o", "{out}"], f"gtmerge merge: {cut(HUGE)}: no such file"),
        (["validate", HUGE], f"gtmerge validate: {cut(HUGE)}: no such file"),
        (
            ["merge", "{in}", "-o", "{out}", "--question", HUGE],
            f"gtmerge merge: --question '{'p' * 80}…': write NAME=ATTRIBUTE,ATTRIBUTE...",
        ),
        (
            ["split", "{in}", "-o", "{out}", "--test-output", "{test}", "--group", "(" + HUGE],
            f"gtmerge split: --group '({'p' * 79}…': not a regular expression: "
            "missing ), unterminated subpattern at position 0",
        ),
        (
            ["split", "{in}", "-o", "{out}", "--test-output", "{test}", "--group-path", "[" + HUGE],
            f"gtmerge split: --group-path '[{'p' * 79}…': not a JMESPath expression: Invalid "
            f'jmespath expression: Incomplete expression: "[{"p" * 79}…" ^',
        ),
    ],
    ids=["merge-input", "validate-input", "question", "group", "group-path"],
)
def test_a_100_kb_value_on_the_command_line_is_quoted_as_an_excerpt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], error: str
) -> None:
    values = {
        "{in}": str(small_manifest(tmp_path)),
        "{out}": str(tmp_path / "out.manifest"),
        "{test}": str(tmp_path / "test.manifest"),
    }
    assert main([values.get(arg, arg) for arg in args]) == 2
    assert capsys.readouterr().err == error + "\n"


@pytest.mark.parametrize(
    "args",
    [
        ["merge", "s3://" + HUGE + "/x", "-o", "{out}", "--endpoint-url", "http://127.0.0.1:9"],
        ["merge", "{in}", "-o", "{out}", "--policy", HUGE],
        ["merge", "{in}", "-o", "{out}", "--workers", HUGE],
        ["merge", HUGE + "=" + HUGE, "-o", "{out}"],
        ["merge", "{in}", "-o", "{out}", "--" + HUGE],
    ],
    ids=["s3-bucket", "argparse-choice", "argparse-type", "mapping-and-input", "argparse-unknown"],
)
def test_every_error_line_is_a_few_hundred_characters_at_most(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    values = {"{in}": str(small_manifest(tmp_path)), "{out}": str(tmp_path / "out.manifest")}
    try:
        status = main([values.get(arg, arg) for arg in args])
    except SystemExit as exc:  # argparse's own errors, after its usage
        status = int(str(exc.code))
    assert status == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith("gtmerge")
    assert len(error) <= 400
    assert not (tmp_path / "out.manifest").exists()


# --- F9. mapping and rename files: size and nesting bounds ------------------------------------


def test_a_rename_file_is_read_no_further_than_its_bound(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["merge", str(small_manifest(tmp_path)), "-o", str(tmp_path / "out.manifest")]
    with time_limit(10):
        assert main([*args, "--rename", "/dev/zero"]) == 2
    assert capsys.readouterr().err == (
        "gtmerge merge: --rename /dev/zero: over 1 MiB; a mapping or rename file needs a few KB\n"
    )


def test_a_rename_file_nested_50_000_levels_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    renames = write(tmp_path, "renames.yaml", "[" * 50_000 + "\n")
    args = ["merge", str(small_manifest(tmp_path)), "-o", str(tmp_path / "out.manifest")]
    assert main([*args, "--rename", str(renames)]) == 2
    assert capsys.readouterr().err == (
        f"gtmerge merge: {renames}: YAML nested over 50 levels deep; a few are all it takes\n"
    )


NESTING = "YAML nested over 50 levels deep; a few are all it takes"
EXPRESSION = "image: x\nrecords: {format: jsonl}\nlabels: {name: '%s'}\n"


@pytest.mark.parametrize(
    ("yaml_text", "error"),
    [
        ("".join(" " * n + f"k{n}:\n" for n in range(1_000)) + " " * 1_000 + "v\n", NESTING),
        ("[" * 50_000 + "]" * 50_000 + "\n", NESTING),
        (
            "image: x\nrecords: {format: [" + ", ".join(["1"] * 20_000) + "]}\n",
            "over 10,000 YAML nodes; a mapping needs a few hundred",
        ),
        (
            EXPRESSION % ("(" * 20_000 + "a" + ")" * 20_000),
            f"labels.name: invalid JMESPath expression '{'(' * 80}…': nested over 100 levels "
            "deep; an expression needs a few",
        ),
        (
            EXPRESSION % "||".join(["a"] * 500),
            f"labels.name: invalid JMESPath expression '{('a||' * 27)[:80]}…': nested over 100 "
            "levels deep; an expression needs a few",
        ),
        (
            EXPRESSION % ("a." * 50_000 + "["),
            f"labels.name: invalid JMESPath expression '{('a.' * 40)}…': Invalid jmespath "
            f'expression: Incomplete expression: "{("a." * 40)}…" ^',
        ),
        ("x" * (1 << 20) + "\n", "over 1 MiB; a mapping or rename file needs a few KB"),
    ],
    ids=[
        "block-1000",
        "flow-50000",
        "20000-nodes",
        "parentheses-20000",
        "or-500",
        "bad-100-kb-expression",
        "over-1-MiB",
    ],
)
def test_a_mapping_past_a_bound_is_refused_in_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], yaml_text: str, error: str
) -> None:
    mapping = write(tmp_path, "m.yaml", yaml_text)
    source = write(tmp_path, "in.json", "[]")
    with time_limit(10):
        assert main(["merge", f"{mapping}={source}", "-o", str(tmp_path / "out.manifest")]) == 2
    assert capsys.readouterr().err == f"gtmerge merge: {mapping}: {error}\n"


# --- F12. --workers is bounded ----------------------------------------------------------------


def test_workers_past_four_per_core_are_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    spool = tmp_path / "spool"
    spool.mkdir()
    args = ["merge", str(small_manifest(tmp_path)), "-o", str(out_dir / "out.manifest")]
    args += ["--workers", "5000", "--memory", "16", "--tmp-dir", str(spool)]
    assert main(args) == 2
    most = 4 * (os.cpu_count() or 1)
    assert capsys.readouterr().err == (
        f"gtmerge merge: --workers 5000: at most {most} on this machine (4 per core)\n"
    )
    assert list(out_dir.iterdir()) == list(spool.iterdir()) == []


@pytest.mark.parametrize("command", ["merge", "split"])
def test_a_tmp_dir_the_system_refuses_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to("loop")
    out, test = str(tmp_path / "out.manifest"), str(tmp_path / "test.manifest")
    extra = ["--test-output", test] if command == "split" else []
    args = [command, str(small_manifest(tmp_path)), "-o", out, *extra, "--tmp-dir", str(loop)]
    assert main(args) == 2
    assert capsys.readouterr().err == (
        f"gtmerge {command}: --tmp-dir {loop}: cannot write: Too many levels of symbolic links\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.manifest", "loop"]


# --- values and names of any length, in what a run writes and says ----------------------------


def test_a_bucket_name_over_63_characters_is_refused_where_it_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """60 lines with a 15 MB bucket name took 1.8 GB in split: S3 names have at most 63."""
    bucket = "b" * 64
    deep = line("a.jpg", classification("species", "cat")).replace("s3://", "s3://x", 1)
    deep = json.dumps({**json.loads(deep), "source-ref": f"s3://{bucket}/a.jpg"})
    source = write(
        tmp_path,
        "in.manifest",
        deep + "\n" + line("b.jpg", classification("species", "dog")) + "\n",
    )
    rejects = tmp_path / "rejects.jsonl"
    assert (
        main(["merge", str(source), "-o", str(tmp_path / "o.manifest"), "--rejects", str(rejects)])
        == 0
    )
    (reject,) = [json.loads(text) for text in rejects.read_text().splitlines()]
    assert reject["reason"].endswith("has a bucket name of 64 characters, over the 63 S3 allows")


def test_a_rejection_reason_and_a_warning_are_cut_to_one_short_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown metadata type of 100 KB went whole into the reason in the rejects file (next
    to the record, kept up to 100,000 characters), and a 100 KB --drop-class name twice into
    the summary."""
    record = json.loads(line("a.jpg", classification("species", "cat")))
    record["species-metadata"]["type"] = "x" * 100_000
    source = write(
        tmp_path,
        "in.manifest",
        json.dumps(record) + "\n" + line("b.jpg", classification("species", "dog")) + "\n",
    )
    rejects = tmp_path / "rejects.jsonl"
    args = ["merge", str(source), "-o", str(tmp_path / "o.manifest"), "--rejects", str(rejects)]
    assert main([*args, "--drop-class", "y" * 100_000]) == 0
    (reject,) = [json.loads(text) for text in rejects.read_text().splitlines()]
    assert reject["reason"].startswith("unsupported type: xxx") and len(reject["reason"]) == 400
    assert len(reject["raw"]) == 100_001  # the record itself, up to Rekognition's line limit
    (warning,) = [t for t in capsys.readouterr().err.splitlines() if "--drop-class" in t]
    assert len(warning) <= 420


def test_a_group_pattern_nested_too_deep_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write(tmp_path, "in.manifest", line("a.jpg", classification("species", "cat")) + "\n")
    args = ["split", str(source), "-o", str(tmp_path / "t"), "--test-output", str(tmp_path / "e")]
    assert main([*args, "--group", "(" * 5000 + "a" + ")" * 5000]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gtmerge split: --group '((((") and err.endswith(
        ": groups nested too deep\n"
    )


@pytest.mark.parametrize("option", ["--mapping", "--tmp-dir", "--image-root", "--endpoint-url"])
def test_an_empty_place_is_refused_not_taken_for_an_option_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    source = write(tmp_path, "in.manifest", line("a.jpg", classification("species", "cat")) + "\n")
    out = tmp_path / "o.manifest"
    with pytest.raises(SystemExit) as exited:
        main(["merge", str(source), "-o", str(out), option, ""])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"gtmerge: error: {option} '': an empty name names nothing"
    )
    assert not out.exists()


@pytest.mark.parametrize("mapping", ["csv-long", "csv-onehot"])
def test_a_csv_header_whose_quote_never_closes_fails_the_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mapping: str
) -> None:
    """It took every row into the header: exit 0, "0 records", the rows gone unreported."""
    rows = "".join(f"s3://bucket/{n}.jpg,cat\n" for n in range(10))
    source = write(tmp_path, "labels.csv", '"image,label\n' + rows)
    out = tmp_path / "o.manifest"
    assert main(["merge", f"{mapping}={source}", "-o", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"gtmerge merge: {source}: line 1: the header row runs over 11 lines: does the quote "
        "opened on line 1 ever close?\n"
    )
    assert not out.exists()
