"""Pass one over an input: read it, account for every record, hand on the usable images.

The same code runs in the main process (small runs, stdin) and in worker processes (spooled
runs), so every path counts and rejects records the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from gtmerge import interrupts
from gtmerge.errors import BadRecord, MergeError
from gtmerge.model import ImageRecord
from gtmerge.readers import Parsed, ReadContext, Rejection, Skipped, resolve
from gtmerge.report import InputStats
from gtmerge.s3 import describe_error
from gtmerge.sources import InputError, Source

FileRejection = Callable[[Rejection], None]


def read_input(
    source: Source, context: ReadContext, file_rejection: FileRejection
) -> tuple[InputStats, Iterator[ImageRecord]]:
    """Resolve the reader of ``source``; return its stats and the stream of its images.

    The stats are complete once the stream is exhausted.
    """
    try:
        name, reader = resolve(source, context)
    except InputError as exc:
        raise MergeError(str(exc)) from exc
    stats = InputStats(source.name, name)
    return stats, _images(source, reader.read(source, context), stats, file_rejection)


def _images(
    source: Source, items: Iterator[Any], stats: InputStats, file_rejection: FileRejection
) -> Iterator[ImageRecord]:
    try:
        for item in items:
            interrupts.check()
            stats.lines += 1
            if isinstance(item, Parsed):
                stats.parsed += 1
                stats.verdicts.update(item.verdicts)
                for dropped in item.dropped:
                    file_rejection(dropped)
                    stats.count_rejection(dropped)
                yield item.image
            elif isinstance(item, Rejection):
                file_rejection(item)
                stats.count_rejection(item)
            elif isinstance(item, Skipped):
                stats.skipped += 1
    except InputError as exc:
        raise MergeError(str(exc)) from exc
    except (OSError, EOFError, BotoCoreError, ClientError) as exc:
        where = f"{source.name}: read failed after {stats.lines} records"
        raise MergeError(f"{where}: {describe_error(exc)}") from exc


def rejection_filer(source: Source, out: BinaryIO | None, strict: bool) -> FileRejection:
    """What to do with a rejection of ``source``: a line in the rejects file, or, with
    ``strict``, the end of the run."""

    def file_rejection(rejection: Rejection) -> None:
        if strict:
            attribute = f" (attribute {rejection.attribute})" if rejection.attribute else ""
            raise BadRecord(f"{source.name}:{rejection.line}: {rejection.reason}{attribute}")
        if out is not None:
            entry: dict[str, Any] = {"file": source.name, "line": rejection.line}
            if rejection.attribute:
                entry["attribute"] = rejection.attribute
            entry["reason"] = rejection.reason
            entry["raw"] = rejection.raw
            out.write(orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE))

    return file_rejection
