"""Outputs that appear whole or not at all: local paths, ``-`` and ``s3://`` URLs.

- Local: written to a temporary file in the same directory, renamed over the target on
  success (atomic on POSIX), deleted on failure; the previous file survives a failed run.
- S3: a multipart upload through smart-open: any failure, including one while completing the
  upload in ``close()`` (where smart-open's own ``with`` would not abort), aborts the upload and
  no object is created (calling ``close()`` after an error would commit the partial object:
  engineering notes §1, gotcha 1). A write that fails raises :class:`OutputError`.
- ``-``: standard output, which cannot be taken back; use a file for all-or-nothing.

Compression follows the target's extension (``.gz``, ``.bz2``, ``.zst``, ``.xz``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import Any, BinaryIO, cast

import smart_open
import smart_open.compression
from botocore.exceptions import BotoCoreError, ClientError

from gtmerge import interrupts
from gtmerge.errors import MergeError
from gtmerge.s3 import S3, describe_error

_CODECS = {".gz", ".bz2", ".zst", ".xz"}
#: Faster than smart-open's default gzip level 9 for a few percent more bytes (notes §1).
_GZIP_LEVEL = 6


class OutputError(MergeError):
    """An S3 output that could not be written; its upload was aborted."""


def compression_for(uri: str) -> str:
    suffix = PurePosixPath(uri.lower()).suffix
    return suffix if suffix in _CODECS else "disable"


def content_type_for(uri: str) -> str:
    codec = compression_for(uri)
    return "application/x-ndjson" if codec == "disable" else f"application/{codec[1:]}"


def same_target(a: str, b: str) -> bool:
    """Whether two URIs name the same file or object (so an output would overwrite an input)."""
    if a.startswith("s3://") or b.startswith("s3://"):
        return a == b
    if a == "-" or b == "-":
        return a == b
    return os.path.realpath(a) == os.path.realpath(b)


@contextmanager
def open_destination(uri: str, s3: S3) -> Iterator[BinaryIO]:
    """A binary writer whose content becomes visible at ``uri`` only if the block succeeds."""
    if uri == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    codec = compression_for(uri)
    kwargs = {"compresslevel": _GZIP_LEVEL} if codec == ".gz" else {}
    if uri.startswith("s3://"):
        yield from _s3_destination(uri, s3, codec, kwargs)
    else:
        yield from _local_destination(uri, codec, kwargs)


def check_writable(uri: str) -> None:
    """Refuse a local destination whose directory is missing before any work is done, so that
    a run never fails on its last output after replacing the first."""
    if uri == "-" or uri.startswith("s3://"):
        return
    directory = os.path.dirname(os.path.abspath(uri))
    if not os.path.isdir(directory):
        raise OutputError(f"{uri}: no such directory: {directory}")
    if os.path.isdir(uri):
        raise OutputError(f"{uri}: is a directory")


def _local_destination(uri: str, codec: str, kwargs: dict[str, Any]) -> Iterator[BinaryIO]:
    # Only this destination's own steps are write errors: what the caller's block raises (a
    # corrupt input read lazily while the output is written, say) is the caller's.
    directory = os.path.dirname(os.path.abspath(uri))
    with _write_errors(uri):
        fd, temp = tempfile.mkstemp(prefix=".gtmerge-", suffix=".partial", dir=directory)
        os.close(fd)
    try:
        with _write_errors(uri):
            os.chmod(temp, 0o666 & ~_umask())  # mkstemp's 0600 would make the manifest private
            stream = smart_open.open(temp, "wb", compression=codec, compression_kwargs=kwargs)
        try:
            yield cast(BinaryIO, _Checked(stream, uri))
        except BaseException:
            with contextlib.suppress(Exception):
                stream.close()
            raise
        with _write_errors(uri):
            stream.close()  # flushes, and ends a compressed stream
        with interrupts.commit(), _write_errors(uri):
            os.replace(temp, uri)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):  # the directory may have gone with it
            os.unlink(temp)
        raise


def _s3_destination(uri: str, s3: S3, codec: str, kwargs: dict[str, Any]) -> Iterator[BinaryIO]:
    with _write_errors(uri):
        params = s3.write_params(content_type_for(uri))
        upload: Any = smart_open.open(uri, "wb", compression="disable", transport_params=params)
    try:
        stream = smart_open.compression.compression_wrapper(upload, "wb", codec, uri, kwargs)
        yield cast(BinaryIO, _Checked(stream, uri))
        with interrupts.commit(), _write_errors(uri):
            stream.close()  # a compressor does not close the upload it writes to
            upload.close()  # completes the upload
    except BaseException:
        with contextlib.suppress(Exception):
            upload.terminate()  # aborts the upload; nothing to do if it was completed
        raise


class _Checked:
    """A writer whose failures (a full disk, S3 errors) are :class:`OutputError`s rather than
    tracebacks."""

    def __init__(self, stream: Any, uri: str) -> None:
        self._stream = stream
        self._uri = uri

    def write(self, data: bytes) -> int:
        try:
            return int(self._stream.write(data))
        except _WRITE_ERRORS as exc:
            raise _output_error(self._uri, exc) from exc


_WRITE_ERRORS = (BotoCoreError, ClientError, OSError, ValueError)


@contextmanager
def _write_errors(uri: str) -> Iterator[None]:
    try:
        yield
    except _WRITE_ERRORS as exc:
        raise _output_error(uri, exc) from exc


def _output_error(uri: str, exc: BaseException) -> OutputError:
    cause = exc.__cause__ if isinstance(exc.__cause__, ClientError) else exc
    return OutputError(f"{uri}: write failed: {describe_error(cause)}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
