"""Outputs that appear whole or not at all: local paths, ``-`` and ``s3://`` URLs.

Every file gtmerge writes (the merged manifest, its report and rejects, an annotated copy from
``validate``) goes through :class:`Outputs`, in three steps:

1. **open**, before any input is read: the target is refused if it is one of the inputs or
   another output of the run, and its staging area is created, which proves it writable: a
   temporary file in the target's directory, or an S3 multipart upload (so a missing bucket, a
   denied ``PutObject`` or a KMS key that cannot be used fail the run before it does any work).
2. **write**, the run's whole content, out of sight: the temporary file, or the upload's parts,
   the last one included.
3. **commit**, only when every output is complete: a rename each (atomic on POSIX), a
   ``CompleteMultipartUpload`` each. Any failure or interruption before this step deletes the
   temporary files and aborts the uploads, and the previous files and objects stay.

``-`` is standard output, which cannot be taken back; use a file for all-or-nothing.
Compression follows the target's extension (``.gz``, ``.bz2``, ``.zst``, ``.xz``).
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import PurePosixPath
from types import TracebackType
from typing import Any, BinaryIO, cast

from botocore.exceptions import BotoCoreError, ClientError

from gtmerge import interrupts
from gtmerge.errors import MergeError, name_excerpt, os_reason
from gtmerge.s3 import S3, describe_error, split_uri

_CODECS = {".gz", ".bz2", ".zst", ".xz"}
#: Faster than smart-open's default gzip level 9 for a few percent more bytes (notes §1).
_GZIP_LEVEL = 6
#: Bytes per uploaded part (S3 wants at least 5 MiB but for the last; 10,000 parts at most).
_PART_BYTES = 32 << 20


class OutputError(MergeError):
    """An output that cannot be written; nothing was made visible at its target."""


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


class Outputs:
    """The outputs of one run: opened up front, committed together, or all left as they were.

    ``inputs`` are the URIs the run reads (``-`` aside: standard input is never the same
    stream as an output). Leaving the block without :meth:`commit` (an error, an
    interruption) discards every output.
    """

    def __init__(self, s3: S3, inputs: Sequence[str] = ()) -> None:
        self._s3 = s3
        self._inputs = [uri for uri in inputs if uri != "-"]
        self._staged: list[_Staged] = []

    def open(self, uri: str) -> BinaryIO:
        """A writer for ``uri``, checked and staged now; its content becomes visible only
        through :meth:`commit`."""
        if not uri:
            raise OutputError("'': an empty name cannot be an output")
        if any(same_target(uri, source) for source in self._inputs):
            raise OutputError(f"{name_excerpt(uri)}: refusing to overwrite one of the inputs")
        if any(same_target(uri, staged.uri) for staged in self._staged):
            raise OutputError(f"{name_excerpt(uri)}: every output needs distinct files")
        staged: _Staged
        if uri == "-":
            staged = _Stdout(uri)
        elif uri.startswith("s3://"):
            staged = _Upload(uri, self._s3)
        else:
            staged = _LocalFile(uri)
        self._staged.append(staged)
        # A stop request while the staging area is created waits for it to be complete: a
        # temporary file or an upload created under the exception would never be removed.
        with interrupts.deferred():
            staged.start()
        interrupts.check()
        return staged.writer

    def commit(self) -> None:
        """Complete every output, then make them visible in the order they were opened.

        Completing (a compressor's trailer, the last part of an upload) can fail and is done
        for all of them first; the commits that follow are a rename or a single
        ``CompleteMultipartUpload`` each, the only window in which a failure leaves some
        outputs new and the others old.
        """
        for staged in self._staged:
            staged.finish()
        with interrupts.commit():
            for staged in self._staged:
                staged.commit()
                staged.committed = True

    def __enter__(self) -> Outputs:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for staged in self._staged:
            if not staged.committed:
                staged.discard()


def check_writable(uri: str, s3: S3) -> None:
    """Fail now, with the reason, when ``uri`` could not be written at the end of a run (a
    missing directory or bucket, no permission): its output is staged and discarded."""
    with Outputs(s3) as outputs:
        outputs.open(uri)


def work_directory(prefix: str, tmp_dir: str | None) -> tempfile.TemporaryDirectory[str]:
    """A work directory in ``tmp_dir`` (``--tmp-dir``; None: the system's), removed when its
    block ends; one the system refuses (a name too long, a symlink loop, no permission) is an
    :class:`OutputError` naming it."""
    try:
        return tempfile.TemporaryDirectory(prefix=prefix, dir=tmp_dir)
    except OSError as exc:
        where = f"--tmp-dir {name_excerpt(tmp_dir)}" if tmp_dir else tempfile.gettempdir()
        raise OutputError(f"{where}: cannot write: {os_reason(exc)}") from exc


@contextmanager
def open_destination(uri: str, s3: S3, inputs: Sequence[str] = ()) -> Iterator[BinaryIO]:
    """One output whose content becomes visible at ``uri`` only if the block succeeds."""
    with Outputs(s3, inputs) as outputs:
        writer = outputs.open(uri)
        yield writer
        outputs.commit()


class _Staged:
    """One output's staging area: :meth:`start` creates it, :attr:`writer` fills it,
    :meth:`finish` completes its content, :meth:`commit` makes it visible, :meth:`discard`
    removes it."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.committed = False
        self.writer: BinaryIO

    def start(self) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def discard(self) -> None:
        raise NotImplementedError


class _Stdout(_Staged):
    def start(self) -> None:
        self.writer = sys.stdout.buffer

    def finish(self) -> None:
        with _write_errors(self.uri):
            sys.stdout.buffer.flush()

    def commit(self) -> None:
        pass

    def discard(self) -> None:
        pass


class _LocalFile(_Staged):
    """A temporary file in the target's directory, renamed over the target."""

    def start(self) -> None:
        name = name_excerpt(self.uri)
        directory = os.path.dirname(os.path.abspath(self.uri))
        if not os.path.isdir(directory):
            raise OutputError(f"{name}: no such directory: {name_excerpt(directory)}")
        try:
            mode = os.stat(self.uri).st_mode
        except FileNotFoundError:
            mode = stat.S_IFREG
        except OSError as exc:  # a name too long, a symlink loop: the reason, not a traceback
            raise OutputError(f"{name}: cannot write: {os_reason(exc)}") from exc
        if stat.S_ISDIR(mode):
            raise OutputError(f"{name}: is a directory")
        if not stat.S_ISREG(mode):  # a rename would replace a device or a pipe
            raise OutputError(f"{name}: not a regular file")
        try:
            fd, self._temp = tempfile.mkstemp(prefix=".gtmerge-", suffix=".partial", dir=directory)
        except OSError as exc:
            raise OutputError(
                f"{name}: cannot write in {name_excerpt(directory)}: {os_reason(exc)}"
            ) from exc
        os.close(fd)
        with _write_errors(self.uri):
            os.chmod(self._temp, 0o666 & ~_umask())  # mkstemp's 0600 would make it private
            codec = compression_for(self.uri)
            if codec == "disable":
                self._stream = cast(BinaryIO, open(self._temp, "wb"))  # noqa: SIM115
            else:
                import smart_open  # on first use: see gtmerge.s3._new_client

                kwargs = {"compresslevel": _GZIP_LEVEL} if codec == ".gz" else {}
                self._stream = smart_open.open(
                    self._temp, "wb", compression=codec, compression_kwargs=kwargs
                )
        self.writer = cast(BinaryIO, _Checked(self._stream, self.uri))

    def finish(self) -> None:
        with _write_errors(self.uri):
            self._stream.close()  # flushes, and ends a compressed stream

    def commit(self) -> None:
        with _write_errors(self.uri):
            os.replace(self._temp, self.uri)

    def discard(self) -> None:
        if not hasattr(self, "_temp"):
            return
        with contextlib.suppress(Exception):
            self._stream.close()
        with contextlib.suppress(FileNotFoundError):  # the directory may have gone with it
            os.unlink(self._temp)


class _Upload(_Staged):
    """An S3 multipart upload, completed on commit and aborted otherwise, so no object is
    created before the run succeeds (smart-open's writer uploads its last part and completes
    in one ``close()``, which leaves no way to finish every output before committing any)."""

    def __init__(self, uri: str, s3: S3) -> None:
        super().__init__(uri)
        self._s3 = s3
        self._bucket, self._key = split_uri(uri)
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._buffer = io.BytesIO()

    def start(self) -> None:
        if not self._bucket or not self._key or self._key.endswith("/"):
            raise OutputError(f"{name_excerpt(self.uri)}: an S3 output needs s3://BUCKET/KEY")
        put = self._s3.put_params(content_type_for(self.uri))
        with _write_errors(self.uri):
            created = self._s3.client.create_multipart_upload(
                Bucket=self._bucket, Key=self._key, **put
            )
            self._upload_id = str(created["UploadId"])
        codec = compression_for(self.uri)
        kwargs = {"compresslevel": _GZIP_LEVEL} if codec == ".gz" else {}
        raw = cast(BinaryIO, _UploadWriter(self))
        import smart_open.compression  # on first use: see gtmerge.s3._new_client

        self._stream = smart_open.compression.compression_wrapper(
            raw, "wb", codec, self.uri, kwargs
        )
        self.writer = cast(BinaryIO, _Checked(self._stream, self.uri))

    def write(self, data: bytes) -> int:
        self._buffer.write(data)
        if self._buffer.tell() >= _PART_BYTES:
            self._upload_part()
        return len(data)

    def finish(self) -> None:
        with _write_errors(self.uri):
            self._stream.close()  # ends a compressed stream; does not close the upload
            if self._buffer.tell():
                self._upload_part()

    def commit(self) -> None:
        with _write_errors(self.uri):
            if not self._parts:  # S3 completes no upload without a part: an empty object
                put = self._s3.put_params(content_type_for(self.uri))
                self._s3.client.put_object(Bucket=self._bucket, Key=self._key, Body=b"", **put)
                self.discard()
                return
            self._s3.client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
                **self._s3.owner_params(),
            )

    def discard(self) -> None:
        if self._upload_id is None:
            return
        with interrupts.deferred(), contextlib.suppress(Exception):
            self._s3.client.abort_multipart_upload(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                **self._s3.owner_params(),
            )

    def _upload_part(self) -> None:
        number = len(self._parts) + 1
        answer = self._s3.client.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=self._buffer.getvalue(),
            **self._s3.owner_params(),
        )
        self._parts.append({"ETag": answer["ETag"], "PartNumber": number})
        self._buffer = io.BytesIO()


class _UploadWriter(io.RawIOBase):
    """The file object a compressor writes into: parts of an :class:`_Upload`."""

    def __init__(self, upload: _Upload) -> None:
        self._upload = upload

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return self._upload.write(bytes(data))


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
    reason = os_reason(cause) if isinstance(cause, OSError) else describe_error(cause)
    return OutputError(f"{name_excerpt(uri)}: write failed: {reason}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
