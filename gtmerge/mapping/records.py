"""Split a source into records: JSON lines, one JSON document (streamed), CSV rows, or the image
files under a local directory or S3 prefix.

Each splitter yields ``(line, value, raw)`` per record: ``line`` is the 1-based record number
(physical line for JSON lines and CSV, position in the record list for a JSON document, position
in the sorted listing for folders); ``value`` is the parsed record, a :class:`Blank` for blank
lines or empty rows, or a :class:`BadRecord`; ``raw`` is what the rejects file shows.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, BinaryIO, NamedTuple

import orjson

from gtmerge import jsondoc
from gtmerge.errors import quoted
from gtmerge.mapping.config import Records, Table
from gtmerge.mapping.functions import FunctionError
from gtmerge.mapping.tables import LookupTable
from gtmerge.readers.base import ReadContext
from gtmerge.s3 import describe_error, split_uri
from gtmerge.sources import (
    MAX_LINE_BYTES,
    BlankLines,
    InputError,
    Source,
    list_objects,
    open_source,
    read_lines,
)

_BOM = b"\xef\xbb\xbf"


class Blank(NamedTuple):
    """A run of blank lines or empty rows."""

    lines: int


@dataclass(frozen=True)
class BadRecord:
    """A record that cannot even be parsed (invalid JSON line, ragged CSV row)."""

    reason: str


Split = Iterator[tuple[int, Any, Any]]


def split(source: Source, records: Records, context: ReadContext) -> Split:
    """The records of ``source`` as ``records`` describes them."""
    if records.format == "listing":
        return _listing(source, records, context)
    return _split_stream(source, records, context)


def _split_stream(source: Source, records: Records, context: ReadContext) -> Split:
    with open_source(source, context.s3, context.on_bytes) as stream:
        if records.format == "jsonl":
            yield from _json_lines(stream)
        elif records.format == "csv":
            yield from _csv_rows(source, stream, records)
        else:
            yield from _json_document(source, stream, records.path)


def _json_lines(stream: BinaryIO) -> Split:
    number = 0
    for line in read_lines(stream):
        number += 1
        if isinstance(line, BlankLines):
            yield number, Blank(line.lines), b""
            number += line.lines - 1
            continue
        if line is None:
            yield number, BadRecord("line too long: over the reader's line limit"), b""
            continue
        if number == 1 and line.startswith(_BOM):
            line = line[len(_BOM) :]
        if not line.strip():
            yield number, Blank(1), line
            continue
        try:
            yield number, orjson.loads(line), line
        except orjson.JSONDecodeError as exc:
            # As the Ground Truth reader says it: orjson's own text counts lines in the record.
            yield number, BadRecord(f"invalid JSON: {exc.msg} at byte {exc.pos + 1}"), line


def _json_document(source: Source, stream: BinaryIO, path: tuple[str, ...]) -> Split:
    """The elements of one list inside a JSON document (gtmerge/jsondoc.py): memory holds one
    element, and one too long or nested too deep is a bad record of its own."""
    number = 0
    try:
        for number, element in enumerate(jsondoc.records(stream, path), 1):
            if isinstance(element, jsondoc.Bad):
                yield number, BadRecord(element.reason), element.raw
            else:
                yield number, element, None
    except jsondoc.DocumentError as exc:
        raise InputError(
            f"{source.name}: invalid JSON after record {number} of "
            f"{'.'.join(path) or 'the top-level list'}: {exc}"
        ) from exc


def load_tables(
    source: Source, tables: tuple[Table, ...], context: ReadContext
) -> dict[str, LookupTable]:
    """Read every lookup table of a JSON document in one pass over it.

    The tables may come before or after the record list in the file (COCO writers differ), so
    they are read in a pass of their own; the records are then streamed in a second pass.
    Each table's ``value`` expression is applied as elements arrive, so only what the mapping
    uses is held, in memory or on disk (gtmerge/mapping/tables.py); the caller closes them.
    """
    if source.uri == "-":
        raise InputError(
            f"{source.name}: this mapping reads lookup tables first, which needs the input "
            "twice; save it to a file instead of piping it"
        )
    share = context.tables.memory // len(tables)
    loaded = [LookupTable(t.name, t.group, context.tables, share) for t in tables]
    try:
        with open_source(source, context.s3) as stream:
            try:
                for index, element in jsondoc.elements(stream, [t.path for t in tables]):
                    table = tables[index]
                    if isinstance(element, jsondoc.Bad):
                        raise InputError(f"{source.name}: table {table.name}: {element.reason}")
                    _store(source, table, element, loaded[index])
            except jsondoc.DocumentError as exc:
                raise InputError(f"{source.name}: invalid JSON: {exc}") from exc
        for lookup in loaded:
            lookup.finish()
    except BaseException:
        for lookup in loaded:
            lookup.close()
        raise
    return {lookup.name: lookup for lookup in loaded}


def _store(source: Source, table: Table, element: Any, into: LookupTable) -> None:
    try:
        key = table.key.search(element)
        value = element if table.value is None else table.value.search(element)
    except (FunctionError, ValueError, TypeError) as exc:
        raise InputError(f"{source.name}: table {table.name}: {exc}") from exc
    if key is None or isinstance(key, (dict, list)):
        raise InputError(
            f"{source.name}: table {table.name}: an entry has no usable key "
            f"(expression: {table.key.text}): {quoted(element)}"
        )
    try:
        into.add(key, value)
    except orjson.JSONEncodeError as exc:  # nested deeper than orjson writes
        raise InputError(f"{source.name}: table {table.name}: {exc}") from exc


#: Most cells one CSV row may have. A 16 MiB row of one-character cells would otherwise cost
#: over half a GB of Python strings; no export has a row near this (Rekognition takes at most
#: 250 labels in a whole dataset).
MAX_CSV_CELLS = 100_000


_LONE_CR = re.compile("(?<=\r)(?!\n)(?=.)", re.DOTALL)


class _RowTooLarge(Exception):
    """A CSV row over the line limit or with too many cells; the row is rejected."""


class _RowLost(Exception):
    """A row given up inside a quoted field whose end cannot be found: the input fails."""


class _BlankRows(Exception):
    """A run of empty lines where a row starts: that many empty rows."""

    def __init__(self, lines: int) -> None:
        super().__init__(lines)
        self.lines = lines


class _RowLines:
    """The physical lines of a CSV input as text, for :func:`csv.reader`: read through
    :func:`read_lines`, the same line reader and limit as JSON lines, so that no row (all its
    lines together, when a quoted field spans several) holds more than the line limit in
    memory. Line numbers are physical lines, counted here."""

    def __init__(self, stream: BinaryIO, records: Records) -> None:
        self._lines = read_lines(stream, MAX_LINE_BYTES)
        self._decode = codecs.getincrementaldecoder(records.encoding)().decode
        self._delimiter = records.delimiter
        self.number = 0
        self._row_bytes = self._row_cells = 0
        self._pending: list[str] = []  # the rest of a line split at lone CRs, last first
        self._line_breaks = 0  # blank lines still to give, inside a quoted field
        self._blank = b"\n"  # and what each of them is
        quote, delimiter = re.escape(records.quotechar), re.escape(records.delimiter)
        self._quote = records.quotechar
        # a quote that opens a quoted field: at the start of a record or after a delimiter
        self._opening = re.compile(f"(?:^|(?<=[{delimiter}\r\n])){quote}")
        #: whether the last line given ended inside a quoted field, as csv reads it
        self.in_quote = False

    def start_row(self) -> None:
        self._row_bytes = self._row_cells = 0

    def __iter__(self) -> _RowLines:
        return self

    def __next__(self) -> str:
        if self._pending:
            self.number += 1
            return self._given(self._pending.pop())
        line = self._blank if self._line_breaks else next(self._lines)
        if isinstance(line, BlankLines):
            if not self._row_bytes:
                self.number += line.lines
                raise _BlankRows(line.lines)
            self._line_breaks, self._blank = line.lines, line.line
            line = line.line
        self._line_breaks = max(self._line_breaks - 1, 0)
        self.number += 1
        if line is None:
            if self.in_quote:  # what the line holds is not known, nor where the row ends
                raise self._lost()
            raise _RowTooLarge("line too long: over the reader's line limit")
        self._row_bytes += len(line)
        text = str(self._decode(line))
        if self._row_bytes > MAX_LINE_BYTES:
            self._follow(text)
            raise _RowTooLarge("row too long: its lines are over the reader's line limit")
        self._row_cells += text.count(self._delimiter)
        if self._row_cells >= MAX_CSV_CELLS:
            self._follow(text)
            raise _RowTooLarge(f"the row has over {MAX_CSV_CELLS:,} cells")
        cr = text.find("\r")
        if cr != -1 and text[cr + 1 :] not in ("", "\n"):  # a lone CR ends a line too (old Macs)
            pieces = _LONE_CR.split(text)
            self._pending = pieces[:0:-1]
            text = pieces[0]
        return self._given(text)

    def _given(self, text: str) -> str:
        """``text``, given to csv, after noting whether it ends inside a quoted field."""
        self._follow(text)
        return text

    def _follow(self, text: str) -> None:
        """Follow the quoted fields of one more line as csv reads them (doubled quotes inside,
        a quote elsewhere than at a field's start is text), to know whether the line ends
        inside one: only that lets a row cut short be read past to its real end."""
        in_quote, quote = self.in_quote, self._quote
        if not in_quote and quote not in text:
            return
        at = 0
        while True:
            if in_quote:
                at = text.find(quote, at)
                if at == -1:
                    break
                if text.startswith(quote, at + 1):  # a doubled quote: one quote of text
                    at += 2
                    continue
                in_quote, at = False, at + 1
            else:
                opening = self._opening.search(text, at)
                if opening is None:
                    break
                in_quote, at = True, opening.end()
        self.in_quote = in_quote

    def skip_row(self) -> None:
        """After a row was given up: read past the rest of it without holding it, up to the
        line where its open quoted field (if any) closes, so that the next row read is a real
        row, not text from inside the field. Blank lines inside the field go in bulk."""
        while self.in_quote:
            if self._pending:
                self.number += 1
                self._follow(self._pending.pop())
                continue
            if self._line_breaks:
                if self._quote not in self._blank.decode("ascii"):
                    self.number += self._line_breaks
                    self._line_breaks = 0
                    continue
                self._line_breaks -= 1
                line: bytes | BlankLines | None = self._blank
            else:
                line = next(self._lines, b"")
                if line == b"":  # the end of the input ends the row, as it does for csv
                    self.in_quote = False
                    return
            if isinstance(line, BlankLines):
                self._line_breaks, self._blank = line.lines, line.line
                continue
            self.number += 1
            if line is None:
                raise self._lost()
            text = str(self._decode(line))
            cr = text.find("\r")
            if cr != -1 and text[cr + 1 :] not in ("", "\n"):
                pieces = _LONE_CR.split(text)
                self._pending = pieces[:0:-1]
                text = pieces[0]
            self._follow(text)

    def _lost(self) -> _RowLost:
        return _RowLost(
            f"line {self.number} is over the reader's line limit inside a quoted field: "
            "where the row ends cannot be told"
        )


def _csv_rows(source: Source, stream: BinaryIO, records: Records) -> Split:
    lines = _RowLines(stream, records)
    reader = csv.reader(lines, delimiter=records.delimiter, quotechar=records.quotechar)
    header: list[str] | None = None
    want_header = records.header != "none"
    while True:
        line = lines.number + 1
        lines.start_row()
        try:
            try:
                row = next(reader)
            except StopIteration:
                return
            except _BlankRows as exc:
                if header is not None or not want_header:  # blank rows before the header are
                    yield line, Blank(exc.lines), b""  # not records, as below
                continue
            except (_RowTooLarge, csv.Error) as exc:
                reason = str(exc)
                if "field limit" in reason:  # most often a quote that never closes
                    reason += f"; does the quote opened on line {line} ever close?"
                if want_header and header is None:
                    # every row after it would be read against the wrong names, or as one
                    raise InputError(
                        f"{source.name}: line {line}: the header row cannot be read: {reason}"
                    ) from None
                lines.skip_row()
                yield line, BadRecord(reason), b""
                continue
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{source.name}: line {lines.number} is not {records.encoding} text; "
                "set records.encoding in the mapping"
            ) from exc
        except _RowLost as exc:
            raise InputError(f"{source.name}: {exc}") from None
        blank = not any(cell.strip() for cell in row)
        if want_header and header is None:
            if lines.number > line and any("\n" in cell or "\r" in cell for cell in row):
                # a column name with a line break in it: a quote that never closed, which
                # took every row after it into the header (the input seemed empty)
                raise InputError(
                    f"{source.name}: line {line}: the header row runs over "
                    f"{lines.number - line + 1:,} lines: does the quote opened on line {line} "
                    "ever close?"
                )
            if not blank:  # the first non-blank row is the header, not a record
                header = row
            continue
        if blank:
            yield line, Blank(1), row
        elif header is not None and records.header == "names":
            yield line, _named_row(header, row), row
        else:
            yield line, row, row


def _named_row(header: list[str], row: list[str]) -> Any:
    if len(row) > len(header):
        return BadRecord(f"the row has {len(row)} cells but the header has {len(header)}")
    return dict(zip(header, row + [""] * (len(header) - len(row)), strict=True))


def csv_text(row: list[str], records: Records) -> str:
    """A CSV row written back as one line, for the rejects file."""
    out = io.StringIO()
    csv.writer(out, delimiter=records.delimiter, quotechar=records.quotechar).writerow(row)
    return out.getvalue()


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _listing(source: Source, records: Records, context: ReadContext) -> Split:
    """One record per image file, sorted by path: ``{path, folder, modified, size}``.

    ``folder`` is the first-level folder under the listed root (the label Rekognition's console
    gives, fact sheet §7.1), or null for an image directly under it.
    """
    files = _s3_files(source, context) if source.is_s3 else _local_files(source.uri)
    wanted = records.extensions
    number = 0
    for path, modified, size in files:
        if not path.lower().endswith(wanted):
            continue
        number += 1
        if isinstance(modified, BadRecord):
            yield number, modified, path
            continue
        folder, slash, _ = path.partition("/")
        record = {
            "path": path,
            "folder": folder if slash else None,
            "modified": modified,
            "size": size,
        }
        yield number, record, path


def _local_files(root: str) -> Iterator[tuple[str, str | BadRecord, int]]:
    """``(path, modified, size)`` of every file; ``modified`` is a :class:`BadRecord` for an
    entry that cannot be read (a dangling symlink), which is rejected, not fatal."""
    found: list[tuple[str, str | BadRecord, int]] = []
    for directory, _, names in os.walk(root):
        for name in names:
            full = os.path.join(directory, name)
            relative = os.path.relpath(full, root).replace(os.sep, "/")
            try:
                stat = os.stat(full)
            except OSError as exc:
                broken = os.path.islink(full) and not os.path.exists(full)
                reason = "a symbolic link to nothing" if broken else exc.strerror
                found.append((relative, BadRecord(f"cannot read the file: {reason}"), 0))
                continue
            modified = _utc(datetime.fromtimestamp(stat.st_mtime, timezone.utc))
            found.append((relative, modified, stat.st_size))
    return iter(sorted(found, key=lambda entry: entry[0]))


def _s3_files(source: Source, context: ReadContext) -> Iterator[tuple[str, str | BadRecord, int]]:
    bucket, prefix = split_uri(source.uri)
    try:
        for obj in list_objects(context.s3, bucket, prefix):
            key = str(obj["Key"])
            if key.endswith("/"):
                continue  # a console-made "folder" marker, not an image
            modified = obj["LastModified"]
            assert isinstance(modified, datetime)
            yield key[len(prefix) :], _utc(modified), int(str(obj["Size"]))
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{source.name}: {describe_error(exc)}") from exc


def source_date(source: Source, context: ReadContext) -> str | None:
    """The source's last-modified time (UTC, to the second): the deterministic default for
    ``creation-date`` when the mapping gives none. Standard input has none, so it gets the
    time it is read, as AWS's CSV script does for every file; None for S3 prefixes (each
    listed file has its own)."""
    if source.uri == "-":
        return _utc(datetime.now(timezone.utc))
    if source.is_s3 and source.uri.endswith("/"):
        return None
    if not source.is_s3:
        return _utc(datetime.fromtimestamp(os.stat(source.uri).st_mtime, timezone.utc))
    bucket, key = split_uri(source.uri)
    try:
        head = context.s3.client.head_object(Bucket=bucket, Key=key, **context.s3.owner_params())
    except Exception as exc:
        raise InputError(f"{source.name}: {describe_error(exc)}") from exc
    return _utc(head["LastModified"])
