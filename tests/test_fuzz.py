"""Hostile input: random and mutated bytes through every reader, for a fixed budget (hypothesis,
derandomized), and the classic attacks: a line over 100 MB, deep nesting, NaN/Infinity,
duplicate keys, a gzip bomb.

The contract: never a traceback and never a hang. A run either completes with every record
accounted for (each bad one rejected with a reason), or stops with a one-line
:class:`~gtmerge.errors.MergeError` (an input whose format cannot be detected or read).
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from backports import zstd
from builders import boxes, classification, line, manifest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from procs import gtmerge_command, record_figures, time_limit
from test_mapping_formats import COCO, LS_JSON, LS_MIN

from gtmerge import merge
from gtmerge.cli import main
from gtmerge.errors import MergeError
from gtmerge.readers import Parsed, Rejection, Skipped
from gtmerge.readers.groundtruth import parse_line

SETTINGS = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
GT = manifest(
    line("a.jpg", classification("species", "dog")),
    line("b.jpg", boxes("bb", [("cat", 1, 2, 30, 40)])),
).encode()
#: reader → (mapping, a valid input to mutate)
SEEDS: dict[str, tuple[str, bytes]] = {
    "groundtruth": ("groundtruth", GT),
    "groundtruth-gzip": ("groundtruth", gzip.compress(GT)),
    "groundtruth-xz": ("groundtruth", lzma.compress(GT)),
    "groundtruth-zstd": ("groundtruth", zstd.compress(GT)),
    "csv": ("csv", b'a.jpg,cat,dog\n"b, c.jpg",bird\n\ns3://x/d.png,cat\n'),
    "csv-long": ("csv-long", b"image,label\na.jpg,cat\na.jpg,dog\nb.jpg,cat\n"),
    "csv-onehot": ("csv-onehot", b"image,cat,dog\na.jpg,1,0\nb.jpg,0,1\n"),
    "coco": ("coco", json.dumps(COCO).encode()),
    "labelstudio": ("labelstudio", json.dumps(LS_JSON).encode()),
    "labelstudio-min": ("labelstudio", json.dumps(LS_MIN).encode()),
}


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` with a few bytes flipped, inserted, deleted or the tail cut off."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "cut", "splice"]))
        if action == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif action == "insert":
            data[at:at] = draw(
                st.sampled_from(
                    [
                        b'"',
                        b"{",
                        b"]",
                        b",",
                        b"\n",
                        b"\x00",
                        b"\xff",
                        b"NaN",
                        b"-1e999",
                        b"\\u0000",
                        b'"source-ref"',
                    ]
                )
            )
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 20))]
        elif action == "cut":
            del data[at:]
        else:
            data[at:at] = data[: draw(st.integers(0, 64))]
    return bytes(data)


def hostile(seed: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=2000), mutated(seed))


def merge_bytes(data: bytes, mapping: str | None) -> dict[str, Any] | None:
    """Merge ``data`` as one input; the report, or None for a clean one-line refusal."""
    with tempfile.TemporaryDirectory() as directory:
        source = Path(directory, "input")
        source.write_bytes(data)
        out, report, rejects = (Path(directory, n) for n in ("out", "report.json", "rej.jsonl"))
        try:
            merge(
                [str(source)],
                str(out),
                mapping=mapping,
                image_root="s3://fuzz-bucket/images/",
                report=str(report),
                rejects=str(rejects),
            )
        except MergeError as exc:
            # one line: see the test below
            assert str(exc).startswith(f"{source}: ")
            assert not out.exists()
            return None
        result: dict[str, Any] = json.loads(report.read_text())
        rejected = [json.loads(x) for x in rejects.read_text().splitlines()]
        assert all(entry["reason"] for entry in rejected)
        totals = result["totals"]
        assert totals["lines"] == sum(
            totals[k] for k in ("used", "duplicates", "rejected", "skipped")
        )
        assert len(rejected) == totals["rejected"] + totals["dropped_attributes"]
        return result


@pytest.mark.parametrize("reader", [*sorted(SEEDS), "detected"])
def test_random_and_mutated_bytes_never_break_a_reader(reader: str) -> None:
    mapping, seed = (None, gzip.compress(GT)) if reader == "detected" else SEEDS[reader]
    outcomes = {"completed": 0, "refused": 0}

    @SETTINGS
    @given(hostile(seed))
    def fuzz(data: bytes) -> None:
        with time_limit(20):
            result = merge_bytes(data, mapping)
        outcomes["completed" if result is not None else "refused"] += 1

    fuzz()
    record_figures(f"fuzz::{reader}", cases=sum(outcomes.values()), **outcomes)


def test_an_unreadable_json_document_is_refused_in_one_line(tmp_path: Path) -> None:
    source = tmp_path / "export.json"
    source.write_bytes(b"\x00")
    with pytest.raises(MergeError) as caught:
        merge([str(source)], str(tmp_path / "out"), mapping="coco", image_root="s3://b/i/")
    assert str(caught.value) == f"{source}: invalid JSON: expected '{{' at byte 1, found '\\x00'"
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_every_ground_truth_line_becomes_exactly_one_item() -> None:
    cases = [0]

    @SETTINGS
    @given(st.one_of(st.binary(max_size=500), mutated(GT.splitlines()[1])))
    def fuzz(raw: bytes) -> None:
        cases[0] += 1
        item = parse_line(1, raw)
        assert isinstance(item, (Parsed, Rejection, Skipped))
        if isinstance(item, Rejection):
            assert item.reason

    fuzz()
    record_figures("fuzz::groundtruth-parse_line", cases=cases[0])


NESTED = b'{"source-ref": "s3://b/a.jpg", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
SPECIAL_LINES = {
    "deeply nested": (NESTED, "invalid JSON: depth limit exceeded at byte 1061"),
    "NaN": (b'{"source-ref": "s3://b/a.jpg", "x": NaN}\n', "invalid JSON:"),
    "Infinity": (b'{"source-ref": "s3://b/a.jpg", "x": Infinity}\n', "invalid JSON:"),
    "1e999 confidence": (
        line("a.jpg", classification("species", "dog")).replace("0.9", "1e999").encode(),
        "invalid JSON: number is infinity when parsed as double at byte 117",
    ),
}


@pytest.mark.parametrize("name", sorted(SPECIAL_LINES))
def test_special_json_is_rejected_with_a_reason(name: str) -> None:
    raw, reason = SPECIAL_LINES[name]
    item = parse_line(1, raw)
    assert isinstance(item, Rejection)
    assert item.reason.startswith(reason)


def test_duplicate_keys_in_one_object_keep_the_last_value_like_every_json_reader() -> None:
    raw = line("a.jpg", classification("species", "dog")).replace(
        '"source-ref": "s3://gt-bucket/images/a.jpg"',
        '"source-ref": "s3://gt-bucket/images/first.jpg", "source-ref": "s3://gt-bucket/images/a.jpg"',
    )
    item = parse_line(1, raw.encode())
    assert isinstance(item, Parsed)
    assert item.image.key == "s3://gt-bucket/images/a.jpg"


def _measured_run(
    args: list[str], timeout: float
) -> tuple[subprocess.CompletedProcess[str], int, float]:
    """Run gtmerge in a child of a fresh interpreter and return its peak RSS (MiB) and time."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.monotonic()\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "sys.stdout.write(done.stderr)\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024\n"
        "print(f'@@ {done.returncode} {rss} {time.monotonic() - t:.2f}')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *gtmerge_command(*args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    *lines, last = done.stdout.splitlines()
    _, code, rss, seconds = last.split()
    result = subprocess.CompletedProcess(args, int(code), "", "\n".join(lines) + "\n")
    return result, int(rss), float(seconds)


