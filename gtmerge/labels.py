"""The usable labels of one manifest line, as Rekognition would import them.

The validator's own line checks decide (the C fast path first, the rules otherwise), so that
a split and the dataset statistics count exactly the labels that ``gtmerge validate`` counts:
a line Rekognition would not import has no labels here.
"""

from __future__ import annotations

from typing import Any

from gtmerge.validate.lines import (
    VALID,
    LineError,
    Pairs,
    check_pairs,
    count_clean_labels,
    line_pairs,
)


def line_labels(
    record: dict[str, Any], pairing: dict[tuple[str, ...], Pairs]
) -> tuple[list[str], list[str]]:
    """The image-level label names and the box label names (one per box) of a parsed line;
    two empty lists for a line Rekognition would not import. ``pairing`` is a cache the
    caller keeps across lines (see :func:`gtmerge.validate.lines.line_pairs`)."""
    pairs = line_pairs(record, pairing)
    if not pairs:
        return [], []
    try:
        status, class_names, object_names, _ = check_pairs(record, pairs)
    except LineError:
        return [], []
    if status != VALID:
        return [], []
    return class_names, object_names


def line_classes(record: dict[str, Any], pairing: dict[tuple[str, ...], Pairs]) -> list[str]:
    """The distinct classes of a line (its labels and the classes of its boxes), in order."""
    fast = count_clean_labels
    if fast is not None:
        class_images: dict[str, int] = {}
        object_images: dict[str, int] = {}
        if fast(record, line_pairs(record, pairing), class_images, object_images):
            return list(dict.fromkeys([*class_images, *object_images]))
    class_names, object_names = line_labels(record, pairing)
    return list(dict.fromkeys([*class_names, *object_names]))
