"""Two outputs that appear together or not at all.

Each output is an atomic destination (:func:`gtmerge.destination.open_destination`): written
aside, made visible on success. The pair is committed second output first: if its commit
fails, the first output is aborted too. If the second commit succeeds and the first then
fails, the second is taken back: a local file is put back as it was (its earlier version was
kept as a hard link), an S3 object is deleted. What remains is a window between the two
commits (a rename, or completing an upload) in which a reader can see the new second output
next to the old first one, and, on S3, an earlier object at the second target is lost if the
first commit fails in that window (S3 versioning keeps it).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from gtmerge.destination import open_destination
from gtmerge.s3 import S3, split_uri


@contextmanager
def open_pair(first: str, second: str, s3: S3) -> Iterator[tuple[BinaryIO, BinaryIO]]:
    """Two writers whose content becomes visible at ``first`` and ``second`` only if the block
    succeeds and both can be committed."""
    backup = _keep_local(second)
    second_committed = False
    try:
        with open_destination(first, s3) as first_out:
            with open_destination(second, s3) as second_out:
                yield first_out, second_out
            second_committed = True
    except BaseException:
        if second_committed:
            _take_back(second, backup, s3)
        raise
    finally:
        if backup is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(backup)


def _keep_local(uri: str) -> str | None:
    """A hard link to the current file at a local ``uri``, to put it back; None if there is
    none (or it is not local)."""
    if uri.startswith("s3://") or not os.path.isfile(uri):
        return None
    directory = os.path.dirname(os.path.abspath(uri))
    fd, backup = tempfile.mkstemp(prefix=".gtmerge-", suffix=".previous", dir=directory)
    os.close(fd)
    os.unlink(backup)
    try:
        os.link(uri, backup)
    except OSError:
        return None
    return backup


def _take_back(uri: str, backup: str | None, s3: S3) -> None:
    with contextlib.suppress(Exception):
        if uri.startswith("s3://"):
            bucket, key = split_uri(uri)
            s3.client.delete_object(Bucket=bucket, Key=key, **s3.owner_params())
        elif backup is not None:
            os.replace(backup, uri)
        else:
            os.unlink(uri)
