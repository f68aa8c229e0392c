"""Lookup tables past their share of ``--memory`` move to an indexed file in the run's work
directory (gtmerge/mapping/tables.py): the same bytes and counts as in memory, no file left."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from gtmerge import merge
from gtmerge.mapping import tables
from gtmerge.mapping.tables import LookupTable
from gtmerge.readers.base import TableSpace


def test_a_coco_table_over_its_share_of_memory_is_looked_up_on_disk_for_the_same_bytes(
    coco_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    connect = sqlite3.connect

    def spy(path: str) -> sqlite3.Connection:
        opened.append(path)
        return connect(path)

    monkeypatch.setattr(tables.sqlite3, "connect", spy)
    work = tmp_path / "work"
    work.mkdir()
    options: dict[str, Any] = {"image_root": "s3://bucket/images/", "workers": 1}
    held = merge([str(coco_file)], str(tmp_path / "held.manifest"), memory_mb=4096, **options)
    assert opened == []
    spilled = merge(
        [str(coco_file)],
        str(tmp_path / "spilled.manifest"),
        memory_mb=16,
        tmp_dir=str(work),
        **options,
    )
    # the annotations went to one file in the run's work directory, gone with the run
    assert [(Path(path).parent.parent, Path(path).name[:6]) for path in opened] == [
        (work, "table-")
    ]
    assert list(work.iterdir()) == []
    manifest = (tmp_path / "spilled.manifest").read_bytes()
    assert manifest == (tmp_path / "held.manifest").read_bytes()
    assert manifest.count(b"\n") == 20_000
    assert spilled.to_dict()["inputs"] == held.to_dict()["inputs"]


@pytest.mark.parametrize(
    ("share", "first"),
    [
        (1 << 30, 0),  # held in memory all along
        (300_000, 10_000),  # counted in memory once some of its values are on disk
        (1_000, 0),  # written in batches too small to be counted: counted when looked up
    ],
    ids=["in-memory", "counted-after-a-move", "counted-on-lookup"],
)
def test_a_key_with_too_many_values_fails_with_its_count_wherever_they_are(
    tmp_path: Path, share: int, first: int
) -> None:
    table = LookupTable("annotations", True, TableSpace(directory=str(tmp_path)), share)
    for _ in range(first):
        table.add(1, "ab")
    for other in range(2, 20_002):  # enough to fill a share of 300,000 bytes
        table.add(other, "ab")
    for _ in range(100_001 - first):
        table.add(1, "ab")
    table.add(2, "cd")
    table.finish()
    with pytest.raises(ValueError, match=r"^100,001 values for one key, over the 100,000 "):
        table[1]
    assert table[2] == ["ab", "cd"]
    table.close()
    assert list(tmp_path.iterdir()) == []
