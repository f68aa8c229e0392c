import io

import pytest

from gtmerge.sources import InputError, _Decompressed, _glob_regex, read_lines


@pytest.mark.parametrize(
    ("data", "lines"),
    [
        (b"abc\nxy", [b"abc\n", b"xy"]),
        (b"abcd", [b"abcd"]),  # exactly the limit at the end: kept
        (b"abcdef\nxy\n", [None, b"xy\n"]),  # over the limit: reported, the rest still read
        (b"abcdefghij", [None]),
    ],
)
def test_lines_over_the_limit_are_reported_not_held(data: bytes, lines: list[bytes | None]) -> None:
    assert list(read_lines(io.BytesIO(data), max_bytes=4)) == lines


@pytest.mark.parametrize(
    ("key", "matches"),
    [
        ("jobs/species/manifests/output/output.manifest", True),
        ("jobs/species/manifests/intermediate/1/output.manifest", False),
        ("jobs/a/b/manifests/output/output.manifest", False),
    ],
)
def test_s3_star_stays_in_one_segment(key: str, matches: bool) -> None:
    pattern = _glob_regex("jobs/*/manifests/output/output.manifest")
    assert bool(pattern.fullmatch(key)) is matches


@pytest.mark.parametrize(
    ("key", "matches"),
    [("a/b", True), ("a/x/b", True), ("a/x/y/b", True), ("ab", False), ("a/xb", False)],
)
def test_s3_double_star_spans_any_depth_including_none(key: str, matches: bool) -> None:
    assert bool(_glob_regex("a/**/b").fullmatch(key)) is matches


class _Failing(io.RawIOBase):
    def __init__(self, error: OSError) -> None:
        self.error = error

    def readinto(self, buffer: object) -> int:
        raise self.error


@pytest.mark.parametrize(
    ("error", "is_codec_error"),
    [
        (OSError("Invalid data stream"), True),  # bzip2's corrupt data
        (OSError("failed to read 10 bytes after 5 attempts"), False),  # smart-open's S3 retries
        (TimeoutError("timed out"), False),
        (ConnectionResetError(104, "Connection reset by peer"), False),
    ],
)
def test_only_codec_errors_under_a_decompressor_say_cannot_decompress(
    error: OSError, is_codec_error: bool
) -> None:
    stream = _Decompressed(_Failing(error), "s3://bucket/k.gz")
    expected = InputError if is_codec_error else type(error)
    with pytest.raises(expected) as raised:
        stream.readinto(memoryview(bytearray(8)))
    if is_codec_error:
        assert str(raised.value) == "s3://bucket/k.gz: cannot decompress: Invalid data stream"
    else:
        assert raised.value is error
