"""Out-of-core merge: two passes over hash partitions, so memory follows a budget, not the input.

- **Pass 1**, one task per input: read and account for every record, and append each image
  record to one of P partition files of that input, chosen by a stable hash (CRC-32) of the
  image key, tagged with its position in the input.
- **Pass 2**, one task per partition: load the partition's records input by input, in order,
  merge them per image, and write the rendered lines as a *run* ordered by first appearance.
  A partition larger than its share of the budget is split again on further hash bits first.
- **Final**: a k-way merge of the runs by first appearance, which is exactly the order of the
  in-memory path, so the output bytes do not depend on P, the budget or the worker count.

The tasks are plain picklable values run by :func:`spool_input` and :func:`merge_partition`,
so a process pool runs them here and a distributed scheduler could run them elsewhere.
"""

from __future__ import annotations

import heapq
import os
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import orjson

from gtmerge.ingest import read_input, rejection_filer
from gtmerge.merger import ImageMerger, paused_gc
from gtmerge.model import Box, BoxSet, ImageRecord, ImageSize, Label
from gtmerge.readers import ReadContext
from gtmerge.report import InputStats, OutputStats
from gtmerge.s3 import S3, S3Settings
from gtmerge.sources import Source
from gtmerge.writer import ManifestFormat

#: Bytes of the first-appearance key in front of every run line: input index, record number.
ORDER_WIDTH = 18
_SPLIT_BITS = 4
_HASH_BITS = 32
_FILE_BUFFER = 1 << 15


@dataclass(frozen=True)
class SpoolTask:
    index: int
    source: Source
    settings: S3Settings
    image_root: str | None
    directory: str
    partition_bits: int
    strict: bool


@dataclass(frozen=True)
class MergeTask:
    """Merge the records whose key hash ends in ``partition`` (``bits`` low bits)."""

    directory: str
    inputs: int
    partition: int
    bits: int
    fmt: ManifestFormat
    max_bytes: int
    prefix: str = "spool"


@dataclass
class MergeResult:
    """One partition's run file (its lines behind their order keys), and its counts."""

    run: str
    duplicates: list[int]
    written: OutputStats = field(default_factory=OutputStats)


def partition_path(directory: str, prefix: str, partition: int, index: int) -> str:
    return os.path.join(directory, f"{prefix}-{partition:05d}-{index:06d}")


def rejects_path(directory: str, index: int) -> str:
    return os.path.join(directory, f"rejects-{index:06d}")


def key_hash(key: str) -> int:
    return zlib.crc32(key.encode())


def spool_input(task: SpoolTask, on_bytes: Callable[[int], object] | None = None) -> InputStats:
    """Pass 1 for one input; its rejections go to its own rejects file in the directory."""
    context = ReadContext(S3(task.settings), task.image_root, on_bytes)
    count = 1 << task.partition_bits
    mask = count - 1
    with ExitStack() as stack:
        rejects = stack.enter_context(open(rejects_path(task.directory, task.index), "wb"))
        files = [
            stack.enter_context(
                open(partition_path(task.directory, "spool", p, task.index), "wb", _FILE_BUFFER)
            )
            for p in range(count)
        ]
        writers = [f.write for f in files]
        filer = rejection_filer(task.source, rejects, task.strict)
        stats, images = read_input(task.source, context, filer)
        dumps = orjson.dumps
        for number, image in enumerate(images):
            writers[key_hash(image.key) & mask](b"%d\t%b\n" % (number, dumps(image)))
    return stats


def merge_partition(task: MergeTask) -> MergeResult:
    """Pass 2 for one partition: a run of rendered lines in first-appearance order."""
    paths = [
        partition_path(task.directory, task.prefix, task.partition, index)
        for index in range(task.inputs)
    ]
    size = sum(os.path.getsize(path) for path in paths)
    if size > task.max_bytes and task.bits + _SPLIT_BITS <= _HASH_BITS:
        return _split(task, paths)
    images: dict[str, tuple[bytes, ImageMerger]] = {}
    result = MergeResult(_run_path(task), [0] * task.inputs)
    with paused_gc(), open(result.run, "wb", _FILE_BUFFER) as out:
        _load_partition(paths, images, result.duplicates)
        for order, merger in images.values():
            image = merger.result()
            result.written.count(image)
            out.write(order + task.fmt.render(image))
    return result


