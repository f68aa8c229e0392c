"""``--check-images``: is each image there, readable, PNG or JPEG, and of a size Rekognition takes
(formats.md §3.4)? Only the header is read, with ranged GETs, never the whole image.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from tqdm import tqdm

from gtmerge.rekognition import (
    MAX_ASPECT_RATIO,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_SIDE,
    MIN_IMAGE_SIDE,
)
from gtmerge.s3 import S3, describe_error, split_uri
from gtmerge.sources import InputError

#: The first GET; enough for a PNG's IHDR and, in most files, a JPEG's SOF marker.
FIRST_RANGE = 64 * 1024
#: A JPEG whose SOF is further away (large EXIF or ICC segments) costs one GET per segment
#: skipped, up to this many; past it the image is taken as unreadable.
MAX_RANGED_GETS = 16
WORKERS = 16

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
#: Start-of-frame markers that carry the dimensions (not DHT C4, JPG C8, DAC CC).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
#: Formats named in messages, so "not PNG or JPEG" says what the file is.
_OTHER_FORMATS = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\x00\x00\x01\x00", "ICO"),
)


@dataclass(frozen=True, slots=True)
class ImageProblem:
    """Why Rekognition would reject an image. ``dimension`` is set when only its width or
    height is out of range (that has its own code on lines with boxes, §4.4)."""

    reason: str
    dimension: bool = False


class _HeaderError(Exception):
    """The bytes read do not make a PNG or JPEG header."""


ReadAt = Callable[[int, int], bytes]


def image_size(read_at: ReadAt) -> tuple[str, int, int]:
    """``(format, width, height)`` of a PNG or JPEG, reading through ``read_at(offset, n)``,
    which returns up to ``n`` bytes (fewer at the end of the object)."""
    head = read_at(0, 32)
    if head.startswith(_PNG):
        if len(head) < 24 or head[12:16] != b"IHDR":
            raise _HeaderError("the PNG has no IHDR chunk where one must be")
        width, height = struct.unpack(">II", head[16:24])
        return "PNG", width, height
    if head.startswith(_JPEG):
        return _jpeg_size(read_at)
    raise _HeaderError(f"it is not PNG or JPEG ({_name_format(head)})")


def _jpeg_size(read_at: ReadAt) -> tuple[str, int, int]:
    position = 2
    while True:
        marker = read_at(position, 4)
        if len(marker) < 2 or marker[0] != 0xFF:
            raise _HeaderError("the JPEG ends or breaks before its frame header (SOF)")
        kind = marker[1]
        if kind == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if kind in _JPEG_STANDALONE:
            position += 2
            continue
        if kind in (0xD9, 0xDA):  # end of image, start of scan: no SOF came first
            raise _HeaderError("the JPEG has no frame header (SOF) before its image data")
        if kind in _JPEG_SOF:
            frame = read_at(position + 5, 4)
            if len(frame) < 4:
                raise _HeaderError("the JPEG frame header (SOF) is cut short")
            height, width = struct.unpack(">HH", frame)
            return "JPEG", width, height
        if len(marker) < 4:
            raise _HeaderError("the JPEG ends inside a segment header")
        position += 2 + struct.unpack(">H", marker[2:4])[0]


def _name_format(head: bytes) -> str:
    if not head:
        return "the object is empty"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    for magic, name in _OTHER_FORMATS:
        if head.startswith(magic):
            return name
    return f"it starts with {head[:8].hex(' ')}"


def judge(size: int, read_at: ReadAt) -> ImageProblem | None:
    """Rekognition's image rules applied to an object of ``size`` bytes."""
    if size > MAX_IMAGE_BYTES:
        return ImageProblem(f"The image has {size:,} bytes; the limit is 15 MB (15,728,640 bytes).")
    try:
        kind, width, height = image_size(read_at)
    except _HeaderError as exc:
        return ImageProblem(f"The image cannot be used: {exc}.")
    if not all(MIN_IMAGE_SIDE <= side <= MAX_IMAGE_SIDE for side in (width, height)):
        return ImageProblem(
            f"The {kind} is {width}x{height} px; each side must be from {MIN_IMAGE_SIDE} to "
            f"{MAX_IMAGE_SIDE} px.",
            dimension=True,
        )
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        return ImageProblem(
            f"The {kind} is {width}x{height} px, an aspect ratio over {MAX_ASPECT_RATIO:g}:1."
        )
    return None


