"""Out-of-core merge: two passes over hash partitions, so memory follows a budget, not the input.

- **Pass 1**, one task per input part: append each record to one of P partition files of that
  part, chosen by a stable hash (CRC-32) of its image key, tagged with its position in the
  input. A Ground Truth line is spooled as it is, its partition chosen by a key that is found
  without parsing the line (for most lines: :func:`~gtmerge.readers.groundtruth.image_key`);
  records of other formats are read here and spooled as canonical records. Lines without a
  usable image are accounted for here.
- **Pass 2**, one task per partition: read the partition's records part by part, in order
  (parsing the Ground Truth lines, accounting for them and filing their rejections), merge
  them per image, and write the rendered lines as a *run* ordered by first appearance. A
  partition larger than its share of the budget is split again on further hash bits first.
- **Final**: a k-way merge of the runs by first appearance, which is exactly the order of the
  in-memory path, so the output bytes do not depend on P, the budget or the worker count.
  Rejections are merged back into input order the same way.

The tasks are plain picklable values run by :func:`spool_input` and :func:`merge_partition`,
so a process pool runs them here and a distributed scheduler could run them elsewhere.
"""

from __future__ import annotations

import contextlib
import heapq
import io
import os
import resource
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, BinaryIO, cast

import orjson

from gtmerge import fastmerge, fastpaths, interrupts
from gtmerge.consolidate.config import Consolidation
from gtmerge.consolidate.image import Outcome
from gtmerge.consolidate.stats import ConsolidationStats
from gtmerge.ingest import (
    ORDER_WIDTH,
    FileRejection,
    account,
    open_input,
    order_key,
    reading,
    rejection_filer,
)
from gtmerge.merger import ImageMerger, paused_gc
from gtmerge.model import Box, BoxSet, ImageRecord, ImageSize, Label, Verdict
from gtmerge.readers import ReadContext, Reader
from gtmerge.readers.base import TableSpace, records_in
from gtmerge.readers.groundtruth import (
    GroundTruthReader,
    Verifies,
    image_key,
    numbered_lines,
    parse_line,
)
from gtmerge.report import InputStats, OutputStats
from gtmerge.s3 import S3, S3Settings
from gtmerge.sources import MAX_LINE_BYTES, BlankLines, Source, open_source, read_lines
from gtmerge.writer import ManifestFormat

#: Appends to one partition's spool file.
SpoolWrite = Callable[[bytes | bytearray], object]
#: The C fast path of :func:`_spool_lines` (_fastgt.c), or None.
_SPOOL_BLOCK: Any = fastpaths.load("gtmerge.readers._fastgt", "spool_lines")

_SPLIT_BITS = 4
_HASH_BITS = 32
_FILE_BUFFER = 1 << 15
#: Files :func:`ordered_lines` merges at once: the most partitions a run has (so its final
#: merge stays one pass), unless half the process's open-file limit is less.
MAX_OPEN_FILES = 256


@dataclass(frozen=True)
class SpoolTask:
    index: int
    source: Source
    settings: S3Settings
    image_root: str | None
    directory: str
    partition_bits: int
    strict: bool
    verifies: Verifies | None = None
    tables: TableSpace = field(default_factory=TableSpace)


@dataclass(frozen=True)
class SpooledPart:
    """What pass 2 needs to know of one part's spool: its input's name, and whether it holds
    raw Ground Truth lines (read in pass 2) or canonical records (read in pass 1)."""

    name: str
    raw: bool


@dataclass(frozen=True)
class MergeTask:
    """Merge the records whose key hash ends in ``partition`` (``bits`` low bits)."""

    directory: str
    parts: tuple[SpooledPart, ...]
    partition: int
    bits: int
    fmt: ManifestFormat
    max_bytes: int
    consolidation: Consolidation
    prefix: str = "spool"


@dataclass
class MergeResult:
    """One partition's run files (the manifest lines, rejects, conflicts and images to
    relabel, each line behind its order key), what it wrote, what consolidation did, and
    per part what pass 2 counted of its records (all but their lines)."""

    run: str
    rejects: str
    conflicts: str
    relabel: str
    stats: list[InputStats]
    written: OutputStats = field(default_factory=OutputStats)
    consolidated: ConsolidationStats = field(default_factory=ConsolidationStats)

    def add(self, other: MergeResult) -> None:
        """Fold in the counts of a sub-partition."""
        for stats, sub_stats in zip(self.stats, other.stats, strict=True):
            stats.add(sub_stats)
        self.written.add(other.written)
        self.consolidated.add(other.consolidated)

    @property
    def runs(self) -> tuple[str, str, str, str]:
        return (self.run, self.rejects, self.conflicts, self.relabel)


