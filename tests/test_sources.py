import io

import pytest

from gtmerge.sources import BlankLines, InputError, _Decompressed, _glob_regex, read_lines


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


@pytest.mark.parametrize("buffer", [7, 64, 1 << 16])
def test_runs_of_blank_lines_of_every_kind_give_back_every_line(buffer: int) -> None:
    """Runs of ``\\n``, ``\\r\\n`` and spaces-and-tabs lines come as counted runs of one kind
    each, whatever buffer boundaries cut them, and give back the input's exact bytes."""
    data = (
        b"a\n"
        + b"\r\n" * 1000
        + b"\n" * 100
        + b" \t\n" * 70
        + b"\r\n\n" * 80  # alternating kinds: read one by one
        + b"\r\r\n"  # a lone CR is a line break to CSV: never in a run
        + b"\r\n" * 65
        + b"\r"
        + b"b\n"
        + b"   "
    )
    stream = io.BufferedReader(io.BytesIO(data), buffer)  # type: ignore[arg-type]
    lines = list(read_lines(stream))
    rebuilt = b"".join(
        item.line * item.lines if isinstance(item, BlankLines) else item or b"" for item in lines
    )
    assert rebuilt == data
    runs = [(item.line, item.lines) for item in lines if isinstance(item, BlankLines)]
    assert runs[:3] == [(b"\r\n", 1000), (b"\n", 100), (b" \t\n", 70)]
    assert sum(n for _, n in runs) + sum(1 for i in lines if isinstance(i, bytes)) == (
        data.count(b"\n") + 1
    )
    assert b"\r\r\n" in lines and b"\rb\n" in lines