class _RangedObject:
    """Reads byte ranges of one S3 object, keeping the last range fetched."""

    def __init__(self, s3: S3, bucket: str, key: str) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._key = key
        self._start = 0
        self._data = b""
        self._gets = 0
        self.size = self._fetch(0, FIRST_RANGE)

    def _fetch(self, offset: int, length: int) -> int:
        """Fetch a range; returns the size of the whole object."""
        if self._gets == MAX_RANGED_GETS:
            raise _HeaderError(f"no JPEG frame header in the first {MAX_RANGED_GETS} segments")
        self._gets += 1
        response = self._s3.client.get_object(
            Bucket=self._bucket,
            Key=self._key,
            Range=f"bytes={offset}-{offset + length - 1}",
            **self._s3.owner_params(),
        )
        with response["Body"] as body:
            self._start, self._data = offset, body.read()
        content_range = response.get("ContentRange")  # "bytes 0-65535/1234567"
        if content_range:
            return int(content_range.rpartition("/")[2])
        return int(response["ContentLength"])

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset``; fewer at the end of the object."""
        end = min(offset + length, self.size)
        if offset < end and not (self._start <= offset and end <= self._start + len(self._data)):
            self._fetch(offset, max(length, FIRST_RANGE))
        return self._data[offset - self._start : end - self._start] if offset < end else b""


def check_image(s3: S3, source_ref: str) -> ImageProblem | None:
    """Fetch the head of one image and judge it; a missing or unreadable object is a problem.

    Raises :class:`InputError` when S3 cannot be asked at all (no credentials, an endpoint
    that does not answer, server errors past the retries): that says nothing about the image,
    and the run could not do what it was asked.
    """
    bucket, key = split_uri(source_ref)
    try:
        image = _RangedObject(s3, bucket, key)
        return judge(image.size, image.read_at)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if status >= 500 or code in ("SlowDown", "Throttling"):
            raise _cannot_check(source_ref, exc) from exc
        if code == "InvalidRange":  # a ranged GET of an empty object
            return ImageProblem("The image cannot be used: the object is empty.")
        if code in ("NoSuchKey", "404"):
            return ImageProblem("The image does not exist in S3.")
        if code == "NoSuchBucket":
            return ImageProblem(f"The bucket {bucket!r} does not exist.")
        return ImageProblem(f"The image cannot be read: {describe_error(exc)}.")
    except _HeaderError as exc:
        return ImageProblem(f"The image cannot be used: {exc}.")
    except BotoCoreError as exc:
        raise _cannot_check(source_ref, exc) from exc


def _cannot_check(source_ref: str, exc: BaseException) -> InputError:
    return InputError(f"{source_ref}: cannot check the image: {describe_error(exc)}")


class ImageChecker:
    """Checks images concurrently with one shared client; each image is fetched once per run."""

    def __init__(self, s3: S3, progress: bool | None = None) -> None:
        self._s3 = s3
        self._progress = progress
        self._verdicts: dict[str, ImageProblem | None] = {}

    def check(self, source_refs: Iterable[str]) -> dict[str, ImageProblem]:
        """The problem of each image that has one."""
        refs = list(dict.fromkeys(source_refs))
        todo = [ref for ref in refs if ref not in self._verdicts]
        if todo:
            with (
                ThreadPoolExecutor(max_workers=min(WORKERS, len(todo))) as pool,
                tqdm(
                    total=len(todo),
                    unit=" images",
                    desc="checking images",
                    mininterval=0.5,
                    disable=None if self._progress is None else not self._progress,
                ) as bar,
            ):
                futures = {pool.submit(check_image, self._s3, ref): ref for ref in todo}
                try:
                    for future in as_completed(futures):
                        self._verdicts[futures[future]] = future.result()
                        bar.update()
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)  # S3 is out of reach
                    raise
        problems = {}
        for ref in refs:
            problem = self._verdicts[ref]
            if problem is not None:
                problems[ref] = problem
        return problems
