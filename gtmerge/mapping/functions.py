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

from gtmerge.consolidate.stats import MAX_HELD


class FunctionError(ValueError):
    """A function got data it cannot handle (an unknown id, a cell that is not a flag)."""


class GroupTable(dict[Any, bytearray]):
    """A lookup table with several values per key (COCO annotations grouped by image id).

    Values are kept serialised, comma-joined per key, because a Python dict per annotation costs
    about ten times its JSON: this is what lets a COCO file with millions of boxes be grouped.
    A key with over :data:`MAX_HELD` values (one image with a million annotations) is given up
    as the merge gives up such an image: its values are freed and its further ones only
    counted, and looking it up fails with the count.
    """

    def __init__(self) -> None:
        super().__init__()
        #: values per key, kept only for keys whose group could hold over MAX_HELD of them
        self._counts: dict[Any, int] = {}

    def add(self, key: Any, value: Any) -> None:
        count = self._counts.get(key)
        if count is not None and count > MAX_HELD:
            self._counts[key] = count + 1
            return
        encoded = orjson.dumps(value)
        group = self.get(key)
        if group is None:
            self[key] = bytearray(encoded)
            return
        group += b","
        group += encoded
        if count is None and len(group) > 2 * MAX_HELD:  # each value takes two bytes or more
            count = len(self.values_of(key)) - 1
        if count is not None:
            self._counts[key] = count + 1
            if count + 1 > MAX_HELD:
                self[key] = bytearray()

    def values_of(self, key: Any) -> list[Any]:
        count = self._counts.get(key, 0)
        if count > MAX_HELD:
            raise FunctionError(f"{count:,} values for one key, over the {MAX_HELD:,} it may hold")
        group = self.get(key)
        if group is None:
            return []
        decoded: list[Any] = orjson.loads(b"[" + group + b"]")
        return decoded


class Scope(threading.local):
    """Names ``lookup``/``var`` can see while one record is evaluated."""

    names: dict[str, Any]

    def __init__(self) -> None:
        self.names = {}


_FLAG_TRUE = frozenset({"1", "true", "yes", "y", "x"})
_FLAG_FALSE = frozenset({"0", "false", "no", "n", ""})


def _table_key(table: dict[Any, Any], key: Any) -> Any:
    """The stored key matching ``key``: ids are numbers in one file and strings in another
    (GT's class-map has string keys, its annotations integer class ids)."""
    if key in table:
        return key
    text = key if isinstance(key, str) else orjson.dumps(key).decode()
    if text in table:
        return text
    if isinstance(key, str):
        try:
            number = orjson.loads(key)
        except orjson.JSONDecodeError:
            return None
        if number in table:
            return number
    return None


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
        if isinstance(table, GroupTable):
            found = _table_key(table, key)
            return [] if found is None else table.values_of(found)
        if not isinstance(table, dict):
            raise FunctionError(f"{name} is not an object, cannot look up {key!r} in it")
        found = _table_key(table, key)
        if found is None:
            raise FunctionError(f"{orjson.dumps(key).decode()} is not in {name}")
        return table[found]

    @functions.signature({"types": ["string"]})
    def _func_var(self, name: str) -> Any:
        return self._name(name)

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
