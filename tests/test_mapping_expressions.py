"""The JMESPath fast path gives exactly what jmespath gives, and gtmerge's custom functions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jmespath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gtmerge.mapping.expressions import ExpressionError, compile_expression
from gtmerge.mapping.functions import FunctionError, new_options
from gtmerge.mapping.tables import LookupTable
from gtmerge.readers.base import TableSpace

EXPRESSIONS = [
    "a",
    '"source-ref"',
    "a.b",
    "a.b.c",
    "a[0]",
    "a[-1]",
    "a[5]",
    "a[*].b",
    "a[].b",
    "a[][]",
    "a[1:]",
    "a[::-1]",
    "a[:2].b",
    "a.*",
    "a.*.b",
    "{x: a, y: b.c}",
    "[a, b]",
    "a.[b, c]",
    "a.{k: b}",
    "`1`",
    "'lit'",
    "@",
    "a || b",
    "a && b",
    "!a",
    "!`0`",
    "a | [0]",
    "a[?b == `1`]",
    "a[?b != 'x'].c",
    "a[?b]",
    "a[?!b]",
    "a[?b > `1`]",
    "length(a)",
    "keys(@)",
    "values(@)[0]",
    "to_entries(@)[1:][?value].key",
    "sort_by(a, &b)",
    'a[0].b || `"none"`',
    "(a || b).c",
]

DOCUMENTS: list[Any] = [
    None,
    1,
    "text",
    [],
    {},
    {"a": None},
    {"a": {"b": {"c": 1}}, "b": {"c": [1, 2]}},
    {"a": [{"b": 1, "c": 2}, {"b": "x"}, {"b": 0}, 3, [4, 5], None], "b": 2},
    {"a": [1, 2, 3], "b": "s"},
    {"a": {"x": {"b": 1}, "y": {"b": 2}, "z": 3}},
    {"a": "", "b": False, "source-ref": "s3://b/k"},
    {"a": [{"b": True}, {"b": 1}, {"b": False}, {"b": 0}]},
    {"a": [[1, [2]], [3]], "c": 0},
    {"a": [{"b": 2, "c": [1]}, {"b": 1, "c": [2]}]},
]


def _both(expression: str, document: Any) -> tuple[Any, Any]:
    options, _ = new_options()
    reference = jmespath.compile(expression).search(document, options=options)
    return reference, compile_expression(expression, options).search(document)


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_fast_path_equals_jmespath(expression: str) -> None:
    for document in DOCUMENTS:
        options, _ = new_options()
        try:
            reference = jmespath.compile(expression).search(document, options=options)
        except (jmespath.exceptions.JMESPathError, TypeError) as exc:
            with pytest.raises(type(exc)):  # both must fail alike
                compile_expression(expression, options).search(document)
            continue
        fast = compile_expression(expression, options).search(document)
        assert fast == reference, (expression, document)
        assert type(fast) is type(reference), (expression, document)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 2) | st.sampled_from(["", "x", "b"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["a", "b", "c"]), children, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(document=JSON, expression=st.sampled_from(EXPRESSIONS[:32]))
def test_fast_path_equals_jmespath_on_random_documents(document: Any, expression: str) -> None:
    try:
        reference, fast = _both(expression, document)
    except (jmespath.exceptions.JMESPathError, TypeError):
        return  # failures are compared in the test above
    assert fast == reference


def test_bad_expressions_are_reported_at_compile_time() -> None:
    options, _ = new_options()
    with pytest.raises(ExpressionError, match="unknown function nope"):
        compile_expression("a.nope(@)", options)
    with pytest.raises(ExpressionError, match="Incomplete expression"):
        compile_expression("a[", options)


def _search(expression: str, document: Any, **names: Any) -> Any:
    options, scope = new_options()
    scope.names = names
    return compile_expression(expression, options).search(document)


def test_path_functions() -> None:
    doc = {"p": "/data/upload/1/3f2a-photo 1.jpg", "q": "dir/sub/", "r": "a,b,,c"}
    assert _search("basename(p)", doc) == "3f2a-photo 1.jpg"
    assert _search("dirname(p)", doc) == "/data/upload/1"
    assert _search("basename(q)", doc) == "sub"
    assert _search("split(r, ',')", doc) == ["a", "b", "", "c"]
    assert _search("trim(' x ')", doc) == "x"


def test_object_functions() -> None:
    doc = {"o": {"cat": "1", "dog": "0"}, "l": [1, 2, 3], "m": ["a", "b"]}
    assert _search("items(o)", doc) == [["cat", "1"], ["dog", "0"]]
    assert _search("to_entries(o)", doc) == [
        {"key": "cat", "value": "1"},
        {"key": "dog", "value": "0"},
    ]
    assert _search("zip(l, m)", doc) == [[1, "a"], [2, "b"]]
    assert _search("zip(l, nothing)", doc) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        (" YES ", True),
        ("x", True),
        (1, True),
        (True, True),
        ("0", False),
        ("", False),
        ("no", False),
        (None, False),
        (0, False),
    ],
)
def test_flag(value: Any, expected: bool) -> None:
    assert _search("flag(@)", value) is expected


def test_flag_rejects_other_values() -> None:
    with pytest.raises(FunctionError, match='"2" is not a 1/0 flag'):
        _search("flag(@)", "2")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2013-11-14 17:02:52", "2013-11-14T17:02:52"),
        ("2024-03-09T21:52:49.513742Z", "2024-03-09T21:52:49.513742"),
        ("2024-03-09T23:52:49+02:00", "2024-03-09T21:52:49"),
        ("2019-01-01", "2019-01-01T00:00:00"),
        ("", None),
        ("yesterday", None),
        (0, None),
    ],
)
def test_iso_date(value: Any, expected: str | None) -> None:
    assert _search("iso_date(@)", value) == expected


@pytest.mark.parametrize("share", [1 << 20, 0], ids=["in-memory", "on-disk"])
def test_lookup_tables_and_vars(tmp_path: Path, share: int) -> None:
    """A table gives the same answers held in memory and moved to its file (a share of 0
    moves every entry as it comes), and leaves no file once closed."""
    space = TableSpace(directory=str(tmp_path))
    groups = LookupTable("boxes", True, space, share)
    groups.add(1, {"c": 3, "bbox": [1.5, 2, 3, 4]})
    groups.add(2, {"c": 1, "bbox": [0, 0, 1, 1]})
    groups.add(1.0, {"c": 4, "bbox": [5, 6, 7, 8]})  # 1.0 is the key 1, as in a dict
    categories = LookupTable("categories", False, space, share)
    for key, name in ((1, "Echo"), (3, "old name"), (3, "Echo Dot")):  # the last entry wins
        categories.add(key, name)
    for table in (groups, categories):
        table.finish()
    assert len(list(tmp_path.iterdir())) == (2 if share == 0 else 0)
    names = {"categories": categories, "boxes": groups, "map": {"5": "cat"}}
    assert _search("lookup('categories', `3`)", None, **names) == "Echo Dot"
    assert _search("lookup('map', `5`)", None, **names) == "cat"  # int id, string keys (GT)
    assert _search("lookup('categories', '1')", None, **names) == "Echo"  # and the reverse
    assert _search("lookup('boxes', `1`)[].c", None, **names) == [3, 4]
    assert _search("lookup('boxes', '2')[].bbox", None, **names) == [[0, 0, 1, 1]]
    assert _search("lookup('boxes', `7`)", None, **names) == []  # no annotation: empty group
    assert _search("var('map')", None, **names) == {"5": "cat"}
    with pytest.raises(FunctionError, match=r"^7 is not in categories$"):
        _search("lookup('categories', `7`)", None, **names)
    with pytest.raises(FunctionError, match="no table or var named 'nope'"):
        _search("var('nope')", None, **names)
    if share:
        assert _search("var('categories')", None, **names) == {1: "Echo", 3: "Echo Dot"}
    else:
        with pytest.raises(ValueError, match="table categories is too large to be used whole"):
            _search("var('categories')", None, **names)
    for table in (groups, categories):
        table.close()
    assert list(tmp_path.iterdir()) == []
