"""The JMESPath functions real exports need and JMESPath lacks (documented in docs/mappings.md).

``lookup`` and ``var`` read the current record's scope: the source's lookup tables plus the
mapping's ``vars`` evaluated on the record. The reader sets that scope right before it evaluates
a record, in a thread-local, so interleaved readers of one mapping never see each other's tables.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any

import orjson
from jmespath import functions
from jmespath.visitor import Options

from gtmerge.mapping.tables import LookupTable, key_forms


class FunctionError(ValueError):
    """A function got data it cannot handle (an unknown id, a cell that is not a flag)."""


class Scope(threading.local):
    """Names ``lookup``/``var`` can see while one record is evaluated."""

    names: dict[str, Any]

    def __init__(self) -> None:
        self.names = {}


_FLAG_TRUE = frozenset({"1", "true", "yes", "y", "x"})
_FLAG_FALSE = frozenset({"0", "false", "no", "n", ""})


def _entry(table: dict[Any, Any], key: Any) -> Any:
    """The entry of ``key`` in a var that is an object, under any of its forms."""
    for form in key_forms(key):
        if form in table:
            return table[form]
    raise KeyError(key)


class MappingFunctions(functions.Functions):
    """jmespath's built-in functions plus gtmerge's; one instance per loaded mapping."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def _name(self, name: str) -> Any:
        try:
            return self.scope.names[name]
        except KeyError:
            raise FunctionError(f"no table or var named {name!r}") from None

    @functions.signature({"types": ["string"]}, {"types": []})
    def _func_lookup(self, name: str, key: Any) -> Any:
        table = self._name(name)
        if not isinstance(table, (dict, LookupTable)):
            raise FunctionError(f"{name} is not an object, cannot look up {key!r} in it")
        try:
            return table[key] if isinstance(table, LookupTable) else _entry(table, key)
        except KeyError:
            raise FunctionError(f"{orjson.dumps(key).decode()} is not in {name}") from None

    @functions.signature({"types": ["string"]})
    def _func_var(self, name: str) -> Any:
        value = self._name(name)
        return value.whole() if isinstance(value, LookupTable) else value

    @functions.signature({"types": ["string"]})
    def _func_basename(self, path: str) -> str:
        return path.rstrip("/").rpartition("/")[2]

    @functions.signature({"types": ["string"]})
    def _func_dirname(self, path: str) -> str:
        return path.rstrip("/").rpartition("/")[0]

    @functions.signature({"types": ["string"]}, {"types": ["string"]})
    def _func_split(self, text: str, separator: str) -> list[str]:
        if not separator:
            raise FunctionError("split() needs a non-empty separator")
        return text.split(separator)

    @functions.signature({"types": ["string"]})
    def _func_trim(self, text: str) -> str:
        return text.strip()

    @functions.signature({"types": ["object"]})
    def _func_items(self, obj: dict[str, Any]) -> list[list[Any]]:
        return [[key, value] for key, value in obj.items()]

    @functions.signature({"types": ["object"]})
    def _func_to_entries(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"key": key, "value": value} for key, value in obj.items()]

    @functions.signature({"types": ["array", "null"]}, {"types": ["array", "null"]})
    def _func_zip(self, first: list[Any] | None, second: list[Any] | None) -> list[list[Any]]:
        if not isinstance(first or [], list) or not isinstance(second or [], list):
            raise TypeError("zip() takes arrays")  # replayed through jmespath's type check
        return [[a, b] for a, b in zip(first or (), second or (), strict=False)]

    @functions.signature({"types": []})
    def _func_flag(self, value: Any) -> bool:
        if value is None or isinstance(value, bool):
            return bool(value)
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            text = value.strip().lower()
            if text in _FLAG_TRUE:
                return True
            if text in _FLAG_FALSE:
                return False
        raise FunctionError(f"{orjson.dumps(value).decode()} is not a 1/0 flag")

    @functions.signature({"types": []})
    def _func_iso_date(self, value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        return moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")


#: The functions gtmerge adds (each is documented in docs/mappings.md; a test checks that).
CUSTOM_FUNCTIONS = (
    "lookup",
    "var",
    "basename",
    "dirname",
    "split",
    "trim",
    "items",
    "to_entries",
    "zip",
    "flag",
    "iso_date",
)


def new_options() -> tuple[Options, Scope]:
    """jmespath options with gtmerge's functions, and the scope those functions read."""
    scope = Scope()
    return Options(custom_functions=MappingFunctions(scope)), scope
