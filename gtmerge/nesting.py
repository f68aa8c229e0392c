"""One nesting limit for every JSON gtmerge reads.

orjson refuses documents nested deeper than 1024 levels (JSON lines, manifests). ijson, which
streams whole JSON documents (COCO, Label Studio) and detects formats, has no limit, and the
path it keeps for every open level makes deep nesting cost memory quadratic in the depth
(20,000 levels in 40 KB cost 1 GB). :class:`NestingGuard` watches the bytes on their way to
ijson and stops a document at the same limit as orjson, in bounded memory.
"""

from __future__ import annotations

import re

#: orjson's own limit, so that JSON lines and JSON documents agree.
MAX_NESTING = 1024

_ESCAPE = re.compile(rb"\\.", re.DOTALL)
#: A string once its escapes are gone: no backtracking, whatever the bytes.
_STRING = re.compile(rb'"[^"]*"')


class NestingError(ValueError):
    """A JSON document nested deeper than :data:`MAX_NESTING` levels."""


class NestingGuard:
    """Follows the nesting depth of a JSON text fed in chunks of any size; raises
    :class:`NestingError` past ``limit``. Brackets inside strings do not count."""

    def __init__(self, limit: int = MAX_NESTING) -> None:
        self.limit = limit
        self.depth = 0
        self._in_string = False
        self._escaped = False  # the chunk ended on the backslash of an escape in a string

    def feed(self, chunk: bytes) -> None:
        # Byte-level work only (find, split, join, count run in C): a COCO file has millions
        # of short strings, and a loop over them in Python would cost more than parsing.
        if self._escaped:  # the first byte is the second half of an escape
            self._escaped, chunk = False, chunk[1:]
        if b"\\" in chunk:
            # Inside strings every backslash starts a two-byte escape (outside, JSON has none):
            # without them, the quotes left alternate between opening and closing strings.
            chunk = _ESCAPE.sub(b"", chunk)
            if chunk.endswith(b"\\"):  # the escape goes on in the next chunk
                self._escaped, chunk = True, chunk[:-1]
        if self._in_string:  # the string the last chunk ended in
            close = chunk.find(b'"')
            if close == -1:
                return
            self._in_string, chunk = False, chunk[close + 1 :]
        outside = _STRING.sub(b"", chunk)
        opened = outside.find(b'"')  # a string that goes on in the next chunk
        if opened != -1:
            self._in_string, outside = True, outside[:opened]
        self._structure(outside)

    def _structure(self, text: bytes) -> None:
        opens = text.count(b"[") + text.count(b"{")
        closes = text.count(b"]") + text.count(b"}")
        if self.depth + opens > self.limit:  # close to the limit: follow it bracket by bracket
            for byte in text:
                if byte in b"[{":
                    self.depth += 1
                    if self.depth > self.limit:
                        raise NestingError(f"nested deeper than {self.limit} levels")
                elif byte in b"]}":
                    self.depth -= 1
            return
        self.depth += opens - closes
