"""The C merge of a spool partition (``_fastmerge.c``), and what it hands back to Python.

:func:`gtmerge.spool.merge_partition` merges a partition either here or with the Python
reference (:mod:`gtmerge.merger` and :mod:`gtmerge.consolidate` for every image); both give
the same bytes and counts. Here, an :class:`ImageTable` gathers each image's records in C:
raw Ground Truth lines that the reader's C fast path takes are read in C, every other line is
read and accounted for by :func:`~gtmerge.readers.groundtruth.parse_line` (the callback
``fallback``), and records of other formats are added one by one. At the end the table
writes every image with nothing to decide (no verdict, no adjustment, no empty selection, one
answer per question) and hands every other image's records to the Python merge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, BinaryIO, Protocol

import orjson

from gtmerge import fastpaths, interrupts, rekognition
from gtmerge.consolidate.config import Consolidation
from gtmerge.consolidate.image import Outcome
from gtmerge.consolidate.stats import MAX_HELD, ConsolidationStats
from gtmerge.ingest import FileRejection, account, order_key
from gtmerge.merger import ImageMerger
from gtmerge.model import ImageRecord
from gtmerge.readers.groundtruth import Verifies, parse_line, record_of
from gtmerge.report import InputStats, OutputStats
from gtmerge.writer import ManifestFormat

#: Bytes of a spool file handed to the table at once.
_CHUNK = 1 << 20


class ImageTable(Protocol):
    """The C type's interface (``gtmerge/_fastmerge.c``)."""

    answers: dict[str, int]

    def add_lines(
        self, part: int, chunk: bytes, fallback: Callable[[int, bytes], ImageRecord | None]
    ) -> tuple[int, int, int]: ...

    def add_record(self, part: int, number: int, record: ImageRecord) -> bool: ...

    def finish(
        self,
        write: Callable[[bytes], object],
        consolidate: Callable[[int, int, str, list[ImageRecord] | None], None],
    ) -> tuple[int, int, int]: ...


_TABLE: Any = fastpaths.load("gtmerge._fastmerge", "ImageTable")
_READ_CLEAN: Any = fastpaths.load("gtmerge.readers._fastgt", "read_clean")
_LEADING_KEY: Any = fastpaths.load("gtmerge.readers._fastgt", "leading_key")

WriteOutcome = Callable[[bytes, Outcome], None]


def image_table(
    config: Consolidation, fmt: ManifestFormat, written: OutputStats
) -> ImageTable | None:
    """A table for a partition merged with ``config``, or None when the run needs the Python
    merge for every image (a class filter or rename, ``--question`` or ``--verifies``: they
    change or look at images with nothing to decide too) or the C fast paths are not there."""
    if _TABLE is None or _READ_CLEAN is None or _LEADING_KEY is None:
        return None
    if config.classes.active or config.questions or config.verifies:
        return None
    table: ImageTable = _TABLE(
        loads=orjson.loads,
        dumps=orjson.dumps,
        read_clean=_READ_CLEAN,
        leading_key=_LEADING_KEY,
        make_record=record_of,
        record_type=ImageRecord,
        label_counts=written.labels,
        box_counts=written.boxes,
        # the quoted names without their closing quote: the table appends the number
        label_prefix=orjson.dumps(fmt.label_attribute)[:-1],
        box_prefix=orjson.dumps(fmt.box_attribute)[:-1],
        classification=orjson.dumps(rekognition.CLASSIFICATION),
        detection=orjson.dumps(rekognition.DETECTION),
        max_held=MAX_HELD,
    )
    return table


def add_raw_spool(
    table: ImageTable,
    part: int,
    spool: BinaryIO,
    stats: InputStats,
    filer: FileRejection,
    verifies: Verifies | None,
) -> None:
    """Every raw Ground Truth line of one part's spool file, in order."""

    def fallback(number: int, data: bytes) -> ImageRecord | None:
        return account(parse_line(number, data, verifies), stats, filer)

    rest = b""
    while chunk := spool.read(_CHUNK):
        interrupts.check()
        data = rest + chunk if rest else chunk
        used, parsed, duplicates = table.add_lines(part, data, fallback)
        stats.parsed += parsed
        stats.duplicates += duplicates
        rest = data[used:]
    assert not rest, "every spooled line ends with a newline"


def finish(
    table: ImageTable,
    config: Consolidation,
    consolidated: ConsolidationStats,
    written: OutputStats,
    out: BinaryIO,
    write_outcome: WriteOutcome,
) -> None:
    """Write every image of the table in first-appearance order; the counts go to
    ``consolidated`` and ``written``."""

    def consolidate(part: int, number: int, key: str, records: list[ImageRecord] | None) -> None:
        merger = ImageMerger(key) if records is not None else ImageMerger(key, held=None)
        for record in records or ():
            merger.add(record)
        write_outcome(order_key(part, number), merger.result(config, consolidated))

    images, unlabeled, box_sets = table.finish(out.write, consolidate)
    written.images += images
    written.unlabeled_images += unlabeled
    written.box_sets += box_sets
    for question, images in table.answers.items():
        stats = consolidated.question(question)
        stats.images += images
        stats.one_answer += images
