"""Pass one over an input: read it, account for every record, hand on the usable images.

The same code runs in the main process (small runs, stdin) and in worker processes (spooled
runs), so every path counts and rejects records the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from gtmerge.errors import BadRecord, MergeError, error_line
from gtmerge.model import ImageRecord
from gtmerge.readers import Item, Parsed, ReadContext, Reader, Rejection, Skipped, resolve
from gtmerge.report import InputStats
from gtmerge.s3 import describe_error
from gtmerge.sources import InputError, Source

FileRejection = Callable[[Rejection], None]

#: Bytes of the order key in front of spooled run and rejects lines: part index, record number.
ORDER_WIDTH = 18


def order_key(part: int, number: int) -> bytes:
    """Sorts as the record's position in the input: by part of the input, then within it."""
    return b"%06d%012d" % (part, number)


def part_of(keyed: bytes) -> int:
    """The part number in the order key at the start of ``keyed``."""
    return int(keyed[:6])


def open_input(source: Source, context: ReadContext) -> tuple[InputStats, Reader]:
    """The (empty) stats of ``source`` and the reader its mapping calls for."""
    try:
        name, reader = resolve(source, context)
    except InputError as exc:
        raise MergeError(str(exc)) from exc
    return InputStats(source.name, name), reader


def account(item: Item, stats: InputStats, file_rejection: FileRejection) -> ImageRecord | None:
    """Count one read item in ``stats`` (all but its line) and file what it rejects;
    return its image when it has one for the merge."""
    if isinstance(item, Parsed):
        stats.parsed += 1
        for dropped in item.dropped:
            file_rejection(dropped)
            stats.count_rejection(dropped)
        return item.image
    if isinstance(item, Rejection):
        file_rejection(item)
        stats.count_rejection(item)
    elif isinstance(item, Skipped):
        stats.skipped += item.lines
    return None


@contextmanager
def reading(source: Source, stats: InputStats) -> Iterator[None]:
    """Turn what reading ``source`` can raise into a one-line :class:`MergeError`."""
    try:
        yield
    except InputError as exc:
        raise MergeError(str(exc)) from exc
    except (OSError, EOFError, BotoCoreError, ClientError) as exc:
        where = f"{source.name}: read failed after {stats.lines} records"
        raise MergeError(f"{where}: {describe_error(exc)}") from exc


def rejection_filer(
    name: str, out: BinaryIO | None, strict: bool, part: int | None = None
) -> FileRejection:
    """What to do with a rejection of the input ``name``: a line in the rejects file, or, with
    ``strict``, the end of the run.

    With ``part``, each line starts with the :func:`order_key` of its record, so that the
    rejections of several parts and partitions can be merged back into input order.
    """

    def file_rejection(rejection: Rejection) -> None:
        if strict:
            attribute = f" (attribute {rejection.attribute})" if rejection.attribute else ""
            raise BadRecord(f"{name}:{rejection.line}: {rejection.reason}{attribute}")
        if out is not None:
            entry: dict[str, Any] = {"file": name, "line": rejection.line}
            if rejection.attribute:
                entry["attribute"] = rejection.attribute
            # a reason may quote a value of the input (an unknown type, a name): one line
            # of the file stays a line of a few hundred bytes whatever that value's size
            entry["reason"] = error_line(rejection.reason)
            entry["raw"] = rejection.raw
            text = orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE)
            out.write(text if part is None else order_key(part, rejection.line) + text)

    return file_rejection