def partition_path(directory: str, prefix: str, partition: int, index: int) -> str:
    return os.path.join(directory, f"{prefix}-{partition:05d}-{index:06d}")


def rejects_path(directory: str, index: int) -> str:
    return os.path.join(directory, f"rejects-{index:06d}")


def key_hash(key: bytes) -> int:
    return zlib.crc32(key)


def spool_input(
    task: SpoolTask, on_bytes: Callable[[int], object] | None = None
) -> tuple[InputStats, SpooledPart]:
    """Pass 1 for one input part; its rejections go to its own rejects file in the directory.

    A Ground Truth manifest is spooled as its raw lines, each in the partition of its key:
    pass 2 then reads each line once, where a canonical record would be written here and read
    back there. Other formats (and ``strict`` runs, which must stop at the first bad record
    in input order) are read here and spooled as canonical records.
    """
    context = ReadContext(S3(task.settings), task.image_root, on_bytes, task.verifies, task.tables)
    count = 1 << task.partition_bits
    with ExitStack() as stack:
        rejects = stack.enter_context(open(rejects_path(task.directory, task.index), "wb"))
        files = [
            stack.enter_context(
                open(partition_path(task.directory, "spool", p, task.index), "wb", _FILE_BUFFER)
            )
            for p in range(count)
        ]
        writers = [f.write for f in files]
        filer = rejection_filer(task.source.name, rejects, task.strict, task.index)
        stats, reader = open_input(task.source, context)
        raw = isinstance(reader, GroundTruthReader) and not task.strict
        with reading(task.source, stats):
            if raw:
                _spool_lines(task.source, context, writers, stats, filer)
            else:
                _spool_records(task.source, context, reader, writers, stats, filer)
    return stats, SpooledPart(task.source.name, raw)


def _spool_lines(
    source: Source,
    context: ReadContext,
    writers: Sequence[SpoolWrite],
    stats: InputStats,
    filer: FileRejection,
) -> None:
    if _SPOOL_BLOCK is not None:
        _spool_blocks(_SPOOL_BLOCK, source, context, writers, stats, filer)
        return
    for line_no, raw in numbered_lines(source, context):
        interrupts.check()
        _spool_line(line_no, raw, writers, stats, filer)


def _spool_line(
    line_no: int,
    raw: bytes | BlankLines | None,
    writers: Sequence[SpoolWrite],
    stats: InputStats,
    filer: FileRejection,
) -> None:
    key = image_key(raw) if isinstance(raw, bytes) else None
    if key is None:  # a line without a usable image is accounted for here
        item = parse_line(line_no, raw)
        stats.lines += records_in(item)
        account(item, stats, filer)
    else:
        stats.lines += 1
        assert isinstance(raw, bytes)
        end = b"" if raw.endswith(b"\n") else b"\n"  # only the last line may lack one
        writers[key_hash(key) & (len(writers) - 1)](b"%d\t%b%b" % (line_no, raw, end))


def _spool_blocks(
    spool_block: Callable[[bytes, int, list[bytearray], int], tuple[int, int]],
    source: Source,
    context: ReadContext,
    writers: Sequence[SpoolWrite],
    stats: InputStats,
    filer: FileRejection,
) -> None:
    """:func:`_spool_lines` a buffer at a time: the C fast path spools the lines it can, as
    :func:`_spool_line` would, and every other line (blank, overlong, keyless, or cut by the
    end of the buffer) is read by :func:`~gtmerge.sources.read_lines` and spooled here. A
    line ends read_lines' work: it holds nothing back after yielding one."""
    spools = [bytearray() for _ in writers]
    number = 1
    with open_source(source, context.s3, context.on_bytes) as stream:
        peek = cast(io.BufferedReader, stream).peek
        while block := peek(1):
            interrupts.check()
            used, spooled = spool_block(block, number, spools, MAX_LINE_BYTES)
            for spool, write in zip(spools, writers, strict=True):
                if spool:  # before any line spooled below: the spools keep input order
                    write(spool)
                    spool.clear()
            if used:
                stream.read(used)
                number += spooled
                stats.lines += spooled
                continue
            for raw in read_lines(stream):
                _spool_line(number, raw, writers, stats, filer)
                number += raw.lines if isinstance(raw, BlankLines) else 1
                if not isinstance(raw, BlankLines):
                    break


def _spool_records(
    source: Source,
    context: ReadContext,
    reader: Reader,
    writers: Sequence[SpoolWrite],
    stats: InputStats,
    filer: FileRejection,
) -> None:
    mask = len(writers) - 1
    # orjson writes plain tuples only: the model's named tuples go through ``tuple``
    dumps = partial(orjson.dumps, default=tuple)
    number = 0
    for item in reader.read(source, context):
        interrupts.check()
        stats.lines += records_in(item)
        image = account(item, stats, filer)
        if image is not None:
            writers[key_hash(image.key.encode()) & mask](b"%d\t%b\n" % (number, dumps(image)))
            number += 1


