"""The merge report: every input record accounted for exactly once, and what was written.

For each input, ``lines == used + duplicates + rejected + skipped``: a record is *used* when
it reached the merge and added something, a *duplicate* when it repeated a record already
seen for its image, *rejected* when it could not be read (see the rejects file), *skipped*
when it was blank. Attributes dropped from otherwise used records are counted separately.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from gtmerge.consolidate.config import Consolidation
from gtmerge.consolidate.stats import ConsolidationStats, consolidation_summary
from gtmerge.model import ImageRecord
from gtmerge.readers.base import Rejection

_LINES_SHOWN = 10


def reason_category(reason: str) -> str:
    """Reasons read ``category: detail``; the report counts by category."""
    return reason.split(":", 1)[0]


@dataclass
class InputStats:
    input: str
    mapping: str
    lines: int = 0
    parsed: int = 0
    duplicates: int = 0
    skipped: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    dropped_attributes: Counter[str] = field(default_factory=Counter)

    def add(self, other: InputStats) -> None:
        """Fold in the stats of another part of the same input."""
        self.lines += other.lines
        self.parsed += other.parsed
        self.duplicates += other.duplicates
        self.skipped += other.skipped
        self.rejected.update(other.rejected)
        self.dropped_attributes.update(other.dropped_attributes)

    def count_rejection(self, rejection: Rejection) -> None:
        target = self.dropped_attributes if rejection.attribute else self.rejected
        target[reason_category(rejection.reason)] += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "mapping": self.mapping,
            "lines": self.lines,
            "used": self.parsed - self.duplicates,
            "duplicates": self.duplicates,
            "rejected": sum(self.rejected.values()),
            "skipped": self.skipped,
            "rejected_by_reason": dict(sorted(self.rejected.items())),
            "dropped_attributes": sum(self.dropped_attributes.values()),
            "dropped_attributes_by_reason": dict(sorted(self.dropped_attributes.items())),
        }


@dataclass
class OutputStats:
    """What was written, for the report's totals."""

    images: int = 0
    unlabeled_images: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    boxes: Counter[str] = field(default_factory=Counter)
    box_sets: int = 0

    def add(self, other: OutputStats) -> None:
        """Fold in the stats of another part of the same output."""
        self.images += other.images
        self.unlabeled_images += other.unlabeled_images
        self.labels.update(other.labels)
        self.boxes.update(other.boxes)
        self.box_sets += other.box_sets

    def count(self, image: ImageRecord) -> None:
        self.images += 1
        if not image.labels and not image.box_sets:
            self.unlabeled_images += 1
        self.labels.update(label.name for label in image.labels)
        for box_set in image.box_sets:
            self.box_sets += 1
            self.boxes.update(box.class_name for box in box_set.boxes)


@dataclass
class Report:
    output: str
    inputs: list[InputStats] = field(default_factory=list)
    written: OutputStats = field(default_factory=OutputStats)
    validation: dict[str, Any] | None = None
    rules: Consolidation = field(default_factory=Consolidation)
    consolidation: ConsolidationStats = field(default_factory=ConsolidationStats)

    @property
    def rejected(self) -> int:
        return sum(sum(stats.rejected.values()) for stats in self.inputs)

    def to_dict(self) -> dict[str, Any]:
        inputs = [stats.to_dict() for stats in self.inputs]
        totals = {
            name: sum(entry[name] for entry in inputs)
            for name in ("lines", "used", "duplicates", "rejected", "skipped", "dropped_attributes")
        }
        verification: dict[str, dict[str, int]] = {}
        for (job, answer), count in sorted(self.consolidation.verdicts.items()):
            verification.setdefault(job, {})[answer] = count
        written = self.written
        return {
            "output": self.output,
            "inputs": inputs,
            "totals": totals,
            "images_written": written.images,
            "unlabeled_images": written.unlabeled_images,
            "labels_written": sum(written.labels.values()),
            "labels_per_class": dict(sorted(written.labels.items())),
            "box_sets_written": written.box_sets,
            "boxes_per_class": dict(sorted(written.boxes.items())),
            "verification_verdicts": verification,
            "consolidation": self.consolidation.to_dict(self.rules),
            "warnings": self.rekognition_findings(),
            "validation": self.validation,
        }

    def rekognition_findings(self) -> list[dict[str, Any]]:
        """What Rekognition would refuse or ignore in the written manifest, one entry per code
        (the validation of the output, folded for reading)."""
        if not self.validation:
            return []
        counts = self.validation["summary"]["findings_by_code"]
        by_code: dict[str, dict[str, Any]] = {}
        for finding in self.validation["errors"] + self.validation["warnings"]:
            code = finding["code"]
            entry = by_code.setdefault(
                code,
                {"code": code, "count": counts[code], "message": finding["message"], "lines": []},
            )
            if finding["line"] is not None and len(entry["lines"]) < _LINES_SHOWN:
                entry["lines"].append(finding["line"])
        return list(by_code.values())

    def summary(self) -> str:
        """A few human lines for stderr."""
        data = self.to_dict()
        totals = data["totals"]
        lines = [
            f"gtmerge: {len(self.inputs)} input(s), {totals['lines']} records → "
            f"{data['images_written']} images written to {self.output}"
        ]
        for entry in data["inputs"]:
            lines.append(
                f"  {entry['input']} [{entry['mapping']}]: {entry['lines']} records, "
                f"{entry['used']} used, {entry['duplicates']} duplicate, "
                f"{entry['rejected']} rejected, {entry['skipped']} blank"
            )
        reasons: Counter[str] = Counter()
        for stats in self.inputs:
            reasons.update(stats.rejected)
            reasons.update({f"{k} (attribute)": v for k, v in stats.dropped_attributes.items()})
        for reason, count in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  rejected {count}: {reason}")
        lines.append(
            f"  {data['labels_written']} labels in {len(data['labels_per_class'])} classes, "
            f"{sum(data['boxes_per_class'].values())} boxes in {data['box_sets_written']} box sets"
        )
        for job, counts in data["verification_verdicts"].items():
            shown = ", ".join(f"{verdict} {n}" for verdict, n in counts.items())
            applied = "applied" if self.rules.applies_verdicts else "counted, not written"
            lines.append(f"  verification {job}: {shown} ({applied})")
        lines.extend(f"  {line}" for line in consolidation_summary(data["consolidation"]))
        for finding in data["warnings"]:
            lines_found = count_lines(finding["count"])
            lines.append(f"  Rekognition: {finding['code']} ({lines_found}): {finding['message']}")
        return "\n".join(lines)


def count_lines(count: int) -> str:
    """'1 line', '2 lines'."""
    return f"{count} line" if count == 1 else f"{count} lines"
