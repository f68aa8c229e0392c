"""How to run a merge within its memory budget: spooled over how many partitions, on how many
workers. An input that fits in memory is one partition on one worker: the same path, whose
spool file the page cache keeps (a second path in memory would be one more to make fast and
to test, for a few milliseconds).

The factors are measured (docs/performance.md): the merge state of an image in Python objects
takes several times the bytes of the JSON it came from. Inputs of unknown size (stdin, a
folder listing) are assumed large, so they never risk the budget.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass, replace

from gtmerge.readers import ReadContext, resolve
from gtmerge.s3 import S3, split_uri
from gtmerge.sources import InputError, Source, sniff_compression

#: In-memory merge state per byte of (uncompressed) input.
MEMORY_PER_INPUT_BYTE = 6
#: Pass-2 merge state per byte of spool file.
MEMORY_PER_SPOOL_BYTE = 8
#: Typical JSON-lines compression ratio, to size compressed inputs.
COMPRESSION_RATIO = 10
UNKNOWN_INPUT_BYTES = 1 << 30
MAX_PARTITION_BITS = 8
_COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst")
#: A local Ground Truth file at least this big is read in parts by several workers.
SPLIT_MIN_BYTES = 32 << 20
SPLIT_PART_BYTES = 128 << 20
#: Workers a run may have per core. Each is a process of its own (about 50 MB before any
#: work) with its spool files and its share of the budget; past the cores they only take
#: turns, and 5,000 of them exhausted the memory of the machine.
MAX_WORKERS_PER_CORE = 4


def max_workers() -> int:
    """The most workers a run may have on this machine: :data:`MAX_WORKERS_PER_CORE` per
    core."""
    return MAX_WORKERS_PER_CORE * (os.cpu_count() or 1)


@dataclass(frozen=True)
class Plan:
    workers: int
    partition_bits: int
    #: Spool bytes one pass-2 task may hold; bigger partitions are split again.
    partition_bytes: int
    #: Memory the lookup tables of one input may hold (gtmerge/mapping/tables.py): half a
    #: worker's share of the budget, as pass 1 holds little else; beyond it they go to disk.
    table_bytes: int


def plan_run(sources: list[Source], s3: S3, memory_mb: int, workers: int) -> Plan:
    if memory_mb < 16:
        raise ValueError("the memory budget must be at least 16 MB")
    if workers > max_workers():
        raise ValueError(
            f"--workers {workers}: at most {max_workers()} on this machine "
            f"({MAX_WORKERS_PER_CORE} per core)"
        )
    budget = memory_mb << 20
    if any(source.uri == "-" for source in sources):
        workers = 1  # stdin can be read by this process only
    estimate = sum(_input_bytes(source, s3, budget) for source in sources)
    if estimate * MEMORY_PER_INPUT_BYTE <= budget // 2:
        return Plan(1, 0, budget // MEMORY_PER_SPOOL_BYTE, budget // 2)
    workers = max(workers, 1)
    partition_bytes = max(1 << 20, budget // workers // MEMORY_PER_SPOOL_BYTE)
    partitions = max(1, math.ceil(estimate / partition_bytes))
    bits = min(MAX_PARTITION_BITS, math.ceil(math.log2(partitions)))
    return Plan(workers, bits, partition_bytes, budget // workers // 2)


def _input_bytes(source: Source, s3: S3, budget: int) -> int:
    if source.size is None:
        return UNKNOWN_INPUT_BYTES
    if source.uri.lower().endswith(_COMPRESSED_SUFFIXES):
        return source.size * COMPRESSION_RATIO
    if source.size * MEMORY_PER_INPUT_BYTE > budget // 2:
        return source.size  # already too big for memory: no need to look inside
    return source.size * (COMPRESSION_RATIO if _is_compressed(source, s3) else 1)


def _is_compressed(source: Source, s3: S3) -> bool:
    """Sniff the first bytes: Ground Truth names compressed manifests ``output.manifest``.

    An input that cannot be read here counts as plain; reading it later reports the error.
    """
    try:
        if source.is_s3:
            bucket, key = split_uri(source.uri)
            head = s3.client.get_object(
                Bucket=bucket, Key=key, Range="bytes=0-5", **s3.owner_params()
            )
            return sniff_compression(head["Body"].read()) is not None
        with open(source.uri, "rb") as stream:
            return sniff_compression(stream.read(6)) is not None
    except Exception:  # any failure here is reported by the read itself
        return False


@dataclass(frozen=True)
class Part:
    """A unit of pass 1: a whole input, or a line-aligned byte range of one."""

    source_index: int
    source: Source


def split_inputs(
    sources: list[Source], context: ReadContext, workers: int, strict: bool
) -> list[Part]:
    """Cut large local Ground Truth files into parts so that every worker has pass-1 work.

    Only plain JSON-lines files can be cut at a line boundary found by seeking. ``strict``
    keeps inputs whole: its message names a line number, which a part only knows locally.
    """
    parts: list[Part] = []
    for index, source in enumerate(sources):
        pieces = _pieces(source, workers) if workers > 1 and not strict else 1
        if pieces > 1 and _is_groundtruth(source, context):
            parts.extend(Part(index, span) for span in _line_spans(source, pieces))
        else:
            parts.append(Part(index, source))
    return parts


def _pieces(source: Source, workers: int) -> int:
    if source.is_s3 or source.size is None or source.size < SPLIT_MIN_BYTES:
        return 1
    return max(workers, math.ceil(source.size / SPLIT_PART_BYTES))


def _is_groundtruth(source: Source, context: ReadContext) -> bool:
    if source.mapping not in (None, "groundtruth") or _is_compressed(source, context.s3):
        return False
    try:
        name, _ = resolve(source, context)
    except InputError:
        return False
    return name == "groundtruth"


def _line_spans(source: Source, pieces: int) -> list[Source]:
    assert source.size is not None
    bounds = [0]
    with open(source.uri, "rb") as stream:
        for piece in range(1, pieces):
            stream.seek(piece * source.size // pieces)
            # move on to the start of the next line, without holding a huge line in memory
            while (chunk := stream.readline(1 << 20)) and not chunk.endswith(b"\n"):
                pass
            bound = stream.tell()
            if bounds[-1] < bound < source.size:
                bounds.append(bound)
    bounds.append(source.size)
    return [
        # Each part is read as Ground Truth: detection on a part's first line could choose
        # another format (or fail) where a stray line happens to start the part.
        replace(source, size=end - start, span=(start, end), mapping="groundtruth")
        for start, end in itertools.pairwise(bounds)
    ]
