"""Helpers shared by the reliability suites: time limits, gtmerge subprocesses, and the figures
file that docs/reliability.md quotes."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

FIGURES = Path(__file__).resolve().parent.parent / "docs" / "reliability-figures.json"


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail the block with TimeoutError after ``seconds``: a hang must fail, not block CI."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def gtmerge_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "gtmerge", *args]


def run_gtmerge(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m gtmerge ARGS`` as a real subprocess, with a time limit."""
    return subprocess.run(
        gtmerge_command(*args),
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def record_figures(test: str, **counts: int | float | dict[str, int]) -> None:
    """Store one test's counts under its name in docs/reliability-figures.json, when
    ``GTMERGE_RECORD_FIGURES=1`` asks for it (a plain test run leaves the docs alone).

    Entries are keyed by test, so reruns overwrite rather than add up; the file is locked, as
    ``pytest -n 2`` runs two workers.
    """
    if os.environ.get("GTMERGE_RECORD_FIGURES") != "1":
        return
    FIGURES.parent.mkdir(exist_ok=True)
    with open(FIGURES, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        text = handle.read()
        figures = json.loads(text) if text.strip() else {}
        figures[test] = counts
        handle.seek(0)
        handle.truncate()
        json.dump(figures, handle, indent=2, sort_keys=True)
        handle.write("\n")
