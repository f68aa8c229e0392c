"""The merge stage: all records of one image, from any line, file or job, become one image.

Rules (also in README "How records are merged"):

- **Labels** are the union of class names over every record. When one class name comes more
  than once, the label keeps the metadata (confidence, human-annotated, date, job name) of its
  first *human-annotated* occurrence in input order, or of its first occurrence when no
  occurrence is human-annotated. Confidences are not compared: Ground Truth says they are not
  comparable across jobs.
- **Box sets** with the same image size, classes and coordinates are one box set (first
  occurrence kept). A box set that an adjustment job replaced (``ImageRecord.superseded``) is
  dropped wherever it appears.
- A record identical to one already seen for the same image is a **duplicate**: it adds
  nothing and is counted as such in the report.
- Labels and box sets keep the order in which they were first seen.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from gtmerge.model import BoxSet, ImageRecord, Label
from gtmerge.report import InputStats


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while merge state piles up: the records hold no cycles,
    and every collection would walk all of them (measured at 15% of a large merge)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(slots=True)
class ImageMerger:
    """Accumulates the records of one image."""

    key: str
    labels: dict[str, Label] = field(default_factory=dict)
    box_sets: dict[object, BoxSet] = field(default_factory=dict)
    superseded: set[object] = field(default_factory=set)
    seen: set[int] = field(default_factory=set)

    def add(self, record: ImageRecord) -> bool:
        """Merge one record; return False when it is a duplicate of a record already added.

        The record's hash stands for it: keeping every record would hold the whole input in
        memory, and within one image a collision is a 2**-64 event.
        """
        fingerprint = hash(record)
        if fingerprint in self.seen:
            return False
        self.seen.add(fingerprint)
        for label in record.labels:
            kept = self.labels.get(label.name)
            if kept is None or (label.human_annotated and not kept.human_annotated):
                self.labels[label.name] = label
        for box_set in record.box_sets:
            self.box_sets.setdefault(box_set.geometry, box_set)
        self.superseded.update(box_set.geometry for box_set in record.superseded)
        return True

    def result(self) -> ImageRecord:
        box_sets = tuple(
            box_set
            for geometry, box_set in self.box_sets.items()
            if geometry not in self.superseded
        )
        return ImageRecord(self.key, tuple(self.labels.values()), box_sets)


@dataclass(frozen=True, slots=True)
class Tagged:
    """A record with the input it came from, for the report's per-input duplicate counts."""

    source_index: int
    record: ImageRecord


def merge_in_memory(records: Iterable[Tagged], inputs: list[InputStats]) -> Iterator[ImageRecord]:
    """Group records by image key and merge them; images come out in first-seen order.

    Each duplicate record is counted in ``inputs[record.source_index]``.
    """
    images: dict[str, ImageMerger] = {}
    with paused_gc():
        for tagged in records:
            record = tagged.record
            merger = images.get(record.key)
            if merger is None:
                merger = images[record.key] = ImageMerger(record.key)
            if not merger.add(record):
                inputs[tagged.source_index].duplicates += 1
    for merger in images.values():
        yield merger.result()
