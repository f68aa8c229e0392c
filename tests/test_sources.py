import io

import pytest

from gtmerge.sources import _glob_regex, read_lines


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
