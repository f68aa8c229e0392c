"""Outputs that appear whole or not at all: local paths, ``-`` and ``s3://`` URLs.

- Local: written to a temporary file in the same directory, renamed over the target on
  success (atomic on POSIX), deleted on failure; the previous file survives a failed run.
- S3: a multipart upload through smart-open inside ``with``: an exception aborts the upload
  and no object is created (calling ``close()`` after an error would commit the partial
  object: engineering notes §1, gotcha 1).
- ``-``: standard output, which cannot be taken back; use a file for all-or-nothing.

Compression follows the target's extension (``.gz``, ``.bz2``, ``.zst``, ``.xz``).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import BinaryIO

import smart_open

from gtmerge.s3 import S3

_CODECS = {".gz", ".bz2", ".zst", ".xz"}
#: Faster than smart-open's default gzip level 9 for a few percent more bytes (notes §1).
_GZIP_LEVEL = 6


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
        return False
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
        params = s3.write_params(content_type_for(uri))
        with smart_open.open(
            uri, "wb", compression=codec, transport_params=params, compression_kwargs=kwargs
        ) as stream:
            yield stream
        return
    directory = os.path.dirname(os.path.abspath(uri))
    fd, temp = tempfile.mkstemp(prefix=".gtmerge-", suffix=".partial", dir=directory)
    os.close(fd)
    os.chmod(temp, 0o666 & ~_umask())  # mkstemp's 0600 would make the manifest private
    try:
        with smart_open.open(temp, "wb", compression=codec, compression_kwargs=kwargs) as stream:
            yield stream
        os.replace(temp, uri)
    except BaseException:
        os.unlink(temp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
