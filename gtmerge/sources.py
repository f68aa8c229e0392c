"""Inputs: expand paths, globs, ``-`` and ``s3://`` URLs, and open each as a decompressed stream.

Compression is detected from the first bytes, not the name: Ground Truth writes
``output.manifest`` whatever the codec, and smart-open only looks at extensions.
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import io
import lzma
import os
import re
import sys
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO, NamedTuple, cast

from gtmerge.errors import name_excerpt
from gtmerge.s3 import S3, describe_error, split_uri

if sys.version_info >= (3, 14):
    from compression.zstd import ZstdError
else:  # what smart-open's .zst codec uses before Python 3.14
    from backports.zstd import ZstdError

#: What a truncated or corrupt compressed stream raises, bzip2's plain OSError aside.
_CODEC_ERRORS = (EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile, ZstdError)
#: bzip2's corrupt-data error is a plain OSError with this text; any other OSError is a failed
#: read of the compressed bytes themselves (S3 retries run out, a timeout), reported as such.
_BZIP2_DATA_ERROR = "Invalid data stream"

_READ_BUFFER = 1 << 20
_MAGIC = (
    (b"\x1f\x8b", ".gz"),
    (b"BZh", ".bz2"),
    (b"\xfd7zXZ\x00", ".xz"),
    (b"\x28\xb5\x2f\xfd", ".zst"),
)
_GLOB_CHARS = re.compile(r"[*?\[]")


class InputError(Exception):
    """An input that cannot be found or opened; the message is one line, fit for the user."""


@dataclass(frozen=True)
class Source:
    """One input: a local path, ``-`` for stdin, or an ``s3://`` URL (an object or a prefix).

    ``size`` is the stored (compressed) byte count when known, for progress bars.
    ``mapping`` names the mapping chosen for this input, or None to detect it.
    ``span`` limits a local plain file to the byte range ``[start, end)``, which starts and
    ends at line boundaries: one part of an input split for parallel reading.
    """

    uri: str
    size: int | None = None
    mapping: str | None = None
    span: tuple[int, int] | None = None

    @property
    def is_s3(self) -> bool:
        return self.uri.startswith("s3://")

    @property
    def name(self) -> str:
        return "<stdin>" if self.uri == "-" else self.uri


def expand(spec: str, s3: S3, mapping: str | None = None) -> list[Source]:
    """Turn one command-line input into sources, globs expanded in sorted order."""
    if not spec:  # as Outputs.open refuses it: not a file, and not an option left out either
        raise InputError("'': an empty name cannot be an input")
    if spec == "-":
        if sys.stdin is None or sys.stdin.closed:  # started with stdin closed (<&-)
            raise InputError("-: standard input is closed")
        return [Source("-", None, mapping)]
    if spec.startswith("s3://"):
        return _expand_s3(spec, s3, mapping)
    if _GLOB_CHARS.search(spec) and not os.path.exists(spec):
        paths = sorted(p for p in glob.glob(spec, recursive=True) if os.path.isfile(p))
        if not paths:
            raise InputError(f"{name_excerpt(spec)}: no file matches this pattern")
        return [Source(p, os.path.getsize(p), mapping) for p in paths]
    if os.path.isdir(spec):
        return [Source(spec, None, mapping)]
    if not os.path.isfile(spec):
        raise InputError(f"{name_excerpt(spec)}: no such file")
    return [Source(spec, os.path.getsize(spec), mapping)]


def _expand_s3(spec: str, s3: S3, mapping: str | None) -> list[Source]:
    bucket, pattern = split_uri(spec)
    if not bucket:
        raise InputError(f"{name_excerpt(spec)}: no bucket in this S3 URL")
    if pattern == "":  # the whole bucket, a prefix like any other
        return [Source(f"s3://{bucket}/", None, mapping)]
    if pattern.endswith("/"):
        return [Source(spec, None, mapping)]
    glob_at = _GLOB_CHARS.search(pattern)
    try:
        if glob_at is None:
            return [Source(spec, _s3_object_size(s3, bucket, pattern), mapping)]
        with contextlib.suppress(Exception):  # a key that really contains '[', '*' or '?'
            return [Source(spec, _s3_object_size(s3, bucket, pattern), mapping)]
        prefix = pattern[: glob_at.start()]
        matcher = _glob_regex(pattern)
        found = [
            Source(f"s3://{bucket}/{obj['Key']}", int(obj["Size"]), mapping)
            for obj in list_objects(s3, bucket, prefix)
            if matcher.fullmatch(obj["Key"])
        ]
    except Exception as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{name_excerpt(spec)}: {describe_error(exc)}") from exc
    if not found:
        raise InputError(f"{name_excerpt(spec)}: no S3 object matches this pattern")
    return sorted(found, key=lambda s: s.uri)


def _s3_object_size(s3: S3, bucket: str, key: str) -> int:
    head = s3.client.head_object(Bucket=bucket, Key=key, **s3.owner_params())
    return int(head["ContentLength"])


def list_objects(s3: S3, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    """Every object under a prefix, through the paginator (no 1,000-key cut-off)."""
    paginator = s3.client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, **s3.owner_params()):
        yield from page.get("Contents", [])


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Shell-style glob over S3 keys: ``*`` and ``?`` stay inside one ``/`` segment, ``**``
    crosses them, ``[...]`` is a character class."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")  # any depth, none included: a/**/b matches a/b
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out))


class _BoundedReader(io.RawIOBase):
    """The next ``length`` bytes of a file, then end of file."""

    def __init__(self, raw: BinaryIO, length: int) -> None:
        self._raw = raw
        self._left = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._left <= 0:
            return 0
        view = memoryview(buffer)[: self._left]
        n = int(self._raw.readinto(view) or 0)  # type: ignore[attr-defined]
        self._left -= n
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


class _CountingReader(io.RawIOBase):
    """Reports every stored (compressed) byte read, for a byte-accurate progress bar."""

    def __init__(self, raw: BinaryIO, on_bytes: Callable[[int], object]) -> None:
        self._raw = raw
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self._on_bytes(n)
        return int(n or 0)

    def close(self) -> None:
        self._raw.close()
        super().close()


def sniff_compression(head: bytes) -> str | None:
    """The smart-open compression extension for a stream starting with ``head``, if any."""
    for magic, ext in _MAGIC:
        if head.startswith(magic):
            return ext
    return None


@contextmanager
def open_source(
    source: Source, s3: S3, on_bytes: Callable[[int], object] | None = None
) -> Iterator[BinaryIO]:
    """Open a source for reading as decompressed bytes."""
    try:
        if source.uri == "-":
            raw: BinaryIO = sys.stdin.buffer
        elif source.is_s3:
            import smart_open  # on first use: see gtmerge.s3._new_client

            raw = smart_open.open(
                source.uri, "rb", compression="disable", transport_params=s3.read_params()
            )
        else:
            raw = open(source.uri, "rb")  # noqa: SIM115 (closed by the stack below)
            if source.span is not None:
                start, end = source.span
                raw.seek(start)
                raw = cast(BinaryIO, _BoundedReader(raw, end - start))
    except OSError as exc:
        raise InputError(f"{source.name}: {describe_error(exc)}") from exc
    counted = raw if on_bytes is None else _CountingReader(raw, on_bytes)
    buffered = io.BufferedReader(cast(io.RawIOBase, counted), _READ_BUFFER)
    codec = sniff_compression(buffered.peek(6)[:6])
    decompressed = None
    if codec:
        import smart_open.compression  # on first use: see gtmerge.s3._new_client

        decompressed = smart_open.compression.compression_wrapper(buffered, "rb", compression=codec)
    stream = cast(
        BinaryIO,
        buffered
        if decompressed is None
        else io.BufferedReader(_Decompressed(decompressed, source.name), _READ_BUFFER),
    )
    try:
        yield stream
    finally:
        if source.uri == "-":
            buffered.detach()
        else:
            stream.close()
            buffered.close()  # a decompressor does not close the file it reads


class _Decompressed(io.RawIOBase):
    """A decompressing stream whose codec errors become one-line :class:`InputError`s."""

    def __init__(self, stream: Any, name: str) -> None:
        self._stream = stream
        self._name = name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            return int(self._stream.readinto(buffer))
        except (*_CODEC_ERRORS, OSError) as exc:
            if not isinstance(exc, _CODEC_ERRORS) and exc.args != (_BZIP2_DATA_ERROR,):
                raise
            raise InputError(f"{self._name}: cannot decompress: {exc}") from exc

    def close(self) -> None:
        self._stream.close()
        super().close()


#: Longest input line read into memory; a longer one is skipped in chunks and reported.
MAX_LINE_BYTES = 16 << 20


class BlankLines(NamedTuple):
    """A run of ``lines`` consecutive blank lines, each the bytes ``line``: a line break
    (``\n`` or ``\r\n``) after nothing but spaces and tabs."""

    lines: int
    line: bytes = b"\n"


#: Blank lines of one kind read one by one before the rest of a run is counted in bulk.
_BLANK_RUN = 64
#: A blank line as runs of them are counted: spaces and tabs, then a line break. Other
#: whitespace (a lone CR, which CSV reads as a line break of its own) is read line by line.
_BLANK_LINE = re.compile(rb"[ \t]*\r?\n")


def read_lines(
    stream: BinaryIO,
    max_bytes: int = MAX_LINE_BYTES,
    on_overlong: Callable[[int], object] | None = None,
) -> Iterator[bytes | BlankLines | None]:
    """Lines of a stream, with ``None`` in place of any line longer than ``max_bytes``, and
    each run of identical blank lines (``\n``, ``\r\n``, spaces and tabs before a line break)
    as one :class:`BlankLines`.

    A file with a 100 MB line and no newline must not need 100 MB of memory, so lines are read
    with a size limit and the rest of an overlong line is drained chunk by chunk. A GiB of
    line breaks (33 KB compressed), or of ``\r\n``, is counted a buffer at a time, not a line at
    a time. Every
    reader of lines (manifests, CSV, ``validate``) reads through here, so one limit holds for
    all; ``on_overlong`` is told the size of each overlong line, before its ``None``.
    """
    readline = stream.readline
    blank = 0
    kind = b"\n"  # the blank line of the run being counted
    while True:
        line = readline(max_bytes)
        if line == kind or (line.isspace() and _BLANK_LINE.fullmatch(line)):
            if line != kind:
                if blank:
                    yield BlankLines(blank, kind)
                    blank = 0
                kind = line
            blank += 1
            if blank >= _BLANK_RUN:
                blank += _skip_repeats(stream, kind)
            continue
        if blank:
            yield BlankLines(blank, kind)
            blank = 0
        if not line:
            return
        if len(line) < max_bytes or line.endswith(b"\n"):
            yield line
            continue
        rest = readline(max_bytes)
        if not rest:  # exactly the limit, at the end of the stream
            yield line
            return
        size = len(line) + len(rest)
        while rest and not rest.endswith(b"\n"):
            rest = readline(max_bytes)
            size += len(rest)
        if on_overlong is not None:
            on_overlong(size)
        yield None


def _skip_repeats(stream: BinaryIO, line: bytes) -> int:
    """Read past the copies of the blank ``line`` at the position, a buffer at a time; how
    many. A copy cut by the end of the buffer is left to the caller's next line."""
    peek = getattr(stream, "peek", None)
    width = len(line)
    count = 0
    while peek is not None and (buffered := peek(1)):
        # the bytes ``line`` is made of, then how many whole copies of it they start with
        copies = (len(buffered) - len(buffered.lstrip(line))) // width
        if buffered[: copies * width] != line * copies:
            copies = _whole_copies(buffered, line, copies)
        if copies:
            stream.read(copies * width)
            count += copies
        if not copies or (copies + 1) * width <= len(buffered):
            break
    return count


def _whole_copies(buffered: bytes, line: bytes, most: int) -> int:
    """How many copies of ``line`` ``buffered`` starts with, knowing it is fewer than ``most``
    (bisected: each comparison runs in C)."""
    low, high = 0, most - 1
    while low < high:
        middle = (low + high + 1) // 2
        if buffered[: middle * len(line)] == line * middle:
            low = middle
        else:
            high = middle - 1
    return low
