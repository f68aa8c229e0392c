"""What consolidation costs: each policy against the plain union, on the same generated jobs.

Generates the synthetic Ground Truth jobs of ``scripts/gen_groundtruth.py`` (species asked
twice, a multi-label scene job, boxes with an adjustment and a verification round, ...),
merges them in this process with one worker and the data in memory, best of 3 runs each (CPU
time, so other load on the machine does not skew it), and writes the ratios to the union run
between the ``<!-- bench_consolidation -->`` markers of docs/performance.md.

    python scripts/bench_consolidation.py [--lines 200000] [--no-docs]
"""

from __future__ import annotations

import argparse
import gc
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gtmerge

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "performance.md"
BEGIN, END = "<!-- bench_consolidation -->", "<!-- /bench_consolidation -->"
RUNS: list[tuple[str, dict[str, Any]]] = [
    ("union, verdicts only counted (baseline)", {"verdicts": "count"}),
    ("union (default: verdicts applied)", {}),
    ("union with --conflicts", {"conflicts": True}),
    ("vote", {"policy": "vote"}),
    (
        "vote --tie latest with --conflicts and --relabel",
        {"policy": "vote", "tie": "latest", "conflicts": True, "relabel": True},
    ),
    ("latest", {"policy": "latest"}),
    (
        "union with --rename and --keep-class",
        {"rename": ["cat=feline"], "keep_classes": ["feline", "dog", "car"]},
    ),
]


def jobs(lines: int, cache: Path) -> list[str]:
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "gen_groundtruth.py"),
            "--lines",
            str(lines),
            "--out",
            str(cache),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return sorted(str(p) for p in cache.glob("*/jobs/*/manifests/output/output.manifest"))


def cpu_seconds(inputs: list[str], options: dict[str, Any], directory: str) -> float:
    chosen = dict(options)
    for extra in ("conflicts", "relabel"):
        if chosen.pop(extra, False):
            chosen[extra] = str(Path(directory, extra))
    best = float("inf")
    for _ in range(3):
        gc.collect()
        start = time.process_time()
        gtmerge.merge(
            inputs,
            str(Path(directory, "out.manifest")),
            workers=1,
            memory_mb=1 << 16,
            progress=False,
            **chosen,
        )
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        inputs = jobs(args.lines, Path(directory, "data"))
        figures = [(name, cpu_seconds(inputs, options, directory)) for name, options in RUNS]
    base = figures[0][1]
    rows = [
        f"| {name} | {seconds:.2f} s | {seconds / base:.2f}\u00d7 |" for name, seconds in figures
    ]
    table = "\n".join(
        [
            f"{args.lines:,} input lines over {len(inputs)} jobs, one worker, in memory, CPU "
            f"time best of 3 ({platform.python_version()}, {platform.machine()}); "
            "`python scripts/bench_consolidation.py`.",
            "",
            "| run | CPU | vs. the baseline |",
            "|---|---|---|",
            *rows,
        ]
    )
    print(table)
    if not args.no_docs:
        text = DOC.read_text()
        block = f"{BEGIN}\n{table}\n{END}"
        if BEGIN in text:
            text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), block, text, flags=re.S)
        else:
            text += f"\n## Consolidation: what each policy costs (issue 10)\n\n{block}\n"
        DOC.write_text(text)


if __name__ == "__main__":
    main()
