"""Benchmark: ManifestValidator against parsing alone with orjson, on a realistic manifest.

Generates a 250,000-line manifest (two thirds image-level classification lines with one to three
labels, one third bounding-box lines with one to eight boxes, Ground Truth's own key order and
date forms), times orjson.loads over every line (best of 3) and ManifestValidator over the same
bytes (best of 3), and writes the figures into docs/performance.md between the
``<!-- bench_validate -->`` markers. Usage: python scripts/bench_validate.py [--lines N]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from gtmerge.validate import ManifestValidator
from gtmerge.validate import lines as line_checks

DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
START, END = "<!-- bench_validate -->", "<!-- /bench_validate -->"
CLASSES = ["cat", "dog", "bird", "car", "truck", "bicycle", "person", "tree", "house", "boat"]


def make_manifest(count: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    lines = []
    for index in range(count):
        date = (
            f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}."
            f"{rng.randint(0, 999999):06d}"
        )
        record: dict[str, object] = {"source-ref": f"s3://datasets-bucket/images/{index:07d}.jpg"}
        if index % 3:
            for number, name in enumerate(rng.sample(CLASSES, rng.randint(1, 3))):
                record[f"label-{number}"] = CLASSES.index(name)
                record[f"label-{number}-metadata"] = {
                    "confidence": round(rng.random(), 2),
                    "job-name": "labeling-job/animals",
                    "class-name": name,
                    "human-annotated": "yes",
                    "creation-date": date,
                    "type": "groundtruth/image-classification",
                }
        else:
            width, height = rng.choice([(640, 480), (1920, 1080), (4000, 3000)])
            boxes = []
            for _ in range(rng.randint(1, 8)):
                box_width, box_height = rng.randint(20, width // 3), rng.randint(20, height // 3)
                boxes.append(
                    {
                        "class_id": rng.randrange(len(CLASSES)),
                        "top": rng.randint(0, height - box_height),
                        "left": rng.randint(0, width - box_width),
                        "width": box_width,
                        "height": box_height,
                    }
                )
            record["bounding-box"] = {
                "image_size": [{"width": width, "height": height, "depth": 3}],
                "annotations": boxes,
            }
            record["bounding-box-metadata"] = {
                "objects": [{"confidence": round(rng.random(), 2)} for _ in boxes],
                "class-map": {str(box["class_id"]): CLASSES[box["class_id"]] for box in boxes},
                "type": "groundtruth/object-detection",
                "human-annotated": "yes",
                "creation-date": date,
                "job-name": "labeling-job/boxes",
            }
        lines.append(orjson.dumps(record) + b"\n")
    return lines


def best_of(runs: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        gc.collect()
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return min(times)


def parse_only(lines: list[bytes]) -> None:
    loads = orjson.loads
    for line in lines:
        loads(line)


def validate_all(manifest: list[bytes]) -> None:
    """As ``gtmerge validate`` feeds the lines it reads: 1,000 at a time (feed_stream)."""
    validator = ManifestValidator(max_lines=len(manifest))
    for start in range(0, len(manifest), 1000):
        validator.feed_lines(manifest[start : start + 1000])
    result = validator.finish()
    assert not result.errors, result.errors[:3]


def rules_only(manifest: list[bytes]) -> None:
    """As gtmerge runs when it was installed without a C compiler."""
    fast_path, line_checks.count_clean_labels = line_checks.count_clean_labels, None
    try:
        validate_all(manifest)
    finally:
        line_checks.count_clean_labels = fast_path


def machine() -> str:
    model = "unknown CPU"
    try:
        for row in Path("/proc/cpuinfo").read_text().splitlines():
            if row.startswith("model name"):
                model = row.partition(":")[2].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_section(text: str) -> None:
    DOC.parent.mkdir(exist_ok=True)
    current = DOC.read_text() if DOC.exists() else "# Performance\n"
    block = f"{START}\n{text}{END}"
    if START in current and END in current:
        head, _, rest = current.partition(START)
        _, _, tail = rest.partition(END)
        current = head + block + tail
    else:
        current = current.rstrip("\n") + "\n\n" + block + "\n"
    DOC.write_text(current)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=250_000)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    if line_checks.count_clean_labels is None:
        raise SystemExit("gtmerge.validate._fastlines is not built: reinstall with a C compiler")
    manifest = make_manifest(args.lines)
    size = sum(map(len, manifest))
    parse = best_of(3, lambda: parse_only(manifest))
    validate = best_of(3, lambda: validate_all(manifest))
    slow = best_of(3, lambda: rules_only(manifest))
    ratio = validate / parse
    text = (
        "## `gtmerge validate`: ManifestValidator against orjson parsing alone\n\n"
        f"Generated by `scripts/bench_validate.py`: {args.lines:,} lines, {size / 1e6:.1f} MB "
        "(two thirds image-level lines with 1 to 3 labels, one third bounding-box lines with "
        "1 to 8 boxes), in memory. Times are CPU seconds of this process (`time.process_time`), "
        f"best of 3 runs each; load average {load:.1f} when it started.\n\n"
        "| what | time | lines/s |\n| --- | --- | --- |\n"
        f"| `orjson.loads` on every line | {parse:.2f} s | {args.lines / parse:,.0f} |\n"
        f"| `ManifestValidator.feed_lines` on every line (1,000 at a time, as `gtmerge validate` "
        f"reads them), then `finish()` | {validate:.2f} s | "
        f"{args.lines / validate:,.0f} |\n"
        f"| the same without the C fast path (rules only) | {slow:.2f} s | "
        f"{args.lines / slow:,.0f} |\n\n"
        f"**Ratio: {ratio:.2f}** (targets: under 3 in issue 4, at most 2 in issue 12); "
        f"{slow / parse:.2f} without the C fast path, "
        f"as when gtmerge is installed without a C compiler. Machine: {machine()}.\n"
    )
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
