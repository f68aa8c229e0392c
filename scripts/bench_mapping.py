"""Time a Ground Truth manifest read by the native reader and by a YAML mapping of it.

Generates a GT-like manifest (a single-label classification attribute ``species`` and a
bounding-box attribute on every line), reads it with ``GroundTruthReader`` and with
``tests/data/mapping/groundtruth-species.yaml`` through ``MappedReader``, best of 3 runs each in
the same process (CPU time, so other load on the machine does not skew it), checks both give the
same images, and writes the figures between the ``<!-- bench_mapping -->`` markers of
docs/performance.md. Target: mapped at most 1.5 times native.

    python scripts/bench_mapping.py [--lines 200000] [--no-docs]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import platform
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from gtmerge.mapping import load_mapping
from gtmerge.readers.base import Parsed, ReadContext, Reader
from gtmerge.readers.groundtruth import GroundTruthReader
from gtmerge.readers.mapped import MappedReader
from gtmerge.sources import Source

REPO = Path(__file__).resolve().parents[1]
MAPPING = REPO / "tests" / "data" / "mapping" / "groundtruth-species.yaml"
DOC = REPO / "docs" / "performance.md"
BEGIN, END = "<!-- bench_mapping -->", "<!-- /bench_mapping -->"
SPECIES = ["dog", "cat", "bird", "fish", "horse"]


def make_line(rng: random.Random, index: int) -> bytes:
    species = rng.randrange(len(SPECIES))
    boxes = [
        {
            "class_id": rng.randrange(3),
            "left": rng.randrange(600),
            "top": rng.randrange(400),
            "width": rng.randrange(1, 40),
            "height": rng.randrange(1, 40),
        }
        for _ in range(rng.randrange(1, 4))
    ]
    return orjson.dumps(
        {
            "source-ref": f"s3://bench-bucket/images/{index:07d}.jpg",
            "species": species,
            "species-metadata": {
                "class-name": SPECIES[species],
                "confidence": 0.93,
                "type": "groundtruth/image-classification",
                "job-name": "labeling-job/species",
                "human-annotated": "yes",
                "creation-date": "2023-04-01T10:00:00.123456",
            },
            "bounding-box": {
                "image_size": [{"width": 640, "height": 480, "depth": 3}],
                "annotations": boxes,
            },
            "bounding-box-metadata": {
                "objects": [{"confidence": 0.8} for _ in boxes],
                "class-map": {"0": "dog", "1": "cat", "2": "ball"},
                "type": "groundtruth/object-detection",
                "human-annotated": "yes",
                "creation-date": "2023-04-02T11:00:00",
                "job-name": "labeling-job/boxes",
            },
        },
        option=orjson.OPT_APPEND_NEWLINE,
    )


def best_of(runs: int, read: Callable[[], int]) -> tuple[float, int]:
    # CPU time, not wall time: other work on a shared machine steals the wall clock from one
    # reader and not the other, which made the ratio swing by more than the margin it checks.
    times, count = [], 0
    for _ in range(runs):
        gc.collect()
        start = time.process_time()
        count = read()
        times.append(time.process_time() - start)
    return min(times), count


def drain(reader: Reader, source: Source) -> Callable[[], int]:
    def run() -> int:
        return sum(isinstance(item, Parsed) for item in reader.read(source, ReadContext()))

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-docs", action="store_true", help="print only")
    args = parser.parse_args()

    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "output.manifest")
        with open(path, "wb") as out:
            for index in range(args.lines):
                out.write(make_line(rng, index))
        source = Source(path, os.path.getsize(path))
        native, mapped = GroundTruthReader(), MappedReader(load_mapping(str(MAPPING)))
        check = list(itertools.islice(native.read(source, ReadContext()), 2000))
        for expected, got in zip(check, mapped.read(source, ReadContext()), strict=False):
            assert isinstance(expected, Parsed) and isinstance(got, Parsed)
            assert expected.image == got.image, (expected.image, got.image)
        native_s, n = best_of(args.runs, drain(native, source))
        mapped_s, m = best_of(args.runs, drain(mapped, source))
        size_mb = os.path.getsize(path) / 1e6
    assert n == m == args.lines
    ratio = mapped_s / native_s
    verdict = "within" if ratio <= 1.5 else "OVER"
    section = "\n".join(
        [
            BEGIN,
            "## Mappings: a Ground Truth manifest through YAML vs the native reader",
            "",
            f"`scripts/bench_mapping.py`: {args.lines:,} GT lines ({size_mb:.0f} MB; one "
            "classification attribute `species` and one bounding-box attribute with 1-3 boxes per "
            "line), read to canonical records, best of "
            f"{args.runs} runs in one process (CPU time); Python {platform.python_version()}, "
            f"{os.cpu_count()} cores. The first 2,000 records of both are checked equal.",
            "",
            "| reader | time | lines/s |",
            "|---|---|---|",
            f"| native `GroundTruthReader` | {native_s:.2f} s | {args.lines / native_s:,.0f} |",
            f"| `MappedReader` + `tests/data/mapping/groundtruth-species.yaml` | {mapped_s:.2f} s "
            f"| {args.lines / mapped_s:,.0f} |",
            "",
            f"Ratio mapped / native: **{ratio:.2f}x** ({verdict} the 1.5x target).",
            END,
        ]
    )
    print(section)
    if not args.no_docs:
        write_section(section)
    return 0 if ratio <= 1.5 else 1


def write_section(section: str) -> None:
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Performance\n"
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOC.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
