"""The merge stage: all records of one image, from any line, file or job, become one image.

This module gathers each image's answers; :mod:`gtmerge.consolidate` decides what of them is
written. With the default options (``--policy union``, no verdict in the inputs) the rules are
(also in README "How records are merged"):

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from gtmerge.consolidate.config import Consolidation
from gtmerge.consolidate.image import Answers, Outcome, consolidate
from gtmerge.consolidate.stats import MAX_HELD, ConsolidationStats
from gtmerge.model import AnswerKey, BoxSet, ImageRecord, Label, Verdict


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
    """Accumulates the records of one image: each answer once, in input order."""

    key: str
    #: (answer, class) → the label; (answer, box geometry) → the box set
    labels: dict[tuple[AnswerKey, str], Label] = field(default_factory=dict)
    box_sets: dict[tuple[AnswerKey, object], BoxSet] = field(default_factory=dict)
    superseded: set[object] = field(default_factory=set)
    blank: dict[AnswerKey, None] = field(default_factory=dict)
    verdicts: dict[Verdict, None] = field(default_factory=dict)
    order: dict[AnswerKey, int] = field(default_factory=dict)
    seen: set[int] = field(default_factory=set)
    #: records, labels and boxes held so far; None once past MAX_HELD (the image is left out)
    held: int | None = 0

    def add(self, record: ImageRecord) -> bool:
        """Merge one record; return False when it is a duplicate of a record already added.

        The record's hash stands for it: keeping every record would hold the whole input in
        memory, and within one image a collision is a 2**-64 event. Past :data:`MAX_HELD`,
        the image is given up: what it held is freed, and its further records are only
        counted, so that one image cannot take the memory a budget was set for.
        """
        if self.held is None:
            return True
        fingerprint = hash(record)
        if fingerprint in self.seen:
            return False
        self.held += 1 + len(record.labels) + sum(len(b.boxes) for b in record.box_sets)
        if self.held > MAX_HELD:
            self._give_up()
            return True
        self.seen.add(fingerprint)
        order = self.order
        for label in record.labels:
            answer = label.answer
            order.setdefault(answer, len(order))
            self.labels.setdefault((answer, label.name), label)
        for answer in record.blank_answers:
            order.setdefault(answer, len(order))
            self.blank[answer] = None
        for box_set in record.box_sets:
            answer = box_set.answer
            order.setdefault(answer, len(order))
            self.box_sets.setdefault((answer, box_set.geometry), box_set)
        self.superseded.update(box_set.geometry for box_set in record.superseded)
        for verdict in record.verdicts:
            self.verdicts[verdict] = None
        return True

    def _give_up(self) -> None:
        self.held = None
        for held in (self.labels, self.box_sets, self.superseded, self.blank, self.verdicts):
            held.clear()
        self.order.clear()
        self.seen.clear()

    def result(self, config: Consolidation, stats: ConsolidationStats) -> Outcome:
        if self.held is None:
            stats.left_out_oversized(self.key)
            return Outcome(self.key, None, [], False)
        stats.count_verdicts(self.verdicts)
        answers = Answers(
            self.key,
            list(self.labels.values()),
            list(self.box_sets.values()),
            self.superseded,
            list(self.blank),
            list(self.verdicts),
            self.order,
        )
        return consolidate(answers, config, stats)
