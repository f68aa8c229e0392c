"""How to run a merge within its memory budget: in memory, or spooled over how many partitions.

The factors are measured (docs/performance.md): the merge state of an image in Python objects
takes several times the bytes of the JSON it came from. Inputs of unknown size (stdin, a
folder listing) are assumed large, so they never risk the budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gtmerge.s3 import S3, split_uri
from gtmerge.sources import Source, sniff_compression

#: In-memory merge state per byte of (uncompressed) input.
MEMORY_PER_INPUT_BYTE = 6
#: Pass-2 merge state per byte of spool file.
MEMORY_PER_SPOOL_BYTE = 8
#: Typical JSON-lines compression ratio, to size compressed inputs.
COMPRESSION_RATIO = 10
UNKNOWN_INPUT_BYTES = 1 << 30
MAX_PARTITION_BITS = 8
_COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst")


@dataclass(frozen=True)
class Plan:
    in_memory: bool
    workers: int
    partition_bits: int = 0
    #: Spool bytes one pass-2 task may hold; bigger partitions are split again.
    partition_bytes: int = 0


def plan_run(sources: list[Source], s3: S3, memory_mb: int, workers: int) -> Plan:
    if memory_mb < 16:
        raise ValueError("the memory budget must be at least 16 MB")
    budget = memory_mb << 20
    if any(source.uri == "-" for source in sources):
        workers = 1  # stdin can be read by this process only
    estimate = sum(_input_bytes(source, s3, budget) for source in sources)
    if estimate * MEMORY_PER_INPUT_BYTE <= budget // 2:
        return Plan(in_memory=True, workers=1)
    partition_bytes = max(1 << 20, budget // max(workers, 1) // MEMORY_PER_SPOOL_BYTE)
    partitions = max(1, math.ceil(estimate / partition_bytes))
    bits = min(MAX_PARTITION_BITS, math.ceil(math.log2(partitions)))
    return Plan(False, max(workers, 1), bits, partition_bytes)


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