@pytest.mark.bounds_rss
def test_a_120_mb_line_without_newline_is_rejected_in_bounded_memory(tmp_path: Path) -> None:
    huge = tmp_path / "huge.manifest"
    with open(huge, "wb") as stream:
        stream.write(GT)
        stream.write(b'{"source-ref": "s3://b/x.jpg", "pad": "')
        for _ in range(120):
            stream.write(b"x" * (1 << 20))
    out, rejects = tmp_path / "out.manifest", tmp_path / "rejects.jsonl"
    done, rss, seconds = _measured_run(
        [
            "merge",
            str(huge),
            "-o",
            str(out),
            "--rejects",
            str(rejects),
            "--report",
            str(tmp_path / "r.json"),
        ],
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert len(out.read_bytes().splitlines()) == 2
    (reject,) = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert reject["line"] == 3
    assert reject["reason"] == "line too long: over the reader's line limit"
    assert rss < 200, f"peak RSS {rss} MiB"
    record_figures("fuzz::huge-line-120MB", peak_rss_mib=rss, seconds=round(seconds, 1), cases=1)


@pytest.mark.bounds_rss
def test_a_gzip_bomb_is_read_in_bounded_memory_and_time(tmp_path: Path) -> None:
    """1 GiB of zeros (one line, no newline) compressed to about 1 MB."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * (1 << 20)
    body = b"".join(compressor.compress(chunk) for _ in range(1024)) + compressor.flush()
    bomb = tmp_path / "output.manifest"
    bomb.write_bytes(gzip.compress(GT) + body)  # a valid member, then the bomb
    out, rejects = tmp_path / "out.manifest", tmp_path / "rejects.jsonl"
    started = time.monotonic()
    done, rss, seconds = _measured_run(
        ["merge", f"groundtruth={bomb}", "-o", str(out), "--rejects", str(rejects)], timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert len(out.read_bytes().splitlines()) == 2
    (reject,) = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert reject["reason"] == "line too long: over the reader's line limit"
    assert rss < 200, f"peak RSS {rss} MiB"
    assert time.monotonic() - started < 60
    record_figures(
        "fuzz::gzip-bomb-1GiB",
        compressed_bytes=bomb.stat().st_size,
        peak_rss_mib=rss,
        seconds=round(seconds, 1),
        cases=1,
    )


# --- sizes: newline bombs, long strings, deep records, huge single images (#11 items 10, 11) ---

_CODECS = {
    "plain": lambda data: data,
    "gzip": lambda data: gzip.compress(data, 1),
    "bzip2": lambda data: bz2.compress(data, 1),
    "xz": lambda data: lzma.compress(data, preset=0),
    "zstd": zstd.compress,
}
_NEWLINES = 256 << 20


@pytest.mark.bounds_rss
@pytest.mark.parametrize("codec", sorted(_CODECS))
def test_a_newline_bomb_is_counted_at_io_speed_in_every_codec(tmp_path: Path, codec: str) -> None:
    """256 MiB of line breaks between two records: counted as blank lines a buffer at a time
    (a GiB took over 300 s a line at a time), the record after them on its own line number."""
    out = _merge_blank_bomb(tmp_path, b"\n" * _NEWLINES, _NEWLINES, codec)
    assert len(out.read_bytes().splitlines()) == 2


def _merge_blank_bomb(tmp_path: Path, blank_lines: bytes, count: int, codec: str) -> Path:
    """Merge two records with ``blank_lines`` (``count`` lines) between them, compressed
    with ``codec``: every blank line counted, at I/O speed; the figures recorded."""
    first, last = GT.splitlines(keepends=True)
    bomb = tmp_path / "output.manifest"
    bomb.write_bytes(_CODECS[codec](first + blank_lines + last))
    out, report = tmp_path / "out.manifest", tmp_path / "report.json"
    done, rss, seconds = _measured_run(
        ["merge", str(bomb), "-o", str(out), "--report", str(report)], timeout=120
    )
    assert done.returncode == 0, done.stderr
    (stats,) = json.loads(report.read_text())["inputs"]
    assert (stats["lines"], stats["used"], stats["skipped"]) == (count + 2, 2, count)
    assert rss < 200 and seconds < 30, (rss, seconds)
    kind = "newline" if blank_lines.startswith(b"\n") else "crlf"
    record_figures(f"fuzz::{kind}-bomb-256MiB-{codec}", peak_rss_mib=rss, seconds=seconds)
    return out


@pytest.mark.bounds_rss
def test_validate_and_annotate_count_a_newline_bomb_at_io_speed(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.manifest.zst"
    bomb.write_bytes(zstd.compress(GT + b"\n" * _NEWLINES))
    annotated = tmp_path / "annotated.manifest"
    done, rss, seconds = _measured_run(
        ["validate", str(bomb), "--annotate", str(annotated)], timeout=120
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    written = annotated.read_bytes()
    assert len(written) > _NEWLINES and written.count(b"\n") == _NEWLINES + 2
    assert rss < 300 and seconds < 60, (rss, seconds)
    record_figures("fuzz::newline-bomb-256MiB-validate", peak_rss_mib=rss, seconds=seconds)


@pytest.mark.bounds_rss
@pytest.mark.parametrize(("name", "fill"), [("nul", b"\0"), ("newline", b"\n")])
def test_stats_reads_a_bomb_as_validate_does(tmp_path: Path, name: str, fill: bytes) -> None:
    """256 MiB of NULs (one line: 2.1 GB per GiB, as stats read lines unbounded) or of line
    breaks (a GiB took over 150 s) after two records, gzip-compressed, with the page."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    chunk = fill * (1 << 20)
    body = b"".join(compressor.compress(chunk) for _ in range(256)) + compressor.flush()
    bomb = tmp_path / f"{name}.manifest.gz"
    bomb.write_bytes(gzip.compress(GT) + body)
    page = tmp_path / "page.html"
    done, rss, seconds = _measured_run(["stats", str(bomb), "--html", str(page)], timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "\n"  # nothing but the probe's own line break
    assert page.exists()
    assert rss < 200 and seconds < 30, (rss, seconds)
    record_figures(f"fuzz::stats-{name}-bomb-256MiB-gzip", peak_rss_mib=rss, seconds=seconds)


@pytest.mark.bounds_rss
def test_stats_refuses_a_merge_report_over_its_size_limit_in_bounded_memory(
    tmp_path: Path,
) -> None:
    """A report was read whole: 700 MB of spaces (gzip) cost 1.6 GB."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    chunk = b" " * (1 << 20)
    body = b"".join(compressor.compress(chunk) for _ in range(256)) + compressor.flush()
    report = tmp_path / "report.json.gz"
    report.write_bytes(body)
    source = tmp_path / "in.manifest"
    source.write_bytes(GT)
    done, rss, _ = _measured_run(["stats", str(source), "--merge-report", str(report)], 120)
    assert done.returncode == 2
    assert done.stderr == f"gtmerge stats: {report}: not a merge report (over 8 MiB)\n"
    assert rss < 200, f"peak RSS {rss} MiB"


_DEEP = "[" * 20_000 + "]" * 20_000
_SMALL_MAPPING = "image: file\nlabels: {name: label}\n"
#: format → (mapping argument, input whose first record holds VALUE, mapping file text)
_FORMATS: dict[str, tuple[str, str, str | None]] = {
    "groundtruth": (
        "groundtruth=",
        line("a.jpg", classification("species", "dog")).replace('"dog"', "VALUE")
        + "\n"
        + line("b.jpg", classification("species", "cat"))
        + "\n",
        None,
    ),
    "coco": (
        "coco=",
        json.dumps(COCO).replace('"kitchen 1.jpg"', '"kitchen 1.jpg", "x": VALUE', 1),
        None,
    ),
    "coco-detected": (
        "",
        json.dumps(COCO).replace('"kitchen 1.jpg"', '"kitchen 1.jpg", "x": VALUE', 1),
        None,
    ),
    "labelstudio": (
        "labelstudio=",
        json.dumps(LS_JSON).replace('"data": {', '"data": {"x": VALUE, ', 1),
        None,
    ),
    "labelstudio-detected": (
        "",
        json.dumps(LS_JSON).replace('"data": {', '"data": {"x": VALUE, ', 1),
        None,
    ),
    "home-made-json": (
        "",
        '{"meta": {"deep": VALUE}, "items": [{"file": "a.jpg", "label": "cat", "x": VALUE},'
        ' {"file": "b.jpg", "label": "dog"}]}',
        "records: {format: json, path: items}\n" + _SMALL_MAPPING,
    ),
    "home-made-jsonl": (
        "",
        '{"file": "a.jpg", "label": "cat", "x": VALUE}\n{"file": "b.jpg", "label": "dog"}\n',
        "records: {format: jsonl}\n" + _SMALL_MAPPING,
    ),
}


def _merge_one(
    tmp_path: Path, name: str, value: str, text: str | None = None
) -> tuple[dict[str, Any], list[Any], float]:
    """Merge the format's input (or ``text``) with VALUE in its first record: the input's
    report entry, the rejects and the seconds it took."""
    prefix, template, mapping_text = _FORMATS[name]
    tmp_path.mkdir(exist_ok=True)
    source = tmp_path / "input.json"
    source.write_text((text or template).replace("VALUE", value))
    if mapping_text is not None:
        mapping = tmp_path / "mapping.yaml"
        mapping.write_text(mapping_text)
        prefix = f"{mapping}="
    out, rejects, report = (tmp_path / n for n in ("out.manifest", "rejects", "report.json"))
    started = time.monotonic()
    code = main(
        [
            *("merge", f"{prefix}{source}", "-o", str(out), "--image-root", "s3://bucket/"),
            *("--rejects", str(rejects), "--report", str(report), "--no-progress"),
        ]
    )
    seconds = time.monotonic() - started
    assert code == 0
    (stats,) = json.loads(report.read_text())["inputs"]
    return stats, [json.loads(x) for x in rejects.read_text().splitlines()], seconds


def _one_more_reject(
    tmp_path: Path, name: str, stats: dict[str, Any], rejects: list[Any]
) -> dict[str, Any]:
    """The one reject a run has beyond the same input with a harmless value; the other
    records as in that run."""
    clean, clean_rejects, _ = _merge_one(tmp_path / "clean", name, '"dog"')
    assert stats["lines"] == clean["lines"]
    assert (stats["used"], stats["rejected"]) == (clean["used"] - 1, clean["rejected"] + 1)
    (extra,) = [r for r in rejects if r["line"] not in {c["line"] for c in clean_rejects}]
    return dict(extra)


@pytest.mark.parametrize("name", sorted(_FORMATS))
def test_a_record_nested_past_the_limit_is_rejected_alone_in_every_format(
    tmp_path: Path, name: str
) -> None:
    stats, rejects, _ = _merge_one(tmp_path, name, _DEEP)
    reject = _one_more_reject(tmp_path, name, stats, rejects)
    assert reject["line"] == 1
    if name in ("groundtruth", "home-made-jsonl"):  # orjson's words, where the line says it
        assert reject["reason"].startswith("invalid JSON: depth limit exceeded at byte ")
    else:
        assert reject["reason"] == "nested deeper than 1024 levels"


@pytest.mark.parametrize("name", ["coco", "labelstudio", "home-made-json"])
def test_a_long_string_in_a_json_document_is_rejected_at_io_speed(
    tmp_path: Path, name: str
) -> None:
    """64 MiB in one string, with escapes: ijson took time quadratic in its length (128 MB:
    63 s); the record is now drained past the line limit and rejected."""
    stats, rejects, seconds = _merge_one(tmp_path, name, '"' + 'ab\\"' * (16 << 20) + '"')
    reject = _one_more_reject(tmp_path, name, stats, rejects)
    assert (reject["line"], reject["reason"], reject["raw"]) == (
        1,
        "record too long: over the reader's line limit",
        "",
    )
    assert seconds < 15
    record_figures(f"fuzz::long-string-64MiB-{name}", seconds=round(seconds, 1), cases=1)


def test_a_coco_image_with_too_many_annotations_is_rejected_with_its_count(
    tmp_path: Path,
) -> None:
    annotation = '{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}'
    document = json.dumps(COCO).replace(
        '"annotations": [', '"annotations": [' + ", ".join([annotation] * 100_001) + ", ", 1
    )
    stats, rejects, _ = _merge_one(tmp_path, "coco", "1", document)
    reject = _one_more_reject(tmp_path, "coco", stats, rejects)
    assert [(reject["line"], reject["reason"])] == [
        (
            1,
            "boxes.each: 100,002 values for one key, over the 100,000 it may hold "
            "(expression: lookup('annotations', id))",
        )
    ]


# --- values that can never be written: 15 MB class names and source-refs (F6) ---


@pytest.mark.bounds_rss
def test_a_class_name_or_source_ref_too_long_to_write_is_refused_at_read(tmp_path: Path) -> None:
    """A 15 MB class name fits in the line limit, but no label name is over 256 characters
    and no S3 key over 1,024 bytes: each is refused where it is read, with its reason, so
    memory does not follow the input's size."""
    big = 15_000_000
    named = line("a.jpg", classification("species", "dog")).replace('"dog"', '"' + "c" * big + '"')
    keyed = line("k" * big + ".jpg", classification("species", "cat"))
    lines = [named, keyed] * 4 + [line("b.jpg", classification("species", "cat"))]
    bomb = tmp_path / "long.manifest.gz"
    with gzip.open(bomb, "wt", compresslevel=1) as stream:
        stream.write("\n".join(lines) + "\n")
    out, rejects = tmp_path / "out.manifest", tmp_path / "rejects.jsonl"
    done, rss, seconds = _measured_run(
        ["merge", str(bomb), "-o", str(out), "--rejects", str(rejects), "--workers", "1"],
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert [json.loads(x)["source-ref"] for x in out.read_text().splitlines()] == [
        "s3://gt-bucket/images/b.jpg"
    ]
    reasons = [json.loads(x)["reason"] for x in rejects.read_text().splitlines()]
    assert reasons[0] == (
        "metadata class-name: label name of 15,000,000 characters, over the 256 Rekognition "
        "takes (attribute species)"
    )
    assert reasons[1].startswith("bad source-ref: source-ref 's3://gt-bucket/images/kkk")
    assert reasons[1].endswith("has an object key of 15,000,011 bytes, over the 1,024 S3 allows")
    assert len(reasons) == 8 and len(set(reasons)) == 2
    assert rss < 400, f"peak RSS {rss} MiB"
    record_figures("fuzz::long-class-names-15MB", peak_rss_mib=rss, seconds=seconds)


def test_a_mapped_label_name_too_long_to_write_rejects_its_record(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text("records: {format: jsonl}\n" + _SMALL_MAPPING)
    data = tmp_path / "in.jsonl"
    data.write_text(
        json.dumps({"file": "s3://b/a.jpg", "label": "x" * 257})
        + "\n"
        + json.dumps({"file": "s3://b/b.jpg", "label": "x" * 256})
        + "\n"
    )
    out, rejects = tmp_path / "out.manifest", tmp_path / "rejects.jsonl"
    code = main(["merge", f"{mapping}={data}", "-o", str(out), "--rejects", str(rejects)])
    assert code == 0
    assert [json.loads(x)["source-ref"] for x in out.read_text().splitlines()] == ["s3://b/b.jpg"]
    (reject,) = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert reject["reason"] == (
        "labels.name: label name of 257 characters, over the 256 Rekognition takes "
        "(expression: label)"
    )


# --- CSV: an unreadable header, a quoted field over the limits (F11) ---


@pytest.mark.parametrize(
    ("mapping", "header", "reason"),
    [
        ("csv-onehot", "image," + ",".join(f"c{i}" for i in range(2_000_000)), "line too long"),
        ("csv-long", "image," + ",".join(["label"] * 100_001), "the row has over 100,000 cells"),
    ],
)
def test_a_csv_header_that_cannot_be_read_fails_the_input_in_one_line(
    tmp_path: Path, mapping: str, header: str, reason: str
) -> None:
    """Reading the next row as the header would name every class after a data row."""
    data = tmp_path / "wide.csv.gz"
    rows = "".join(f"s3://bkt1/{i}.jpg,1\n" for i in range(50))
    data.write_bytes(gzip.compress((header + "\n" + rows).encode(), 1))
    out = tmp_path / "out.manifest"
    done = subprocess.run(
        gtmerge_command("merge", f"{mapping}={data}", "-o", str(out)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    (message,) = done.stderr.splitlines()
    assert message.startswith(f"gtmerge merge: {data}: line 1: the header row cannot be read: ")
    assert reason in message
    assert not out.exists()


def test_a_csv_row_given_up_inside_a_quoted_field_is_read_past_to_its_end(tmp_path: Path) -> None:
    """A quoted field of 5,000,000 line breaks (and doubled quotes) is rejected, then read past
    to its closing quote in bulk: the rows after it are real rows, not text from inside it."""
    field = 'x""y\n' * 40_000 + "\n" * 5_000_000 + "\r\n" * 1000 + 'end""'
    body = f's3://bkt1/a.jpg,"{field}"\ns3://bkt1/b.jpg,dog\n"s3://bkt1/c.jpg",cat\n'
    data = tmp_path / "quoted.csv.gz"
    data.write_bytes(gzip.compress(body.encode(), 1))
    out, rejects, report = (tmp_path / n for n in ("out.manifest", "rejects.jsonl", "r.json"))
    started = time.monotonic()
    code = main(
        ["merge", f"csv={data}", "-o", str(out), "--rejects", str(rejects), "--report", str(report)]
    )
    assert code == 0
    assert time.monotonic() - started < 20
    written = {
        json.loads(x)["source-ref"]: json.loads(x)["label0-metadata"]["class-name"]
        for x in out.read_text().splitlines()
    }
    assert written == {"s3://bkt1/b.jpg": "dog", "s3://bkt1/c.jpg": "cat"}
    (reject,) = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert reject["line"] == 1
    assert reject["reason"].startswith("field larger than field limit")
    (stats,) = json.loads(report.read_text())["inputs"]
    assert (stats["used"], stats["rejected"]) == (2, 1)


# --- runs of \r\n and of spaces: counted in bulk like runs of \n (F7) ---

_CRLF = b"\r\n" * (_NEWLINES // 2) + b" \t\n" * 100_000


@pytest.mark.bounds_rss
def test_a_crlf_bomb_is_counted_at_io_speed_by_merge_and_split(tmp_path: Path) -> None:
    _merge_blank_bomb(tmp_path, _CRLF, _NEWLINES // 2 + 100_000, "zstd")
    bomb = tmp_path / "crlf.manifest.zst"
    images = [line(f"{i}.jpg", classification("species", ["cat", "dog"][i % 2])) for i in range(20)]
    bomb.write_bytes(
        zstd.compress(manifest(*images[:10]).encode() + _CRLF + manifest(*images[10:]).encode())
    )
    train, test = tmp_path / "train.manifest", tmp_path / "test.manifest"
    done, rss, seconds = _measured_run(
        ["split", str(bomb), "-o", str(train), "--test-output", str(test)], timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert len(train.read_bytes().splitlines()) + len(test.read_bytes().splitlines()) == 20
    assert rss < 200 and seconds < 30, (rss, seconds)


@pytest.mark.bounds_rss
def test_validate_and_annotate_give_back_a_crlf_bomb_at_io_speed(tmp_path: Path) -> None:
    bomb = tmp_path / "crlf.manifest.zst"
    bomb.write_bytes(zstd.compress(GT + _CRLF))
    annotated = tmp_path / "annotated.manifest"
    done, rss, seconds = _measured_run(
        ["validate", str(bomb), "--annotate", str(annotated), "--max-lines", "10"], timeout=120
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    written = annotated.read_bytes()
    assert written.count(b"\n") == _NEWLINES // 2 + 100_000 + 2
    assert written.endswith(b"\r\n" * 1000 + b" \t\n" * 100_000)
    assert written.count(b"\r\n") == _NEWLINES // 2 - 8  # 8 blank lines within --max-lines
    assert rss < 300 and seconds < 60, (rss, seconds)