def merge_partition(task: MergeTask) -> MergeResult:
    """Pass 2 for one partition: a run of rendered lines in first-appearance order."""
    paths = [
        partition_path(task.directory, task.prefix, task.partition, index)
        for index in range(len(task.parts))
    ]
    size = sum(os.path.getsize(path) for path in paths)
    if size > task.max_bytes and task.bits + _SPLIT_BITS <= _HASH_BITS:
        return _split(task, paths)
    result = MergeResult(*_result_paths(task), _empty_stats(task))
    verifies = task.consolidation.verifies if task.consolidation.applies_verdicts else None
    with ExitStack() as stack:
        stack.enter_context(paused_gc())
        out, rejects, conflicts, relabel = (
            stack.enter_context(open(path, "wb", _FILE_BUFFER)) for path in result.runs
        )

        def write_outcome(order: bytes, outcome: Outcome) -> None:
            for conflict in outcome.conflicts:
                conflicts.write(order + orjson.dumps(conflict, option=orjson.OPT_APPEND_NEWLINE))
            if outcome.relabel:
                relabel.write(order + relabel_line(outcome.key))
            if outcome.image is not None:
                result.written.count(outcome.image)
                out.write(order + task.fmt.render(outcome.image))

        table = fastmerge.image_table(task.consolidation, task.fmt, result.written)
        if table is not None:
            for index, path in enumerate(paths):
                _load_into_table(task.parts[index], index, path, table, result, rejects, verifies)
            fastmerge.finish(
                table, task.consolidation, result.consolidated, result.written, out, write_outcome
            )
            return result
        images: dict[str, tuple[bytes, ImageMerger]] = {}
        for index, path in enumerate(paths):
            part = task.parts[index]
            _load_spool(part, index, path, images, result.stats[index], rejects, verifies)
        for order, merger in images.values():
            write_outcome(order, merger.result(task.consolidation, result.consolidated))
        # freed while collection is still paused: the first collection after it would
        # otherwise walk every record of the partition only to find them all alive
        images.clear()
    return result


def relabel_line(key: str) -> bytes:
    """A Ground Truth input manifest line for an image to label again."""
    return orjson.dumps({"source-ref": key}, option=orjson.OPT_APPEND_NEWLINE)


def _empty_stats(task: MergeTask) -> list[InputStats]:
    return [InputStats(part.name, "") for part in task.parts]


def _load_spool(
    part: SpooledPart,
    index: int,
    path: str,
    images: dict[str, tuple[bytes, ImageMerger]],
    stats: InputStats,
    rejects: BinaryIO,
    verifies: Verifies | None,
) -> None:
    """Merge every record of one part's spool file into ``images``, in input order."""
    filer = rejection_filer(part.name, rejects, False, index)
    with open(path, "rb", _FILE_BUFFER) as spool:
        for number, record in _spooled_records(part, spool, stats, filer, verifies):
            entry = images.get(record.key)
            if entry is None:
                merger = ImageMerger(record.key)
                entry = images[record.key] = (order_key(index, number), merger)
            if not entry[1].add(record):
                stats.duplicates += 1
    os.unlink(path)


def _load_into_table(
    part: SpooledPart,
    index: int,
    path: str,
    table: fastmerge.ImageTable,
    result: MergeResult,
    rejects: BinaryIO,
    verifies: Verifies | None,
) -> None:
    """:func:`_load_spool` for the C merge: raw lines are read there, a buffer at a time."""
    stats = result.stats[index]
    filer = rejection_filer(part.name, rejects, False, index)
    with open(path, "rb", _FILE_BUFFER) as spool:
        if part.raw:
            fastmerge.add_raw_spool(table, index, spool, stats, filer, verifies)
        else:
            for number, record in _spooled_records(part, spool, stats, filer, verifies):
                if not table.add_record(index, number, record):
                    stats.duplicates += 1
    os.unlink(path)


