"""What every reader yields, one item per input record (a line, a CSV row, a JSON element).

Every record of an input is accounted for exactly once: it becomes a :class:`Parsed` (its image
goes to the merge), a :class:`Rejection` (written to the rejects file with its reason) or a
:class:`Skipped` (a blank line or empty row: nothing to say about any image).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from gtmerge.model import ImageRecord
from gtmerge.s3 import S3
from gtmerge.sources import Source

#: Raw text kept in a rejection; a 100 MB line is not copied whole into the rejects file.
RAW_LIMIT = 100_000


# The items are named tuples rather than dataclasses: one is made per input record, and a
# tuple is built in a third of the time of a frozen dataclass.


class Rejection(NamedTuple):
    """A record, or one attribute of it, that cannot become labels.

    ``reason`` reads ``category: detail``; the report counts rejections by category. With
    ``attribute`` set, only that attribute was dropped and the rest of the record is used (its
    :class:`Parsed` carries this rejection in ``dropped``).
    """

    line: int
    reason: str
    raw: str
    attribute: str | None = None


class Skipped(NamedTuple):
    """A blank line or empty row, or a run of ``lines`` of them from ``line`` on: nothing to
    say about any image."""

    line: int
    lines: int = 1


class Parsed(NamedTuple):
    line: int
    image: ImageRecord
    dropped: tuple[Rejection, ...] = ()


Item = Parsed | Rejection | Skipped


def records_in(item: Item) -> int:
    """The input records (lines, rows, elements) an item stands for."""
    return item.lines if isinstance(item, Skipped) else 1


@dataclass(frozen=True)
class TableSpace:
    """Where the lookup tables of one source may live (gtmerge/mapping/tables.py): ``memory``
    bytes in memory, shared by its tables, and beyond that files in ``directory`` (the run's
    work directory; None: the system's temporary directory)."""

    memory: int = 64 << 20
    directory: str | None = None


@dataclass
class ReadContext:
    """What a reader may need besides its source."""

    s3: S3 = field(default_factory=S3)
    image_root: str | None = None
    on_bytes: Callable[[int], object] | None = None
    #: with verdicts applied, the ``--verifies`` names (see ``groundtruth.parse_line``)
    verifies: Mapping[str, str] | None = None
    tables: TableSpace = field(default_factory=TableSpace)


class Reader(Protocol):
    """Turns one source into a stream of items, in record order."""

    def read(self, source: Source, context: ReadContext) -> Iterator[Item]: ...


def raw_text(raw: bytes | str) -> str:
    """The raw record as text for the rejects file: invalid UTF-8 replaced, length capped."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = text.rstrip("\r\n")
    return text if len(text) <= RAW_LIMIT else text[:RAW_LIMIT] + "…"
