"""Hostile input: random and mutated bytes through every reader, for a fixed budget (hypothesis,
derandomized), and the classic attacks: a line over 100 MB, deep nesting, NaN/Infinity,
duplicate keys, a gzip bomb.

The contract: never a traceback and never a hang. A run either completes with every record
accounted for (each bad one rejected with a reason), or stops with a one-line
:class:`~gtmerge.errors.MergeError` (an input whose format cannot be detected or read).
"""

from __future__ import annotations

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
    assert str(caught.value).startswith(f"{source}: invalid JSON: lexical error")
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
