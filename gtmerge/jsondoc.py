"""The records of a JSON document (COCO, Label Studio, a home-made export), at I/O speed.

A record list inside one JSON document is cut into its elements here, byte by byte, and each
element is parsed on its own by orjson. Memory holds one element, and an element is held only
up to the line limit (``sources.MAX_LINE_BYTES``), the one every line reader has: a longer one
(a Label Studio task with 500,000 boxes, a 128 MB string) is drained without being held and
becomes a :class:`Bad` record with its reason, as is one nested deeper than
:data:`MAX_NESTING` levels (orjson's own limit, so that JSON lines and JSON documents agree).
The rest of the document is read on.

Why not a streaming parser: ijson re-reads a token that spans its buffers from its start, so one
long string cost time quadratic in its length (128 MB: over a minute), and its path grows with
the depth (20,000 levels in 40 KB cost 1 GB); and it cannot skip the rest of a record it has
started building. The scanner below steps over strings and everything but brackets with one
regular expression match each (C speed), so its Python work is one step per run of brackets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO, NamedTuple

import orjson

from gtmerge.sources import MAX_LINE_BYTES

#: orjson's own limit, so that JSON lines and JSON documents agree.
MAX_NESTING = 1024
_CHUNK = 1 << 20

#: Everything up to the next bracket or a string the buffer cuts: complete strings included.
_RUN = re.compile(rb'[^"\[\]{}]*(?:"[^"\\]*(?:\\.[^"\\]*)*"[^"\[\]{}]*)*')
#: The rest of a string after its opening quote, up to its closing quote or the buffer's end
#: (short of a backslash whose escape the buffer cuts).
_STRING_BODY = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*')
_OPENS = re.compile(rb"[\[{][\[{\s]*")
_CLOSES = re.compile(rb"[\]}][\]}\s]*")
_SCALAR = re.compile(rb"[^,\]}\s]*")
_SPACE = re.compile(rb"\s*")
#: A list or object nested at most three deep, whole in the buffer: most records are, and this
#: finds their end in one match (brackets counted as the scanner counts them; orjson then
#: checks that they pair up).
_NESTED = rb"[\[{]" + _RUN.pattern + rb"[\]}]"
for _ in range(2):
    _NESTED = rb"[\[{]" + _RUN.pattern + rb"(?:" + _NESTED + _RUN.pattern + rb")*[\]}]"
_SMALL = re.compile(_NESTED)
_QUOTE, _OPEN_LIST, _OPEN_OBJECT = 0x22, 0x5B, 0x7B
_BOM = b"\xef\xbb\xbf"


class DocumentError(ValueError):
    """The document around the records is not JSON: it cannot be read on."""


class Bad(NamedTuple):
    """A record that cannot be parsed; ``raw`` is what is shown of it (b"" when not held)."""

    reason: str
    raw: bytes


TOO_LONG = "record too long: over the reader's line limit"
TOO_DEEP = f"nested deeper than {MAX_NESTING} levels"
#: orjson writes no deeper than this: a value it read (up to MAX_NESTING levels) but nested
#: deeper raises ``orjson.JSONEncodeError`` when written back.
MAX_WRITTEN_NESTING = 255
TOO_DEEP_TO_WRITE = f"nested deeper than the {MAX_WRITTEN_NESTING} levels gtmerge writes"


def records(stream: BinaryIO, path: Sequence[str]) -> Iterator[Any]:
    """The elements of the list at ``path`` (keys from the top-level object; ``()`` for a
    top-level list), each parsed, or a :class:`Bad`. Raises :class:`DocumentError`."""
    for _, element in elements(stream, [tuple(path)]):
        yield element


def elements(stream: BinaryIO, paths: Sequence[tuple[str, ...]]) -> Iterator[tuple[int, Any]]:
    """``(index of the path, element)`` for the elements of the lists at every one of
    ``paths``, in document order, in one pass."""
    scanner = _Scanner(stream)
    scanner.skip_bom()
    scanner.expect(b"{" if any(paths) else b"[", consume=False)
    yield from scanner.walk(list(enumerate(paths)))
    scanner.end()


def top_keys(head: bytes, in_list: bool) -> set[str]:
    """Keys of the top-level object, or of the first element of a top-level list, as far as
    ``head`` (the first bytes of a document) shows them; a value nested too deep or cut by
    the head's end is no obstacle."""
    scanner = _Scanner(None, head)
    scanner.skip_bom()
    keys: set[str] = set()
    try:
        if in_list:
            if scanner.next_byte() != _OPEN_LIST:
                return keys
            scanner.pos += 1
            scanner.skip_space()
        if scanner.next_byte() != _OPEN_OBJECT:
            return keys
        for key in scanner.members():
            keys.add(key)
            scanner.value(hold=False)
    except DocumentError:
        pass  # the head ends mid-document; the keys seen so far are enough
    return keys