def _spooled_records(
    part: SpooledPart,
    spool: BinaryIO,
    stats: InputStats,
    filer: FileRejection,
    verifies: Verifies | None,
) -> Iterator[tuple[int, ImageRecord]]:
    """The records of a spool file with their numbers; a raw line is parsed and accounted for
    here, and yields nothing when it has no image."""
    for line in spool:
        interrupts.check()
        tagged, data = line[:-1].split(b"\t", 1)
        number = int(tagged)
        if part.raw:
            record = account(parse_line(number, data, verifies), stats, filer)
            if record is None:
                continue
        else:
            record = decode(orjson.loads(data))
        yield number, record


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
                key = _spooled_key(line[:-1].split(b"\t", 1)[1], task.parts[index].raw)
                files[(key_hash(key) >> task.bits) & (count - 1)].write(line)
        os.unlink(path)
    result = MergeResult(*_result_paths(task), _empty_stats(task))
    subs = [
        merge_partition(
            MergeTask(
                task.directory,
                task.parts,
                sub,
                task.bits + _SPLIT_BITS,
                task.fmt,
                task.max_bytes,
                task.consolidation,
                prefix,
            )
        )
        for sub in range(count)
    ]
    for sub_result in subs:
        result.add(sub_result)
    # One run of each kind per partition, however often it was split: the final merge then
    # holds one open file per top-level partition, not one per leaf.
    for kind, target in enumerate(result.runs):
        pieces = [sub.runs[kind] for sub in subs]
        with open(target, "wb", _FILE_BUFFER) as out:
            out.writelines(ordered_lines(pieces))
        for piece in pieces:
            os.unlink(piece)
    return result


def _spooled_key(data: bytes, raw: bool) -> bytes:
    if raw:
        key = image_key(data)
        assert key is not None, "pass 1 spools only lines with an image key"
        return key
    return str(orjson.loads(data)[0]).encode()


def _result_paths(task: MergeTask) -> tuple[str, str, str, str]:
    name = f"{task.prefix}-{task.partition:05d}"
    kinds = ("run", "rejected", "conflicts", "relabel")
    return tuple(os.path.join(task.directory, f"{kind}-{name}") for kind in kinds)  # type: ignore[return-value]


def ordered_lines(paths: list[str]) -> Iterator[bytes]:
    """The lines of several files sorted by order key (each file is), order keys included.

    At most :data:`MAX_OPEN_FILES` (or half the descriptors still free) are open at once,
    whatever the number of files (one per input part: a run over thousands of inputs must not hit
    ``ulimit -n``): groups of them are first merged into intermediate files next to them,
    removed once read.
    """
    fan_in = merge_fan_in()
    merged: list[str] = []
    try:
        while len(paths) > fan_in:
            targets = []
            for start in range(0, len(paths), fan_in):
                target = f"{paths[start]}.merged-{len(merged)}"
                merged.append(target)
                with (
                    open(target, "wb", _FILE_BUFFER) as out,
                    _opened(paths[start : start + fan_in]) as files,
                ):
                    out.writelines(heapq.merge(*files))
                targets.append(target)
            paths = targets
        with _opened(paths) as files:
            yield from heapq.merge(*files)
    finally:
        for path in merged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def merge_fan_in() -> int:
    """How many files a merge of runs may open at once (see :func:`ordered_lines`)."""
    return max(2, min(MAX_OPEN_FILES, _free_descriptors() // 2))


@contextmanager
def _opened(paths: list[str]) -> Iterator[list[BinaryIO]]:
    with ExitStack() as stack:
        yield [stack.enter_context(open(path, "rb", _FILE_BUFFER)) for path in paths]


def _free_descriptors() -> int:
    """How many more files this process can open (the limit less those open: a test runner
    or a library may hold dozens)."""
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    try:
        in_use = len(os.listdir("/proc/self/fd"))  # Linux; /dev/fd elsewhere
    except OSError:
        try:
            in_use = len(os.listdir("/dev/fd"))
        except OSError:
            in_use = 0
    return limit - in_use


def merged_lines(runs: list[str]) -> Iterator[bytes]:
    """The lines of all runs in first-appearance order, without their order keys."""
    for line in ordered_lines(runs):
        yield line[ORDER_WIDTH:]


def decode(data: list[Any]) -> ImageRecord:
    """The inverse of orjson's serialisation of an :class:`ImageRecord` (tuples as arrays)."""
    key, labels, box_sets, superseded, blank, verdicts = data
    return ImageRecord(
        key,
        tuple(Label(*label) for label in labels),
        tuple(_box_set(box_set) for box_set in box_sets),
        tuple(_box_set(box_set) for box_set in superseded),
        tuple(tuple(answer) for answer in blank),
        tuple(_verdict(*verdict) for verdict in verdicts),
    )


def _verdict(verdict: str, job: str | None, attribute: str, date: str, target: Any) -> Verdict:
    return Verdict(verdict, job, attribute, date, tuple(target) if target is not None else None)


def _box_set(data: list[Any]) -> BoxSet:
    size, boxes, *provenance = data
    return BoxSet(ImageSize(*size), tuple(Box(*box) for box in boxes), *provenance)
