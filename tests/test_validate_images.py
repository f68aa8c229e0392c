"""--check-images against a real S3 server: image headers read with ranged GETs only."""

from __future__ import annotations

import struct
import zlib

import orjson
import pytest
from conftest import put_objects
from test_validate import boxes, classification

from gtmerge.s3 import S3
from gtmerge.validate import validate
from gtmerge.validate.images import FIRST_RANGE

BUCKET = "images-bucket"


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * (width * 3 + 1))  # one row is enough for a header test
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def jpeg(width: int, height: int, padding_segments: int = 0) -> bytes:
    """A JPEG header: SOI, JFIF APP0, optional 60 KB APP1 segments (EXIF-sized), SOF0, SOS."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    app1 = (b"\xff\xe1" + struct.pack(">H", 60_000) + b"\x00" * 59_998) * padding_segments
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x22\x00" * 3
    return (
        b"\xff\xd8" + app0 + app1 + sof + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + b"\xff\xd9"
    )


def gif(width: int, height: int) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00;"


def manifest_for(images: dict[str, bytes | None], box_keys: tuple[str, ...] = ()) -> bytes:
    """One line per image key (None: the object is not uploaded), two labels in turn."""
    lines = []
    for n, key in enumerate(images):
        ref = f"s3://{BUCKET}/{key}"
        line = boxes(ref) if key in box_keys else classification(ref, "cat" if n % 2 else "dog")
        lines.append(orjson.dumps(line))
    return b"\n".join(lines) + b"\n"


def upload(client, images: dict[str, bytes | None]) -> None:
    put_objects(client, BUCKET, {key: body for key, body in images.items() if body is not None})


@pytest.fixture
def ranges(s3):
    """Every Range header gtmerge sends to GetObject (registered on its own shared client)."""
    shared = S3()
    seen: list[str | None] = []
    shared.client.meta.events.register(
        "before-call.s3.GetObject",
        lambda params, **_: seen.append(params["headers"].get("Range")),
    )
    return shared, seen


def test_missing_gif_and_tiny_png_are_found_from_headers_only(s3, ranges, tmp_path):
    shared, seen = ranges
    images: dict[str, bytes | None] = {f"ok/{n}.png": png(640, 480) for n in range(12)}
    images["ok/big-exif.jpg"] = jpeg(1024, 768, padding_segments=2)  # SOF after 120 KB
    images["missing.png"] = None
    images["animated.gif"] = gif(640, 480)
    images["tiny.png"] = png(32, 32)
    upload(s3, images)
    path = tmp_path / "train.manifest"
    path.write_bytes(manifest_for(images))

    result = validate([str(path)], check_images=True, s3=shared, progress=False)

    assert [(f.code, f.line) for f in result.errors] == [
        ("ERROR_INVALID_IMAGE", 14),
        ("ERROR_INVALID_IMAGE", 15),
        ("ERROR_INVALID_IMAGE", 16),
    ]
    messages = [f.message for f in result.errors]
    assert "does not exist" in messages[0]
    assert "not PNG or JPEG (GIF)" in messages[1]
    assert "32x32" in messages[2] and "64 to 4096" in messages[2]
    assert result.warnings == []
    assert result.summary["manifests"][0]["invalid_json_lines"] == 3
    # Nothing was downloaded whole: every GET was ranged, none larger than the first range.
    assert seen and all(r is not None for r in seen)
    spans = [int(end) - int(start) + 1 for start, end in (r[6:].split("-") for r in seen)]
    assert max(spans) <= FIRST_RANGE
    assert len(seen) == len(images) + 1  # the EXIF-heavy JPEG needed one more range


def test_small_image_with_boxes_gets_the_dimension_code(s3, tmp_path):
    images = {f"ok/{n}.png": png(640, 480) for n in range(9)}
    images["tiny.jpg"] = jpeg(50, 480)
    upload(s3, images)
    path = tmp_path / "boxes.manifest"
    path.write_bytes(manifest_for(images, box_keys=("tiny.jpg",)))
    result = validate([str(path)], check_images=True, progress=False)
    assert [(f.code, f.line) for f in result.errors] == [("ERROR_INVALID_IMAGE_DIMENSION", 10)]
    assert "The JPEG is 50x480 px" in result.errors[0].message


@pytest.mark.parametrize(
    "body, reason",
    [
        (png(2000, 64), "aspect ratio over 20:1"),
        (b"", "the object is empty"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "no IHDR chunk"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 9 + b"\xff\xda", "no frame header"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "(WebP)"),
        (png(640, 480) + b"\x00" * (15 * 1024 * 1024), "the limit is 15 MB"),
    ],
)
def test_invalid_image(s3, tmp_path, body, reason):
    images = {f"ok/{n}.png": png(640, 480) for n in range(9)}
    images["bad.img"] = body
    upload(s3, images)
    path = tmp_path / "m.manifest"
    path.write_bytes(manifest_for(images))
    result = validate([str(path)], check_images=True, progress=False)
    assert [(f.code, f.line) for f in result.errors] == [("ERROR_INVALID_IMAGE", 10)]
    assert reason in result.errors[0].message


def test_images_are_checked_once_per_run(s3, ranges, tmp_path):
    shared, seen = ranges
    images = {f"ok/{n}.png": png(640, 480) for n in range(4)}
    upload(s3, images)
    (tmp_path / "train.manifest").write_bytes(manifest_for(images))
    (tmp_path / "test.manifest").write_bytes(manifest_for(images))
    result = validate(
        [str(tmp_path / "train.manifest")],
        test=str(tmp_path / "test.manifest"),
        check_images=True,
        s3=shared,
        progress=False,
    )
    assert len(seen) == 4
    assert {f.code for f in result.warnings} == {"WARNING_IMAGE_IN_TRAINING_AND_TEST"}
