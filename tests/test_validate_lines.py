"""Property tests: the fast paths of the line checks agree with the rules they shortcut.

The C fast path (``count_clean_labels``) may pass a line to the rules for any reason, but
whenever it takes a line, the rules must find it valid with no finding, and it must count the
names as ``count_names`` counts the names the rules found.
"""

from __future__ import annotations

import copy
import re
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_validate import boxes, classification

from gtmerge import fastpaths
from gtmerge.rekognition import is_valid_creation_date
from gtmerge.validate import lines
from gtmerge.validate.lines import VALID, LineError, check_pairs, count_names, label_pairs

fast_path = lines.count_clean_labels

digits = st.text(alphabet="0123456789", min_size=1, max_size=3)
date_like = st.builds(
    lambda y, mo, d, sep, h, mi, s, frac, zone: f"{y}-{mo}-{d}{sep}{h}:{mi}:{s}{frac}{zone}",
    st.text("0123456789", min_size=4, max_size=4),
    st.sampled_from(["00", "01", "02", "12", "13", "1a"]),
    st.sampled_from(["00", "01", "28", "29", "30", "31", "32"]),
    st.sampled_from(["T", " ", "t", "_"]),
    st.sampled_from(["00", "23", "24", "٢٣"]),
    st.sampled_from(["00", "59", "60"]),
    st.sampled_from(["00", "59", "60"]),
    st.sampled_from(["", ".", ".1", ".123456", ".1234567891", ",5"]),
    st.sampled_from(["", "Z", "+00:00", "+0000", "-05", "z", "Z+01:00"]),
)


def _reference_date_check(value: Any) -> bool:
    """The rule spelled out slowly: the §3.6 shapes, and a real calendar date and time."""
    if not isinstance(value, str):
        return False
    shape = re.fullmatch(
        r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
        r"(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:?[0-9]{2})?",
        value,
    )
    if shape is None:
        return False
    try:
        datetime(*(int(part) for part in shape.groups()))
    except ValueError:
        return False
    return True


@settings(max_examples=1500, deadline=None)
@given(st.one_of(date_like, st.text(max_size=40), st.integers(), st.none()))
def test_fast_date_check_agrees_with_the_reference(value: Any) -> None:
    assert is_valid_creation_date(value) == _reference_date_check(value)


# Values that break each field a different way: wrong type, out of range, missing.
odd_values = st.sampled_from(
    [None, True, -1, 0, 1.5, 2, "", "x", "0", [], {}, [{}], {"a": 1}, "2020-01-01T00:00:00"]
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _mutate(record: dict[str, Any], path: tuple[Any, ...], new: Any, delete: bool) -> None:
    parent = record
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new


@st.composite
def mutated_lines(draw: st.DrawFn) -> dict[str, Any]:
    base = draw(
        st.sampled_from(
            [
                classification(),
                boxes(shapes=[(0, 1, 1, 50, 50), (1, 600, 10, 50, 50), (1, 5, 5, 1, 1)]),
                {**boxes(), **{k: v for k, v in classification().items() if k != "source-ref"}},
            ]
        )
    )
    record = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(record) if p != ("source-ref",)]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        _mutate(record, path, copy.deepcopy(draw(odd_values)), draw(st.booleans()))
    return record


def test_the_c_fast_path_is_built() -> None:
    """Installed with a C compiler (as in CI), gtmerge has its fast paths; without one it
    still works, only slower, and this test says why the benchmark is off."""
    assert fast_path is not None, "gtmerge.validate._fastlines was not built"
    assert fastpaths.description() == "C fast paths: validator, Ground Truth reader, merge"


#: Two class ids with one name: a line counts each name once however often it has it.
SAME_NAME = {"0": "cat", "1": "cat"}


def _rules(record: dict[str, Any]) -> tuple[Any, ...]:
    """What the rules say of a line, and how a valid one counts (code of a † error else)."""
    try:
        status, class_names, object_names, found = check_pairs(record, label_pairs(record))
    except LineError as error:
        return ("error", error.code)
    counts: tuple[dict[str, int], dict[str, int]] = ({"cat": 5}, {"dog": 2})
    kinds = count_names(class_names, object_names, *counts) if status == VALID else 0
    return status, found, kinds, counts


def _fast(record: dict[str, Any]) -> tuple[int, tuple[dict[str, int], dict[str, int]]]:
    assert fast_path is not None
    counts: tuple[dict[str, int], dict[str, int]] = ({"cat": 5}, {"dog": 2})
    return fast_path(record, label_pairs(record), *counts), counts


@settings(max_examples=3000, deadline=None)
@given(mutated_lines())
def test_the_fast_path_takes_only_what_the_rules_accept(record: dict[str, Any]) -> None:
    """No crash in either; a line the fast path takes is valid with no finding by the rules,
    and counted the same; a line it leaves is counted nowhere."""
    verdict = _rules(record)
    kinds, counts = _fast(record)
    if kinds:
        assert verdict == (VALID, [], kinds, counts)
    else:
        assert counts == ({"cat": 5}, {"dog": 2})


@pytest.mark.parametrize(
    "record",
    [
        classification(),
        classification(confidence=0.25, job_name=None),
        {**classification(), "animal": "12"},
        boxes(shapes=[(0, 0, 0, 640, 480), (1, 600, 10, 40, 50)]),
        boxes(size=(4000, 3000), shapes=[(1, 3000, 2000, 4, 4)]),
        boxes(shapes=[(300, 10, 10, 50, 50), (-1, 5, 5, 9, 9)], class_map={"300": "a", "-1": "b"}),
        boxes(shapes=[(0, 1, 1, 9, 9), (1, 5, 5, 9, 9), (0, 2, 2, 9, 9)], class_map=SAME_NAME),
        {
            **classification(),
            **{f"x{k}": v for k, v in classification().items() if k != "source-ref"},
        },
        {**boxes(), **{k: v for k, v in classification().items() if k != "source-ref"}},
    ],
)
def test_the_fast_path_takes_the_valid_lines(record: dict[str, Any]) -> None:
    kinds, counts = _fast(record)
    assert kinds
    assert _rules(record) == (VALID, [], kinds, counts)


@pytest.mark.parametrize(
    "record",
    [
        classification(confidence=True),
        classification(human_annotated="YES"),
        classification(name="x" * 257),
        {**classification(), "animal": "1.0"},
        boxes(shapes=[]),
        boxes(shapes=[(0, 1, 1, 2**40, 10)], size=(2**41, 100)),
        boxes(size=(4000, 3000), shapes=[(1, 3000, 2000, 3, 3)]),
        boxes(shapes=[(2, 10, 10, 10, 10)]),
    ],
)
def test_the_fast_path_leaves_findings_and_odd_numbers_to_the_rules(
    record: dict[str, Any],
) -> None:
    assert _fast(record) == (0, ({"cat": 5}, {"dog": 2}))


@settings(max_examples=1500, deadline=None)
@given(st.one_of(date_like, st.text(max_size=40)))
def test_the_fast_path_date_check_agrees_with_the_rules(value: str) -> None:
    record = classification(creation_date=value)
    assert bool(_fast(record)[0]) == is_valid_creation_date(value)
