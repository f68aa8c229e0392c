"""The lookup tables of a JSON document (``records.tables``), and where their memory goes.

A table is read whole, in a pass of its own, before the records that look it up (COCO's
annotations grouped by image id, its categories by id). Its entries are kept as the JSON bytes
of their values (orjson): about 40 bytes a COCO annotation, where Python objects take ten times
that. A group table joins the values of one key with newlines, which orjson never writes, so
a key's values are counted without being parsed.

**Memory.** A table holds its entries in memory up to its share of the budget
(:class:`~gtmerge.readers.base.TableSpace`: the tables of one source share half of one
worker's part of ``--memory``, evenly). Past its share, it moves them to an SQLite file in
the run's work directory: one row per key and batch (key, sequence, number of values,
values), indexed on the key, so that each record reads its key's rows back in their original
order with one indexed query, and memory holds one batch of entries, SQLite's page cache
(2 MiB) and the record being read. Entries added after the move are batched in memory up to
the same share and then written. No journal is kept and nothing is synced: the file lives as
long as the read of its source, which deletes it, and the work directory goes with the run
(on success, failure or interruption: gtmerge/api.py).

A key with over :data:`~gtmerge.consolidate.stats.MAX_HELD` values (one image with a million
annotations) is given up as the merge gives up such an image: its values are freed and its
further ones only counted, and looking it up fails with the count.
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from typing import Any

import orjson

from gtmerge.consolidate.stats import MAX_HELD
from gtmerge.readers.base import TableSpace

#: Memory a key costs in a held table beyond its values: the dict entry, the key, the bytes
#: object and its spare capacity (measured: 180 bytes for an integer key and a grown group).
_KEY_BYTES = 180
_SEPARATOR = b"\n"
#: A key's rows in file order; for a plain table its last value (the last entry wins).
_GROUP = "SELECT n, value FROM entries WHERE key = ? ORDER BY seq"
_LAST = _GROUP + " DESC LIMIT 1"
_COUNT = "SELECT coalesce(sum(n), 0) FROM entries WHERE key = ?"


class TableError(ValueError):
    """A lookup that cannot be answered: a key given up, a whole table asked for on disk."""


def key_forms(key: Any) -> Iterator[Any]:
    """``key`` and the other forms its entry may be stored under: ids are numbers in one file
    and strings in another (GT's class-map has string keys, its annotations integer ids)."""
    yield key
    if not isinstance(key, str):
        yield orjson.dumps(key).decode()
        return
    try:
        number = orjson.loads(key)
    except orjson.JSONDecodeError:
        return
    if isinstance(number, (int, float)):
        yield number


def _stored_key(key: Any) -> bytes:
    """A key as the file stores it, equal where Python's keys are equal (``1 == 1.0 == True``)
    and different where they are not (``1`` and ``"1"``)."""
    if isinstance(key, (int, float)) and math.isfinite(key) and key == int(key):
        return b"%d" % key
    return orjson.dumps(key)


def _decode(values: bytes | bytearray) -> list[Any]:
    decoded: list[Any] = orjson.loads(b"[" + values.replace(_SEPARATOR, b",") + b"]")
    return decoded


class LookupTable:
    """One table: ``table[key]`` is the value of ``key``, or with ``group`` the list of its
    values in file order (empty when it has none); a key not in a plain table raises
    :class:`KeyError`. :meth:`finish` ends the loading, :meth:`close` frees the table."""

    def __init__(self, name: str, group: bool, space: TableSpace, share: int) -> None:
        self.name = name
        self.group = group
        self._space = space
        self._share = share
        self._held: dict[Any, bytearray] = {}
        self._held_bytes = 0
        self._file: str | None = None
        self._db: sqlite3.Connection | None = None
        #: values per key, kept only for keys whose group could hold over MAX_HELD of them
        self._counts: dict[Any, int] = {}

    def add(self, key: Any, value: Any) -> None:
        """Add an entry: another value of ``key`` in a group table, its value otherwise."""
        count = self._counts.get(key)
        if count is not None:
            self._counts[key] = count = count + 1
            if count > MAX_HELD:  # given up: its values freed, its further ones only counted
                self._held_bytes -= len(self._held.pop(key, b""))
                return
        encoded = orjson.dumps(value)
        held = self._held.get(key)
        if held is None or not self.group:
            self._held_bytes += len(encoded) + (_KEY_BYTES if held is None else -len(held))
            self._held[key] = bytearray(encoded)
        else:
            held += _SEPARATOR
            held += encoded
            self._held_bytes += len(encoded) + 1
            if count is None and len(held) > 2 * MAX_HELD:  # each value takes two bytes or more
                self._counts[key] = held.count(_SEPARATOR) + 1 + self._count_on_disk(key)
        if self._held_bytes > self._share:
            self._write()

    def finish(self) -> None:
        """Loading is over: what is still held goes to the file, if there is one."""
        if self._db is not None:
            self._write()

    def __getitem__(self, key: Any) -> Any:
        for form in key_forms(key):
            found = self._find(form)
            if found is not None:
                return _decode(found) if self.group else orjson.loads(found)
        if self.group:
            return []
        raise KeyError(key)

    def whole(self) -> dict[Any, Any]:
        """The table as one object (``var('name')``), while it is held in memory."""
        if self._db is not None:
            raise TableError(
                f"table {self.name} is too large to be used whole (over its share of "
                "--memory); look its entries up with lookup()"
            )
        return {key: self[key] for key in self._held}

    def close(self) -> None:
        """Free the memory and delete the file."""
        self._held.clear()
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._file is not None:
            with contextlib.suppress(FileNotFoundError):  # the work directory went first
                os.unlink(self._file)
            self._file = None

    def _find(self, key: Any) -> bytes | bytearray | None:
        """The stored values of ``key`` as they are stored, None when it has none."""
        count = self._counts.get(key, 0)
        if count > MAX_HELD:
            raise TableError(f"{count:,} values for one key, over the {MAX_HELD:,} it may hold")
        if self._db is None:
            return self._held.get(key)
        with self._disk():
            query = self._db.execute(_GROUP if self.group else _LAST, (_stored_key(key),))
            rows = query.fetchall()
        if not rows:
            return None
        count = sum(n for n, _ in rows)
        if count > MAX_HELD:  # the key's values came in batches too small to be counted
            raise TableError(f"{count:,} values for one key, over the {MAX_HELD:,} it may hold")
        return _SEPARATOR.join(value for _, value in rows)

    def _count_on_disk(self, key: Any) -> int:
        if self._db is None:
            return 0
        with self._disk():
            (count,) = self._db.execute(_COUNT, (_stored_key(key),)).fetchone()
        return int(count)

    def _write(self) -> None:
        """Move every held entry to the file (created on first use)."""
        with self._disk():
            db = self._db = self._db or self._open()
            with db:
                db.executemany(
                    "INSERT INTO entries (key, n, value) VALUES (?, ?, ?)",
                    (
                        (_stored_key(key), held.count(_SEPARATOR) + 1, held)
                        for key, held in self._held.items()
                    ),
                )
        self._held.clear()
        self._held_bytes = 0

    @contextlib.contextmanager
    def _disk(self) -> Iterator[None]:
        """SQLite's errors (a full disk) as the OSError a failed read or write raises."""
        try:
            yield
        except sqlite3.Error as exc:
            raise OSError(f"table {self.name}: {exc}") from exc

    def _open(self) -> sqlite3.Connection:
        descriptor, self._file = tempfile.mkstemp(
            prefix="table-", suffix=".sqlite", dir=self._space.directory
        )
        os.close(descriptor)
        db = sqlite3.connect(self._file)
        db.executescript(
            """
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            PRAGMA temp_store = MEMORY;
            CREATE TABLE entries (seq INTEGER PRIMARY KEY, key BLOB, n INTEGER, value BLOB);
            CREATE INDEX entries_key ON entries (key);
            """
        )
        return db
