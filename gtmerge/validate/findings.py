"""What validation reports: findings, and the result of validating one or more manifests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gtmerge.validate.codes import is_warning


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem, named by its Rekognition (or gtmerge) code.

    ``line`` is 1-based, or None for a problem of the whole manifest. ``attribute`` is the key
    the problem is in (``bounding-box`` or ``bounding-box-metadata``), ``annotation`` the index
    of the box in that attribute's ``annotations``. ``manifest`` names the manifest when
    several were validated together; None for problems that span training and test.
    """

    code: str
    line: int | None
    message: str
    attribute: str | None = None
    annotation: int | None = None
    manifest: str | None = None

    @property
    def is_warning(self) -> bool:
        return is_warning(self.code)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "line": self.line,
            "message": self.message,
            "attribute": self.attribute,
            "annotation": self.annotation,
            "manifest": self.manifest,
        }


def sort_key(finding: Finding) -> tuple[int, int, int]:
    """Manifest-level findings first, then by line and box."""
    annotation = -1 if finding.annotation is None else finding.annotation
    return (finding.line or 0, annotation, 0 if finding.attribute is None else 1)


@dataclass
class ValidationResult:
    """Errors and warnings, each in a deterministic order, and statistics in the spirit of
    Rekognition's ``manifest_summary.json``."""

    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)

    def summary_dict(self) -> dict[str, Any]:
        """``{"summary", "errors", "warnings"}``: what ``--json`` prints and reports embed."""
        return {
            "summary": self.summary,
            "errors": [finding.as_dict() for finding in self.errors],
            "warnings": [finding.as_dict() for finding in self.warnings],
        }
