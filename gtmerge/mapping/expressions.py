"""JMESPath expressions compiled once, with a fast path for the simple ones.

jmespath's tree interpreter walks the AST on every call; engineering notes §3 measured it 13
to 29 times slower than plain dict access, and it was the bottleneck of the whole pipeline.
Here the AST that jmespath parses is turned into nested Python closures for the node types real
mappings use (field, sub-expression, index, slice, projection, flatten, filter with ==/!=,
multi-select, literal, current node, ||, &&, !, pipe and function calls without ``&``
arguments). Any other node (comparisons with < or >, ``&expr`` arguments such as ``sort_by``) is
evaluated by jmespath's own interpreter for that subtree only, so semantics never diverge: the
closures below mirror ``jmespath.visitor.TreeInterpreter`` node for node, and the tests compare
both on samples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from numbers import Number
from typing import Any

import jmespath
from jmespath import exceptions as jmespath_errors
from jmespath.visitor import Options, TreeInterpreter

Search = Callable[[Any], Any]


@dataclass(frozen=True)
class Expression:
    """A compiled expression and the text it came from (quoted in rejection reasons)."""

    text: str
    search: Search


class ExpressionError(ValueError):
    """An expression that does not parse or names an unknown function."""


def compile_expression(text: str, options: Options) -> Expression:
    """Parse ``text`` with jmespath and compile it to closures (fast path + fallback)."""
    try:
        ast: dict[str, Any] = jmespath.compile(text).parsed  # type: ignore[assignment]
    except jmespath_errors.JMESPathError as exc:
        raise ExpressionError(_one_line(exc)) from exc
    _check_functions(ast, options.custom_functions)
    return Expression(text, _Compiler(options).compile(ast))


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _check_functions(node: dict[str, Any], functions: Any) -> None:
    """Unknown function names are config errors, found at load time rather than per record."""
    if node["type"] == "function_expression" and node["value"] not in functions.FUNCTION_TABLE:
        raise ExpressionError(f"unknown function {node['value']}()")
    for child in node.get("children", ()):
        if isinstance(child, dict):
            _check_functions(child, functions)


def _is_false(value: Any) -> bool:
    # JMESPath falsiness: 0 is true, empty strings/lists/objects are false.
    return value == "" or value == [] or value == {} or value is None or value is False


def _is_number(value: Any) -> bool:
    return isinstance(value, Number) and not isinstance(value, bool)


def _equals(left: Any, right: Any) -> bool:
    # As jmespath: 0/1 never equal false/true although Python says they do.
    if (_is_number(left) and left in (0, 1) and isinstance(right, bool)) or (
        _is_number(right) and right in (0, 1) and isinstance(left, bool)
    ):
        return False
    return bool(left == right)


class _Compiler:
    def __init__(self, options: Options) -> None:
        self._functions = options.custom_functions
        self._interpreter = TreeInterpreter(options)

    def compile(self, node: dict[str, Any]) -> Search:
        method = getattr(self, "_" + node["type"], None)
        if method is not None:
            compiled: Search | None = method(node)
            if compiled is not None:
                return compiled
        return self._fallback(node)

    def _fallback(self, node: dict[str, Any]) -> Search:
        visit = self._interpreter.visit
        return lambda value: visit(node, value)  # type: ignore[arg-type]

    def _field(self, node: dict[str, Any]) -> Search:
        key = node["value"]

        def field(value: Any) -> Any:
            try:
                return value.get(key)
            except AttributeError:
                return None

        return field

    def _subexpression(self, node: dict[str, Any]) -> Search:
        children = node["children"]
        if all(child["type"] == "field" for child in children):
            return _field_chain(tuple(child["value"] for child in children))
        return _chain(tuple(self.compile(child) for child in children))

    _index_expression = _subexpression
    _pipe = _subexpression

    def _index(self, node: dict[str, Any]) -> Search:
        position = node["value"]

        def index(value: Any) -> Any:
            if not isinstance(value, list):
                return None
            try:
                return value[position]
            except IndexError:
                return None

        return index

    def _slice(self, node: dict[str, Any]) -> Search | None:
        if node["children"][2] == 0:
            return None  # jmespath raises its own error for a zero step
        bounds = slice(*node["children"])
        return lambda value: value[bounds] if isinstance(value, list) else None

    def _current(self, node: dict[str, Any]) -> Search:
        return _same

    _identity = _current

    def _literal(self, node: dict[str, Any]) -> Search:
        constant = node["value"]
        return lambda value: constant

    def _projection(self, node: dict[str, Any]) -> Search:
        base, right = (self.compile(child) for child in node["children"])
        if node["children"][1]["type"] in ("identity", "current"):

            def project_identity(value: Any) -> Any:
                items = base(value)
                if not isinstance(items, list):
                    return None
                return [item for item in items if item is not None]

            return project_identity

        def project(value: Any) -> Any:
            items = base(value)
            if not isinstance(items, list):
                return None
            collected = []
            for item in items:
                result = right(item)
                if result is not None:
                    collected.append(result)
            return collected

        return project

    def _value_projection(self, node: dict[str, Any]) -> Search:
        base, right = (self.compile(child) for child in node["children"])

        def project_values(value: Any) -> Any:
            items = base(value)
            if not isinstance(items, dict):
                return None
            collected = []
            for item in items.values():
                result = right(item)
                if result is not None:
                    collected.append(result)
            return collected

        return project_values

    def _filter_projection(self, node: dict[str, Any]) -> Search:
        base, right, condition = (self.compile(child) for child in node["children"])

        def project_filtered(value: Any) -> Any:
            items = base(value)
            if not isinstance(items, list):
                return None
            collected = []
            for item in items:
                if not _is_false(condition(item)):
                    result = right(item)
                    if result is not None:
                        collected.append(result)
            return collected

        return project_filtered

    def _comparator(self, node: dict[str, Any]) -> Search | None:
        if node["value"] not in ("eq", "ne"):
            return None  # ordering comparisons: rare in mappings, left to jmespath
        left, right = (self.compile(child) for child in node["children"])
        if node["value"] == "eq":
            return lambda value: _equals(left(value), right(value))
        return lambda value: not _equals(left(value), right(value))

    def _flatten(self, node: dict[str, Any]) -> Search:
        base = self.compile(node["children"][0])

        def flatten(value: Any) -> Any:
            items = base(value)
            if not isinstance(items, list):
                return None
            merged: list[Any] = []
            for item in items:
                if isinstance(item, list):
                    merged.extend(item)
                else:
                    merged.append(item)
            return merged

        return flatten

    def _multi_select_dict(self, node: dict[str, Any]) -> Search:
        pairs = tuple(
            (child["value"], self.compile(child["children"][0])) for child in node["children"]
        )

        def select_dict(value: Any) -> Any:
            if value is None:
                return None
            return {key: search(value) for key, search in pairs}

        return select_dict

    def _multi_select_list(self, node: dict[str, Any]) -> Search:
        searches = tuple(self.compile(child) for child in node["children"])

        def select_list(value: Any) -> Any:
            if value is None:
                return None
            return [search(value) for search in searches]

        return select_list

    def _or_expression(self, node: dict[str, Any]) -> Search:
        left, right = (self.compile(child) for child in node["children"])

        def either(value: Any) -> Any:
            matched = left(value)
            return right(value) if _is_false(matched) else matched

        return either

    def _and_expression(self, node: dict[str, Any]) -> Search:
        left, right = (self.compile(child) for child in node["children"])

        def both(value: Any) -> Any:
            matched = left(value)
            return matched if _is_false(matched) else right(value)

        return both

    def _not_expression(self, node: dict[str, Any]) -> Search:
        inner = self.compile(node["children"][0])

        def negate(value: Any) -> bool:
            result = inner(value)
            if _is_number(result) and result == 0:
                return False  # !0 is false in JMESPath: 0 is a true value
            return not result

        return negate

    def _function_expression(self, node: dict[str, Any]) -> Search | None:
        if any(child["type"] == "expref" for child in node["children"]):
            return None  # sort_by(&x) and friends need jmespath's expression objects
        name = node["value"]
        arguments = tuple(self.compile(child) for child in node["children"])
        call = self._functions.call_function  # type: ignore[union-attr]
        return lambda value: call(name, [argument(value) for argument in arguments])


def _same(value: Any) -> Any:
    return value


def _field_chain(keys: tuple[str, ...]) -> Search:
    """``a.b.c``: one loop of dict lookups instead of one closure per level."""

    def chain(value: Any) -> Any:
        for key in keys:
            try:
                value = value.get(key)
            except AttributeError:
                return None
        return value

    return chain


def _chain(steps: tuple[Search, ...]) -> Search:
    def chain(value: Any) -> Any:
        for step in steps:
            value = step(value)
        return value

    return chain