class _Scanner:
    def __init__(self, stream: BinaryIO | None, data: bytes = b"") -> None:
        self._stream = stream
        self.buf = data
        self.pos = 0
        self._dropped = 0  # bytes of the document before ``buf``
        self._mark: int | None = None  # start of the value being held
        self._too_long = False

    # ---- the buffer ---------------------------------------------------------------------

    def _more(self) -> bool:
        """Append the next chunk; bytes before the position (or the held value) are let go."""
        chunk = self._stream.read(_CHUNK) if self._stream is not None else b""
        if not chunk:
            return False
        keep = self.pos if self._mark is None else self._mark
        self._dropped += keep
        self.buf = self.buf[keep:] + chunk
        self.pos -= keep
        if self._mark is not None:
            self._mark = 0
            if len(self.buf) > MAX_LINE_BYTES:  # give the value up, read on to its end
                self._mark, self._too_long = None, True
        return True

    def next_byte(self) -> int | None:
        """The byte at the position, spaces skipped; None at the end of the document."""
        self.skip_space()
        return self.buf[self.pos] if self.pos < len(self.buf) else None

    def skip_space(self) -> None:
        while True:
            self.pos = _SPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf) or not self._more():
                return

    def skip_bom(self) -> None:
        if len(self.buf) < 3:
            self._more()
        if self.buf.startswith(_BOM, self.pos):
            self.pos += 3

    def expect(self, wanted: bytes, consume: bool = True) -> int:
        """The next byte, one of ``wanted``, read past unless not ``consume``."""
        found = self.next_byte()
        if found is None or bytes((found,)) not in wanted:
            shown = "the end" if found is None else repr(chr(found))
            expected = " or ".join(repr(chr(byte)) for byte in wanted)
            raise DocumentError(f"expected {expected} at byte {self._offset()}, found {shown}")
        self.pos += consume
        return found

    def _offset(self) -> int:
        return self._dropped + self.pos + 1

    def end(self) -> None:
        if self.next_byte() is not None:
            raise DocumentError(f"more data after the document, at byte {self._offset()}")

    # ---- structure ----------------------------------------------------------------------

    def walk(self, paths: list[tuple[int, tuple[str, ...]]]) -> Iterator[tuple[int, Any]]:
        """The elements of the lists at ``paths`` (relative to the value at the position);
        the value is read to its end."""
        here = [index for index, path in paths if not path]
        first = self.next_byte()
        if here and first == _OPEN_LIST:
            self.pos += 1
            for element in self._items():
                for index in here:
                    yield index, element
            return
        deeper = [(index, path) for index, path in paths if path]
        if not deeper or first != _OPEN_OBJECT:
            self.value(hold=False)
            return
        for key in self.members():
            wanted = [(index, path[1:]) for index, path in deeper if path[0] == key]
            if wanted:
                yield from self.walk(wanted)
            else:
                self.value(hold=False)

    def members(self) -> Iterator[str]:
        """The keys of the object that opens at the position; the caller reads each value."""
        self.expect(b"{")
        if self.next_byte() == ord("}"):
            self.pos += 1
            return
        while True:
            if self.next_byte() != _QUOTE:
                self.expect(b'"')
            self._mark, self._too_long = self.pos, False
            self.pos += 1
            self._string_rest()
            if self._too_long:
                raise DocumentError(f"a key over the line limit, before byte {self._offset()}")
            try:
                key = orjson.loads(self.buf[self._mark : self.pos])
            except orjson.JSONDecodeError as exc:
                raise DocumentError(f"a key that is not JSON text: {exc.msg}") from exc
            self._mark = None
            self.expect(b":")
            yield key
            if self.expect(b",}") == ord("}"):
                return

    def _items(self) -> Iterator[Any]:
        """The parsed elements of the list whose ``[`` was just read."""
        if self.next_byte() == ord("]"):
            self.pos += 1
            return
        while True:
            yield self.value(hold=True)
            if self.expect(b",]") == ord("]"):
                return

    def value(self, hold: bool) -> Any:
        """Read the value at the position; parsed (or a :class:`Bad`) when ``hold``."""
        first = self.next_byte()
        if first is None:
            raise DocumentError("the document ends where a value should be")
        start = self.pos
        self._mark = start if hold else None
        self._too_long = False
        deep = False
        small = _SMALL.match(self.buf, start) if first in (_OPEN_LIST, _OPEN_OBJECT) else None
        if small is not None:
            self.pos = small.end()
        elif first in (_OPEN_LIST, _OPEN_OBJECT):
            deep = self._container()
        elif first == _QUOTE:
            self.pos += 1
            self._string_rest()
        else:
            self._scalar()
        held, self._mark = self._mark, None
        if not hold:
            return None
        if deep:
            return Bad(TOO_DEEP, b"")
        if held is None or self._too_long:
            return Bad(TOO_LONG, b"")
        raw = self.buf[held : self.pos]
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return Bad(f"invalid JSON: {exc.msg} at byte {exc.pos + 1}", raw)

    def _container(self) -> bool:
        """Read a list or object to its end; whether it nests deeper than the limit."""
        depth = deepest = 0
        while True:
            self.pos = _RUN.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos == len(self.buf):
                if not self._more():
                    raise DocumentError("the document ends inside a value")
                continue
            byte = self.buf[self.pos]
            if byte == _QUOTE:  # a string the buffer cuts
                self.pos += 1
                self._string_rest()
                continue
            opens = _OPENS.match(self.buf, self.pos)
            if opens is not None:
                depth += self.buf.count(b"[", *opens.span()) + self.buf.count(b"{", *opens.span())
                deepest = max(deepest, depth)
                self.pos = opens.end()
                continue
            closes = _CLOSES.match(self.buf, self.pos)
            assert closes is not None
            count = self.buf.count(b"]", *closes.span()) + self.buf.count(b"}", *closes.span())
            if count < depth:
                depth -= count
                self.pos = closes.end()
                continue
            while depth:  # the value ends inside this run
                if self.buf[self.pos] in b"]}":
                    depth -= 1
                self.pos += 1
            return deepest > MAX_NESTING

    def _string_rest(self) -> None:
        """Read on past the closing quote of the string whose opening quote was just read."""
        while True:
            self.pos = _STRING_BODY.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf) and self.buf[self.pos] == _QUOTE:
                self.pos += 1
                return
            if not self._more():
                raise DocumentError("the document ends inside a string")

    def _scalar(self) -> None:
        while True:
            self.pos = _SCALAR.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf) or not self._more():
                return
