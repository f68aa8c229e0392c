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

from gtmerge.errors import excerpt
from gtmerge.mapping.functions import CUSTOM_FUNCTIONS

Search = Callable[[Any], Any]


@dataclass(frozen=True)
class Expression:
    """A compiled expression and the text it came from (quoted in rejection reasons)."""

    text: str
    search: Search


class ExpressionError(ValueError):
    """An expression that does not parse or names an unknown function."""


#: Levels of nesting an expression may have. jmespath's parser, the compiler below and
#: jmespath's interpreter all recurse once a level or more; real expressions have a handful.
MAX_EXPRESSION_DEPTH = 100
#: Characters of an expression error: jmespath's messages repeat the whole expression.
_ERROR_CHARS = 300


def parse_expression(text: str) -> dict[str, Any]:
    """jmespath's syntax tree of ``text``, or :class:`ExpressionError` with a one-line reason
    that quotes an excerpt of it, also when it is nested past :data:`MAX_EXPRESSION_DEPTH`."""
    too_deep = ExpressionError(
        f"nested over {MAX_EXPRESSION_DEPTH} levels deep; an expression needs a few"
    )
    try:
        ast: dict[str, Any] = jmespath.compile(text).parsed  # type: ignore[assignment]
    except jmespath_errors.JMESPathError as exc:
        exc.expression = excerpt(text)  # type: ignore[attr-defined]
        raise ExpressionError(excerpt(_one_line(exc), _ERROR_CHARS)) from exc
    except RecursionError:  # 20,000 nested parentheses: jmespath's parser recurses per level
        raise too_deep from None
    if _depth(ast) > MAX_EXPRESSION_DEPTH:  # a || b || c ...: parsed in a loop, nested
        raise too_deep
    return ast


def compile_expression(text: str, options: Options) -> Expression:
    """Parse ``text`` with jmespath and compile it to closures (fast path + fallback)."""
    ast = parse_expression(text)
    _check_functions(ast, options.custom_functions)
    return Expression(text, _Compiler(options).compile(ast))


def _depth(ast: dict[str, Any]) -> int:
    """The nesting of a syntax tree, walked without recursion."""
    deepest = 0
    stack = [(ast, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth <= MAX_EXPRESSION_DEPTH:
            stack.extend(
                (child, depth + 1) for child in node.get("children", ()) if isinstance(child, dict)
            )
    return deepest


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _check_functions(node: dict[str, Any], functions: Any) -> None:
    """Unknown functions and wrong argument counts are config errors, found at load time."""
    if node["type"] == "function_expression":
        name = node["value"]
        spec = functions.FUNCTION_TABLE.get(name)
        if spec is None:
            raise ExpressionError(f"unknown function {name}()")
        signature = spec["signature"]
        variadic = bool(signature) and signature[-1].get("variadic")
        given = len(node["children"])
        if given < len(signature) or (given > len(signature) and not variadic):
            raise ExpressionError(f"{name}() takes {len(signature)} arguments, got {given}")
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
        steps = _steps(node)
        if steps is not None:
            return _path(steps)
        return _chain(tuple(self.compile(child) for child in node["children"]))

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
        functions = self._functions
        checked_call = functions.call_function  # type: ignore[union-attr]
        if name not in CUSTOM_FUNCTIONS:
            return lambda value: checked_call(name, [argument(value) for argument in arguments])
        # gtmerge's own functions are called directly: jmespath's per-call type check cost
        # more than the functions themselves. Arity was checked at compile time; on a wrong
        # type they raise, and the checked call is replayed to get jmespath's own message.
        function = functions.FUNCTION_TABLE[name]["function"]  # type: ignore[union-attr]
        if len(arguments) == 2:  # lookup, split, zip: no argument list built per call
            first, second = arguments

            def call_two(value: Any) -> Any:
                left, right = first(value), second(value)
                try:
                    return function(functions, left, right)
                except (TypeError, AttributeError):
                    return checked_call(name, [left, right])

            return call_two

        def call(value: Any) -> Any:
            resolved = [argument(value) for argument in arguments]
            try:
                return function(functions, *resolved)
            except (TypeError, AttributeError):
                return checked_call(name, resolved)

        return call


def _same(value: Any) -> Any:
    return value


def _steps(node: dict[str, Any]) -> list[tuple[bool, Any]] | None:
    """``a.b[0].c`` as ``(is_index, key)`` steps, or None if it is not such a plain path."""
    kind = node["type"]
    if kind in ("identity", "current"):
        return []
    if kind == "field":
        return [(False, node["value"])]
    if kind == "index":
        return [(True, node["value"])]
    if kind in ("subexpression", "index_expression"):
        steps: list[tuple[bool, Any]] = []
        for child in node["children"]:
            inner = _steps(child)
            if inner is None:
                return None
            steps.extend(inner)
        return steps
    return None


def _path(steps: list[tuple[bool, Any]]) -> Search:
    """A plain path as one generated function: no closure call or loop per level.

    This is the hot path of every mapping (``"source-ref"``, ``[0].left``,
    ``"bounding-box".image_size[0].width``); the generated code is the interpreter's
    ``visit_field``/``visit_index`` inlined. Keys come from jmespath's parser (text or int) and
    are embedded with ``repr``, so no input text is ever executed.
    """
    body = []
    for is_index, key in steps:
        if is_index:
            body += [
                "    if not isinstance(value, list):",
                "        return None",
                "    try:",
                f"        value = value[{int(key)!r}]",
                "    except IndexError:",
                "        return None",
            ]
        else:
            body += [
                "    try:",
                f"        value = value.get({str(key)!r})",
                "    except AttributeError:",
                "        return None",
            ]
    namespace: dict[str, Any] = {}
    exec("\n".join(["def path(value):", *body, "    return value"]), namespace)
    compiled: Search = namespace["path"]
    return compiled


def _chain(steps: tuple[Search, ...]) -> Search:
    def chain(value: Any) -> Any:
        for step in steps:
            value = step(value)
        return value

    return chain
