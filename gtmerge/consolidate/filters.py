"""``--rename``, ``--drop-class``, ``--keep-class``, ``--min-confidence``, ``--human-only``:
applied to every label and box of every input before answers are compared, each drop counted
by its reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from gtmerge.consolidate.config import ClassFilter
from gtmerge.consolidate.stats import ConsolidationStats
from gtmerge.model import BoxSet, Label


def drop_reason(name: str, confidence: float, human: bool, classes: ClassFilter) -> str | None:
    """Why a label or box (its class already renamed) is dropped; None when it is kept."""
    if classes.human_only and not human:
        return "filter: not human-annotated"
    if name in classes.drop:
        return "filter: --drop-class"
    if classes.keep and name not in classes.keep:
        return "filter: not a --keep-class"
    if classes.min_confidence is not None and confidence < classes.min_confidence:
        return "filter: below --min-confidence"
    return None


def _kept_name(
    name: str, confidence: float, human: bool, classes: ClassFilter, dropped: Counter[str]
) -> str | None:
    """The class renamed, or None (its drop counted in ``dropped``)."""
    renamed = classes.rename.get(name, name)
    reason = drop_reason(renamed, confidence, human, classes)
    if reason is None:
        return renamed
    dropped[reason] += 1
    return None


def filter_labels(
    labels: Iterable[Label], classes: ClassFilter, stats: ConsolidationStats
) -> list[Label]:
    kept = []
    for label in labels:
        stats.classes.add(label.name)
        name = _kept_name(
            label.name, label.confidence, label.human_annotated, classes, stats.labels_dropped
        )
        if name is not None:
            kept.append(label if name == label.name else label._replace(name=name))
    return kept


def filter_box_sets(
    box_sets: Iterable[BoxSet], classes: ClassFilter, stats: ConsolidationStats
) -> list[BoxSet]:
    """The box sets with their boxes renamed and filtered; a set whose every box was
    dropped goes too (a set that had no box to begin with stays: it says "nothing here")."""
    kept = []
    for box_set in box_sets:
        boxes = []
        for box in box_set.boxes:
            stats.classes.add(box.class_name)
            name = _kept_name(
                box.class_name,
                box.confidence,
                box_set.human_annotated,
                classes,
                stats.boxes_dropped,
            )
            if name is not None:
                boxes.append(box if name == box.class_name else box._replace(class_name=name))
        if boxes == list(box_set.boxes):
            kept.append(box_set)
        elif boxes:
            kept.append(box_set._replace(boxes=tuple(boxes)))
    return kept
