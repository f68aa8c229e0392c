"""Consolidation: what a labeling team does with several answers about the same image.

Verdicts applied, disagreements between jobs resolved by a stated policy and reported,
classes renamed and filtered. ``docs/merging.md`` is the user's guide to it.
"""

from __future__ import annotations

from collections.abc import Iterable

from gtmerge.consolidate.config import (
    DEFAULT_IOU,
    DEFAULT_REJECT_VERDICTS,
    ClassFilter,
    Consolidation,
    OnReject,
    OptionError,
    Policy,
    Tie,
    VerdictMode,
    parse_pairs,
    parse_questions,
)
from gtmerge.consolidate.renames import load_renames
from gtmerge.consolidate.stats import ConsolidationStats

__all__ = [
    "ClassFilter",
    "Consolidation",
    "ConsolidationStats",
    "OptionError",
    "consolidation",
]


def consolidation(
    *,
    policy: Policy = "union",
    quorum: float | None = None,
    tie: Tie = "drop",
    iou: float = DEFAULT_IOU,
    verdicts: VerdictMode = "apply",
    reject_verdicts: Iterable[str] = DEFAULT_REJECT_VERDICTS,
    verifies: Iterable[str] = (),
    on_reject: OnReject = "labels",
    questions: Iterable[str] = (),
    rename: Iterable[str] = (),
    drop_classes: Iterable[str] = (),
    keep_classes: Iterable[str] = (),
    min_confidence: float | None = None,
    human_only: bool = False,
) -> Consolidation:
    """The settings from options as the command line writes them (``questions`` as
    ``NAME=ATTR,ATTR``, ``verifies`` as ``VERIFICATION_ATTR=ATTR``, ``rename`` as files or
    ``FROM=TO``); raises :class:`OptionError` with a one-line reason."""
    reject = frozenset(name.strip().casefold() for name in reject_verdicts if name.strip())
    if not reject:
        raise OptionError("--reject-verdict: name at least one verdict")
    classes = ClassFilter(
        load_renames(rename),
        frozenset(drop_classes),
        frozenset(keep_classes),
        min_confidence,
        human_only,
    )
    return Consolidation(
        policy=policy,
        quorum=quorum,
        tie=tie,
        iou=iou,
        verdicts=verdicts,
        reject_verdicts=reject,
        verifies=parse_pairs("--verifies", verifies, "VERIFICATION_ATTRIBUTE=ATTRIBUTE"),
        on_reject=on_reject,
        questions=parse_questions(questions),
        classes=classes,
    )