def _load_partition(
    paths: list[str], images: dict[str, tuple[bytes, ImageMerger]], duplicates: list[int]
) -> None:
    """Merge every spooled record of a partition into ``images``, input by input."""
    for index, path in enumerate(paths):
        with open(path, "rb", _FILE_BUFFER) as spool:
            for line in spool:
                number, serialised = line[:-1].split(b"\t", 1)
                record = decode(orjson.loads(serialised))
                entry = images.get(record.key)
                if entry is None:
                    order = b"%06d%012d" % (index, int(number))
                    entry = images[record.key] = (order, ImageMerger(record.key))
                if not entry[1].add(record, serialised):
                    duplicates[index] += 1
        os.unlink(path)


def _split(task: MergeTask, paths: list[str]) -> MergeResult:
    """Spread an oversized partition over 2**_SPLIT_BITS sub-partitions and merge each."""
    prefix = f"{task.prefix}.{task.partition}"
    count = 1 << _SPLIT_BITS
    for index, path in enumerate(paths):
        with ExitStack() as stack:
            spool = stack.enter_context(open(path, "rb", _FILE_BUFFER))
            files = [
                stack.enter_context(
                    open(partition_path(task.directory, prefix, p, index), "wb", _FILE_BUFFER)
                )
                for p in range(count)
            ]
            for line in spool:
                key = orjson.loads(line.split(b"\t", 1)[1])["key"]
                files[(key_hash(key) >> task.bits) & (count - 1)].write(line)
        os.unlink(path)
    result = MergeResult(_run_path(task), [0] * task.inputs)
    parts = []
    for sub in range(count):
        part = merge_partition(
            MergeTask(
                task.directory,
                task.inputs,
                sub,
                task.bits + _SPLIT_BITS,
                task.fmt,
                task.max_bytes,
                prefix,
            )
        )
        result.duplicates = [a + b for a, b in zip(result.duplicates, part.duplicates, strict=True)]
        result.written.add(part.written)
        parts.append(part.run)
    # One run per partition, however often it was split: the final merge then holds one open
    # file per top-level partition, not one per leaf.
    with open(result.run, "wb", _FILE_BUFFER) as out:
        out.writelines(_ordered(parts))
    for part_run in parts:
        os.unlink(part_run)
    return result


def _run_path(task: MergeTask) -> str:
    return os.path.join(task.directory, f"run-{task.prefix}-{task.partition:05d}")


def _ordered(runs: list[str]) -> Iterator[bytes]:
    """The lines of several runs in first-appearance order, order keys included."""
    with ExitStack() as stack:
        files = [stack.enter_context(open(run, "rb", _FILE_BUFFER)) for run in runs]
        yield from heapq.merge(*files)


def merged_lines(runs: list[str]) -> Iterator[bytes]:
    """The lines of all runs in first-appearance order, without their order keys."""
    for line in _ordered(runs):
        yield line[ORDER_WIDTH:]


def decode(data: dict[str, Any]) -> ImageRecord:
    """The inverse of orjson's dataclass serialisation of an :class:`ImageRecord`."""
    return ImageRecord(
        data["key"],
        tuple(
            Label(
                d["name"], d["confidence"], d["human_annotated"], d["creation_date"], d["job_name"]
            )
            for d in data["labels"]
        ),
        tuple(_box_set(box_set) for box_set in data["box_sets"]),
        tuple(_box_set(box_set) for box_set in data["superseded"]),
    )


def _box_set(data: dict[str, Any]) -> BoxSet:
    size = data["image_size"]
    return BoxSet(
        ImageSize(size["width"], size["height"], size["depth"]),
        tuple(
            Box(b["class_name"], b["left"], b["top"], b["width"], b["height"], b["confidence"])
            for b in data["boxes"]
        ),
        data["human_annotated"],
        data["creation_date"],
        data["job_name"],
    )
