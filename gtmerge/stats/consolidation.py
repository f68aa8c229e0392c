"""The merge report's consolidation on the page: how often the jobs agreed, per question and
per pair of jobs, and what the policy, the verdicts and the class filters took out.

Read defensively, like the rest of the merge report: what is missing is left out.
"""

from __future__ import annotations

from html import escape
from typing import Any

from gtmerge.stats.svg import Row, Series, hbars, legend

_ANSWERS = (
    Series("one answer", "#9e9e9e"),
    Series("answers agreed", "#2e7d32"),
    Series("conflicts", "#b3261e"),
)
_AGREEMENT = Series("agreement %", "#2f6db3")
_DROPPED = (Series("labels", "#2f6db3"), Series("boxes", "#e8912d"))


def consolidation_section(data: dict[str, Any]) -> str:
    parts = ["<h2>Agreement between jobs (consolidation)</h2>", _settings(data)]
    questions = {name: q for name, q in _dict(data.get("questions")).items() if isinstance(q, dict)}
    rows = [
        Row(
            name,
            [
                whole_number(q.get("one_answer")),
                whole_number(q.get("agreed")),
                whole_number(q.get("conflicts")),
            ],
        )
        for name, q in questions.items()
    ]
    if rows:
        parts.append(
            '<p class="note">Images per question: answered by one job, by several that agreed, '
            "or by several that differed (each difference is a line of --conflicts).</p>"
            + legend(_ANSWERS)
            + hbars(rows, _ANSWERS, zeros=False)
        )
    rows = []
    for name, question in questions.items():
        for pair in question.get("agreement", []):
            images = whole_number(pair.get("images")) if isinstance(pair, dict) else 0
            if images:
                agreed = whole_number(pair.get("agreed"))
                # "labeling-job/species" → "species": the prefix Ground Truth puts before all
                jobs = " ~ ".join(str(job).rsplit("/", 1)[-1] for job in pair.get("jobs", []))
                note = f"{agreed} of {images} images"
                rows.append(Row(f"{name}: {jobs}", [round(100 * agreed / images, 1)], note=note))
    if rows:
        parts.append(
            "<h3>Each pair of jobs</h3>"
            '<p class="note">Share of the images both jobs answered on which they agreed '
            "(boxes: every object matched by IoU).</p>" + hbars(rows, [_AGREEMENT], notes="agreed")
        )
    labels = _dict(data.get("labels_dropped_by_reason"))
    boxes = _dict(data.get("boxes_dropped_by_reason"))
    reasons = sorted(set(labels) | set(boxes))
    if reasons:
        rows = [Row(r, [whole_number(labels.get(r)), whole_number(boxes.get(r))]) for r in reasons]
        parts.append(
            "<h3>Taken out, by reason</h3>" + legend(_DROPPED) + hbars(rows, _DROPPED, zeros=False)
        )
    warnings = [w for w in data.get("warnings", []) if isinstance(w, str)]
    if warnings:
        items = "".join(f"<li>{escape(w)}</li>" for w in warnings)
        parts.append(f'<div class="verdict warn"><ul>{items}</ul></div>')
    return "\n".join(parts)


def _settings(data: dict[str, Any]) -> str:
    quorum = data.get("quorum")
    shown = [
        f"policy {data.get('policy', '?')}",
        f"ties: {data.get('tie', '?')}",
        f"quorum: {'more than half' if quorum is None else quorum}",
        f"IoU {data.get('iou', '?')}",
        f"verdicts: {data.get('verdicts', '?')}",
    ]
    rejected = whole_number(data.get("rejected_images"))
    if rejected:
        left_out = whole_number(data.get("images_dropped"))
        images = "image" if rejected == 1 else "images"
        shown.append(f"{rejected} {images} rejected by a verdict ({left_out} left out)")
    return f'<p class="note">{escape(" · ".join(shown))}</p>'


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def whole_number(value: Any) -> int:
    """A count from the report, or 0 when it is not one."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
