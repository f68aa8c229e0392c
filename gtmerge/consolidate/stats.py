"""What consolidation did, for the report: per question, per pair of jobs, per reason.

Each partition of a spooled run counts its own images; :meth:`ConsolidationStats.add` folds
the counts together, so the report is the same whatever the partitioning.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gtmerge.consolidate.config import Consolidation
from gtmerge.errors import error_line
from gtmerge.model import Verdict

#: oversized images named in the warnings
_KEYS_SHOWN = 10
#: Records, labels and boxes one image may hold before it is left out (gtmerge.merger): a
#: Rekognition line has at most 50 labels and 50 boxes, so past 100,000 it is broken input.
MAX_HELD = 100_000


@dataclass
class QuestionStats:
    """Images that got one answer, answers that agreed, and answers that differed."""

    images: int = 0
    one_answer: int = 0
    agreed: int = 0
    conflicts: int = 0
    #: (job, job) → images both answered, and images on which they agreed
    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)
    pairs_agreed: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, other: QuestionStats) -> None:
        self.images += other.images
        self.one_answer += other.one_answer
        self.agreed += other.agreed
        self.conflicts += other.conflicts
        self.pairs.update(other.pairs)
        self.pairs_agreed.update(other.pairs_agreed)

    def to_dict(self) -> dict[str, Any]:
        agreement = [
            {
                "jobs": list(pair),
                "images": self.pairs[pair],
                "agreed": self.pairs_agreed[pair],
                "rate": round(self.pairs_agreed[pair] / self.pairs[pair], 4),
            }
            for pair in sorted(self.pairs)
        ]
        return {
            "images": self.images,
            "one_answer": self.one_answer,
            "agreed": self.agreed,
            "conflicts": self.conflicts,
            "agreement": agreement,
        }


@dataclass
class ConsolidationStats:
    questions: dict[str, QuestionStats] = field(default_factory=dict)
    labels_dropped: Counter[str] = field(default_factory=Counter)
    boxes_dropped: Counter[str] = field(default_factory=Counter)
    #: images with a rejecting verdict, and those left out whole (``--on-reject image``)
    rejected_images: int = 0
    images_dropped: int = 0
    #: images left out for holding too many answers (merger.MAX_HELD), and the first of them
    oversized: int = 0
    oversized_keys: list[str] = field(default_factory=list)
    #: names seen in the inputs, for the warnings about options that name nothing
    attributes: set[str] = field(default_factory=set)
    verification_attributes: set[str] = field(default_factory=set)
    classes: set[str] = field(default_factory=set)
    #: (job name, verdict) → images it was given to; a verdict that chained jobs copied
    #: (the same attribute, job and date on one image) is counted once
    verdicts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def question(self, name: str) -> QuestionStats:
        stats = self.questions.get(name)
        if stats is None:
            stats = self.questions[name] = QuestionStats()
        return stats

    def saw_answers(self, question: str, answers: int) -> None:
        """Count one image that the question got ``answers`` answers to."""
        stats = self.question(question)
        stats.images += 1
        if answers == 1:
            stats.one_answer += 1

    def count_verdicts(self, verdicts: Iterable[Verdict]) -> None:
        """Count the verdicts given to one image (its copies already merged by answer; the
        target, which the line they were read from decides, is not part of a verdict's
        identity)."""
        given = {
            (v.job_name or "(no job name)", v.attribute, v.creation_date, v.verdict)
            for v in verdicts
        }
        self.verdicts.update((job, verdict) for job, _, _, verdict in given)

    def left_out_oversized(self, key: str) -> None:
        self.oversized += 1
        if len(self.oversized_keys) < _KEYS_SHOWN:
            self.oversized_keys.append(key)

    def add(self, other: ConsolidationStats) -> None:
        for name, stats in other.questions.items():
            self.question(name).add(stats)
        self.labels_dropped.update(other.labels_dropped)
        self.boxes_dropped.update(other.boxes_dropped)
        self.rejected_images += other.rejected_images
        self.verdicts.update(other.verdicts)
        self.images_dropped += other.images_dropped
        self.oversized += other.oversized
        room = _KEYS_SHOWN - len(self.oversized_keys)
        self.oversized_keys.extend(sorted(other.oversized_keys)[: max(room, 0)])
        self.attributes |= other.attributes
        self.verification_attributes |= other.verification_attributes
        self.classes |= other.classes

    def warnings(self, config: Consolidation) -> list[str]:
        """Options that name something no input has: a typo, or the wrong inputs."""
        found = []
        for attribute, question in sorted(config.questions.items()):
            if attribute not in self.attributes:
                found.append(f"--question {question}: no label attribute {attribute} in the inputs")
        for verifier, verified in sorted(config.verifies.items()):
            if verifier not in self.verification_attributes:
                found.append(
                    f"--verifies {verifier}={verified}: no verdict of attribute {verifier} "
                    "was applied"
                )
            if verified not in self.attributes:
                found.append(
                    f"--verifies {verifier}={verified}: no label attribute {verified} in the inputs"
                )
        # --rename names classes as the inputs have them, --drop-class and --keep-class as
        # they are after renaming
        rename = config.classes.rename
        renamed = {rename.get(name, name) for name in self.classes}
        for key in sorted(self.oversized_keys):
            found.append(
                f"{key}: left out, over {MAX_HELD:,} records, labels and boxes for one image"
            )
        for name, option in sorted(config.classes.named_classes().items()):
            if name not in (self.classes if option == "--rename" else renamed):
                where = "after --rename" if name in self.classes else "in the inputs"
                found.append(f"{option} {name}: no class {name} {where}")
        # a name comes from the command line or a rename file, and may be megabytes long
        return [error_line(warning) for warning in found]

    def to_dict(self, config: Consolidation) -> dict[str, Any]:
        return {
            "policy": config.policy,
            "quorum": config.quorum,
            "tie": config.tie,
            "iou": config.iou,
            "verdicts": config.verdicts,
            "reject_verdicts": sorted(config.reject_verdicts),
            "on_reject": config.on_reject,
            "questions": {name: self.questions[name].to_dict() for name in sorted(self.questions)},
            "conflicts": sum(q.conflicts for q in self.questions.values()),
            "labels_dropped": sum(self.labels_dropped.values()),
            "labels_dropped_by_reason": _nonzero(self.labels_dropped),
            "boxes_dropped": sum(self.boxes_dropped.values()),
            "boxes_dropped_by_reason": _nonzero(self.boxes_dropped),
            "rejected_images": self.rejected_images,
            "images_dropped": self.images_dropped,
            "images_over_answer_limit": self.oversized,
            "warnings": self.warnings(config),
        }


def consolidation_summary(data: dict[str, Any]) -> list[str]:
    """The summary lines of a report's ``consolidation`` section: questions that had several
    answers, what was dropped and why, verdicts applied, and warnings."""
    lines = []
    for name, question in data["questions"].items():
        several = question["agreed"] + question["conflicts"]
        if several:
            lines.append(
                f"question {name}: {question['images']} images, {several} with several "
                f"answers: {question['agreed']} agreed, {question['conflicts']} conflicts "
                f"(--policy {data['policy']})"
            )
    for kind, one in (("labels", "label"), ("boxes", "box")):
        for reason, count in data[f"{kind}_dropped_by_reason"].items():
            lines.append(f"dropped {count} {one if count == 1 else kind}: {reason}")
    if data["rejected_images"]:
        left_out = f", {data['images_dropped']} left out" if data["images_dropped"] else ""
        rejected = data["rejected_images"]
        lines.append(f"verdicts rejected {rejected} image{'' if rejected == 1 else 's'}{left_out}")
    lines.extend(f"warning: {warning}" for warning in data["warnings"])
    return lines


def _nonzero(counts: Counter[str]) -> dict[str, int]:
    return {reason: count for reason, count in sorted(counts.items()) if count}
