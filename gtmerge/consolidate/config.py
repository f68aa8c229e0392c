"""How a run consolidates the answers about each image: the options of ``docs/merging.md``.

Everything here is a frozen, picklable value, checked when it is made, so that worker
processes get the same settings and a bad option fails before any input is read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from gtmerge.errors import excerpt, quoted

Policy = Literal["union", "vote", "latest", "first"]
Tie = Literal["first", "latest", "drop"]
VerdictMode = Literal["apply", "count"]
OnReject = Literal["labels", "image"]

POLICIES: tuple[str, ...] = get_args(Policy)
TIES: tuple[str, ...] = get_args(Tie)
VERDICT_MODES: tuple[str, ...] = get_args(VerdictMode)
ON_REJECT: tuple[str, ...] = get_args(OnReject)
DEFAULT_REJECT_VERDICTS = ("bad",)
DEFAULT_IOU = 0.5


class OptionError(ValueError):
    """A consolidation option that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class ClassFilter:
    """Class renames and filters, applied to every label and box before answers are compared.

    ``rename`` is already resolved (``a→b`` and ``b→c`` give ``a→c``); ``keep`` empty means
    every class is kept. ``drop`` and ``keep`` name classes after renaming.
    """

    rename: Mapping[str, str] = field(default_factory=dict)
    drop: frozenset[str] = frozenset()
    keep: frozenset[str] = frozenset()
    min_confidence: float | None = None
    human_only: bool = False

    @property
    def active(self) -> bool:
        return bool(
            self.rename
            or self.drop
            or self.keep
            or self.min_confidence is not None
            or self.human_only
        )

    def named_classes(self) -> dict[str, str]:
        """Every class an option names → the option, for the 'names nothing' warnings."""
        named = {name: "--rename" for name in self.rename}
        named.update({name: "--drop-class" for name in self.drop})
        named.update({name: "--keep-class" for name in self.keep})
        return named


@dataclass(frozen=True)
class Consolidation:
    """The consolidation options of one run (defaults: today's union, verdicts applied)."""

    policy: Policy = "union"
    #: fraction of the answers that must give a class under ``vote``; None: more than half
    quorum: float | None = None
    tie: Tie = "drop"
    iou: float = DEFAULT_IOU
    verdicts: VerdictMode = "apply"
    #: verdict names that reject, case-folded
    reject_verdicts: frozenset[str] = frozenset(DEFAULT_REJECT_VERDICTS)
    #: verification attribute → the attribute it verified
    verifies: Mapping[str, str] = field(default_factory=dict)
    on_reject: OnReject = "labels"
    #: label attribute → the question it answers (attributes not listed answer their own)
    questions: Mapping[str, str] = field(default_factory=dict)
    classes: ClassFilter = field(default_factory=ClassFilter)

    def __post_init__(self) -> None:
        _choice("--policy", self.policy, POLICIES)
        _choice("--tie", self.tie, TIES)
        _choice("--verdicts", self.verdicts, VERDICT_MODES)
        _choice("--on-reject", self.on_reject, ON_REJECT)
        if self.quorum is not None and not (0 < self.quorum <= 1):
            raise OptionError(f"--quorum {self.quorum}: a fraction above 0 and at most 1")
        if not (0 < self.iou <= 1):
            raise OptionError(f"--iou {self.iou}: a fraction above 0 and at most 1")
        confidence = self.classes.min_confidence
        if confidence is not None and not (0 <= confidence <= 1):
            raise OptionError(f"--min-confidence {confidence}: a number from 0 to 1")

    @property
    def applies_verdicts(self) -> bool:
        return self.verdicts == "apply"

    def question(self, attribute: str) -> str:
        return self.questions.get(attribute, attribute)

    def required_votes(self, answers: int) -> int:
        """Votes a class needs among ``answers`` answers under ``vote``.

        An explicit quorum is rounded up, as CVAT does (5 answers at 0.7 → 4 votes); the
        default is a strict majority.
        """
        if self.quorum is None:
            return answers // 2 + 1
        return max(1, math.ceil(self.quorum * answers - 1e-9))


def _choice(option: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise OptionError(f"{option} {quoted(value)}: one of {', '.join(allowed)}")


def parse_questions(specs: Iterable[str]) -> dict[str, str]:
    """``["species=species-v1,species-v2"]`` → ``{"species-v1": "species", ...}``."""
    questions: dict[str, str] = {}
    for spec in specs:
        name, sep, listed = spec.partition("=")
        attributes = [a.strip() for a in listed.split(",") if a.strip()]
        if not sep or not name.strip() or not attributes:
            raise OptionError(f"--question {quoted(spec)}: write NAME=ATTRIBUTE,ATTRIBUTE...")
        for attribute in attributes:
            other = questions.get(attribute)
            if other is not None and other != name.strip():
                raise OptionError(
                    f"--question {quoted(spec)}: {excerpt(attribute)} already answers "
                    f"question {excerpt(other)}"
                )
            questions[attribute] = name.strip()
    return questions


def parse_pairs(option: str, specs: Iterable[str], shape: str) -> dict[str, str]:
    """``["a=b"]`` → ``{"a": "b"}`` for options written ``NAME=VALUE`` (one value per name)."""
    pairs: dict[str, str] = {}
    for spec in specs:
        name, sep, value = (part.strip() for part in spec.partition("="))
        if not sep or not name or not value:
            raise OptionError(f"{option} {spec!r}: write {shape}")
        if pairs.get(name, value) != value:
            raise OptionError(f"{option} {spec!r}: {name} is already {pairs[name]}")
        pairs[name] = value
    return pairs
