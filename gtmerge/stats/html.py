"""The self-contained HTML page of ``gtmerge stats --html``: inline CSS and SVG, no network.

Top to bottom: totals per side and Rekognition's verdict, images per class (training and
test side by side, largest first, Rekognition's minimums marked), boxes per class, labels per
image, box sizes, then, given a merge report, what each input contributed, rejections by
reason, verification verdicts and any ``consolidation`` section. A one-line script stamps
``data-charts`` on the body with the number of charts drawn (the rendering test reads it).
"""

from __future__ import annotations

from html import escape
from typing import Any

from gtmerge import __version__
from gtmerge.rekognition import (
    MAX_TEST_IMAGES_PER_LABEL,
    MIN_CLASSIFICATION_LABELS,
    MIN_DETECTION_LABELS,
)
from gtmerge.report import count_lines
from gtmerge.stats.collect import SIZE_BINS, DatasetStats, SideStats, size_bin_name
from gtmerge.stats.reportpage import merge_sections
from gtmerge.stats.svg import Mark, Row, Series, hbars, legend, vbars
from gtmerge.validate import Finding

TRAIN_COLOR, TEST_COLOR = "#2f6db3", "#e8912d"
_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1080px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 6px}
p.note{color:#555;margin:2px 0 8px;font-size:13px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
.card{border:1px solid #ddd;border-radius:8px;padding:8px 14px;min-width:110px}
.card b{font-size:24px}.card span{display:block}.card span{color:#555;font-size:12px}
.ok{background:#e7f4ea;border-left:5px solid #2e7d32;padding:8px 12px}
.bad{background:#fdecea;border-left:5px solid #b3261e;padding:8px 12px}
.warn{background:#fff6e0;border-left:5px solid #c77700;padding:8px 12px}
.legend{font-size:13px;margin:4px 0}.key{margin-right:16px}
.key i{display:inline-block;width:12px;height:12px;margin-right:5px;vertical-align:-1px}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
td,th{border-bottom:1px solid #e4e4e4;padding:3px 10px;text-align:right}
td:first-child,th:first-child{text-align:left}
"""


def render_html(stats: DatasetStats) -> str:
    """The whole page as one string."""
    sides = stats.sides
    series = [_series(side) for side in sides]
    names = ", ".join(f"{escape(side.manifest)} ({side.dataset})" for side in sides)
    body = [
        f"<h1>Dataset: {names}</h1>",
        f'<p class="note">gtmerge {__version__} stats: the labels counted are those '
        "Rekognition Custom Labels would import.</p>",
        _cards(sides),
        _verdict(stats),
        _class_chart(stats, series),
        _box_chart(sides, series),
        _labels_per_image(sides, series),
        _box_sizes(sides, series),
    ]
    if stats.merge_report is not None:
        body.append(merge_sections(stats.merge_report))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>gtmerge stats: {escape(sides[0].manifest)}</title><style>{_STYLE}</style>"
        "</head><body>" + "\n".join(part for part in body if part) + "\n<script>"
        'document.body.setAttribute("data-charts",'
        'String(document.querySelectorAll("svg.chart").length));'
        "</script></body></html>\n"
    )


def _series(side: SideStats) -> Series:
    return Series(side.dataset, TRAIN_COLOR if side.dataset == "training" else TEST_COLOR)


def _cards(sides: list[SideStats]) -> str:
    cards = []
    for label in ("images", "labels", "boxes", "classes"):
        values = " / ".join(
            f'<b style="color:{_series(side).color}">{getattr(side, label):,}</b>' for side in sides
        )
        names = " / ".join(side.dataset for side in sides)
        cards.append(f'<div class="card">{values}<span>{label} ({names})</span></div>')
    if len(sides) == 2 and sides[0].images + sides[1].images:
        share = sides[1].images / (sides[0].images + sides[1].images)
        cards.append(
            f'<div class="card"><b>{share:.1%}</b><span>of the images in test</span></div>'
        )
    return f'<div class="cards">{"".join(cards)}</div>'


def _verdict(stats: DatasetStats) -> str:
    items: list[tuple[bool, str]] = []
    for side in stats.sides:
        seen: set[str] = set()
        for finding in side.findings:
            if finding.code not in seen:
                seen.add(finding.code)
                count = side.findings_by_code.get(finding.code, 1)
                items.append((finding.is_warning, f"{side.dataset}: {_finding(finding, count)}"))
    for finding in stats.pair_findings:
        items.append((finding.is_warning, f"training and test: {_finding(finding, 1)}"))
    if len(stats.sides) == 2:
        crowded = stats.sides[1].class_images
        items.extend(
            (
                True,
                f"{stats.sides[1].dataset}: class {name!r} has {crowded[name]:,} test images; "
                f"Rekognition's quotas allow at most {MAX_TEST_IMAGES_PER_LABEL:,} per label",
            )
            for name in sorted(crowded, key=lambda name: (-crowded[name], name))
            if crowded[name] > MAX_TEST_IMAGES_PER_LABEL
        )
    if not items:
        return '<div class="ok">✔ Rekognition: every rule is met.</div>'
    errors = sum(1 for warning, _ in items if not warning)
    head = (
        f"✘ Rekognition would refuse this: {errors} rule(s) broken"
        if errors
        else "Rekognition accepts this, with warnings"
    )
    rows = "".join(
        f"<li>{'warning' if warning else '<b>error</b>'}: {escape(text)}</li>"
        for warning, text in items
    )
    return f'<div class="{"bad" if errors else "warn"}">{head}<ul>{rows}</ul></div>'


def _finding(finding: Finding, count: int) -> str:
    times = f" ({count_lines(count)})" if finding.line is not None else ""
    return f"{finding.code}{times}: {finding.message}"


def _class_chart(stats: DatasetStats, series: list[Series]) -> str:
    sides = stats.sides
    names = _by_size([side.class_images for side in sides])
    if not names:
        return "<h2>Images per class</h2><p>No image has a label Rekognition would import.</p>"
    rows = [
        Row(
            name,
            [side.class_images[name] for side in sides],
            _warning(name, sides),
            _test_share(name, sides),
        )
        for name in names
    ]
    marks = [Mark(1, "≥ 1 training image per class")]
    if (
        len(sides) == 2
        and max(sides[1].class_images.values(), default=0) > MAX_TEST_IMAGES_PER_LABEL
    ):
        marks.append(Mark(MAX_TEST_IMAGES_PER_LABEL, "≤ 1,000 test images per class (test bars)"))
    use_case = sides[0].use_case
    minimum = (
        MIN_DETECTION_LABELS if use_case == "OBJECT_LOCALIZATION" else MIN_CLASSIFICATION_LABELS
    )
    return (
        f"<h2>Images per class ({len(names)} classes)</h2>"
        f'<p class="note">Largest first. Rekognition needs at least one training image per '
        f"class, at least {minimum} {'class' if minimum == 1 else 'classes'} per dataset and at "
        "most 250, and at least half of "
        "the training classes also in test; classes marked ⚠ miss a side.</p>"
        + legend(series)
        + hbars(rows, series, marks, notes="in test" if len(sides) == 2 else "")
    )


def _warning(name: str, sides: list[SideStats]) -> str:
    if not sides[0].class_images[name]:
        return "no training image"
    if len(sides) == 2 and not sides[1].class_images[name]:
        return "not in test"
    return ""


def _test_share(name: str, sides: list[SideStats]) -> str:
    if len(sides) != 2:
        return ""
    test = sides[1].class_images[name]
    return f"{test / (sides[0].class_images[name] + test):.0%}"


def _box_chart(sides: list[SideStats], series: list[Series]) -> str:
    names = _by_size([side.class_boxes for side in sides])
    if not names:
        return ""
    rows = [Row(name, [side.class_boxes[name] for side in sides]) for name in names]
    return (
        "<h2>Boxes per class</h2>"
        '<p class="note">At most 50 boxes per image.</p>' + legend(series) + hbars(rows, series)
    )


def _labels_per_image(sides: list[SideStats], series: list[Series]) -> str:
    largest = max(max(side.labels_per_image, default=0) for side in sides)
    columns = [
        Row(str(count), [_share(side.labels_per_image[count], side.images) for side in sides])
        for count in range(largest + 1)
    ]
    return (
        "<h2>Classes per image</h2>"
        '<p class="note">Share of each side\'s images with that many classes (labels and box '
        "classes); 0 is an image Rekognition would not use. At most 50 per image.</p>"
        + legend(series)
        + vbars(columns, series, "%")
    )


def _box_sizes(sides: list[SideStats], series: list[Series]) -> str:
    if not any(side.boxes for side in sides):
        return ""
    columns = [
        Row(size_bin_name(k), [_share(side.box_sizes[k], side.boxes) for side in sides])
        for k in range(SIZE_BINS)
    ]
    return (
        "<h2>Box sizes</h2>"
        '<p class="note">Share of each side\'s boxes by √(box area ÷ image area): 10% is a box '
        "a tenth as wide and high as its image.</p>" + legend(series) + vbars(columns, series, "%")
    )


def _by_size(counters: list[Any]) -> list[str]:
    names = set().union(*counters)
    return sorted(names, key=lambda name: (-sum(c[name] for c in counters), name))


def _share(count: int, total: int) -> float:
    return 100 * count / total if total else 0.0
