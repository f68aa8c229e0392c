"""The last step of a merge: the runs of rendered lines, one per partition, into the manifest.

Each run is in first-appearance order (its lines start with their order key); their k-way
merge by order key is the manifest, in the order the one-partition merge would write it. The
lines are handed on a chunk at a time: written, and fed to the output check when the main
process checks them. The C twin (``_fastmerge.merge_runs``) gives the same lines, chunks and
numbers; :func:`gtmerge.spool.ordered_lines` is the reference, and the one used when there
are more runs than files this process may open at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any

from gtmerge import fastpaths
from gtmerge.ingest import ORDER_WIDTH
from gtmerge.spool import merge_fan_in, ordered_lines

#: Lines handed on at once: a call per line costs more than the line.
CHUNK_LINES = 2000

_MERGE_RUNS: Any = fastpaths.load("gtmerge._fastmerge", "merge_runs")


def write_runs(
    runs: list[str],
    write: Callable[[bytes], object],
    feed: Callable[[list[bytes]], object] | None = None,
    wanted: Iterable[bytes] = (),
) -> tuple[int, dict[bytes, int]]:
    """Merge ``runs`` into ``write`` (and ``feed``, the lines of each chunk); how many lines
    were written, and the line number of each ``wanted`` order key found."""
    keys = sorted(wanted)
    if _MERGE_RUNS is not None and len(runs) <= merge_fan_in():
        written, numbers = _MERGE_RUNS(runs, write, feed, keys, CHUNK_LINES)
        return written, numbers
    numbers = {}
    written = 0
    wanted_keys = set(keys)
    lines = ordered_lines(runs)
    while chunk := list(itertools.islice(lines, CHUNK_LINES)):
        for line in chunk:
            written += 1
            key = line[:ORDER_WIDTH]
            if key in wanted_keys:
                numbers[key] = written
        bodies = [line[ORDER_WIDTH:] for line in chunk]
        write(b"".join(bodies))
        if feed is not None:
            feed(bodies)
    return written, numbers
