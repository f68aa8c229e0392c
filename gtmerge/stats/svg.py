"""Small inline SVG charts: no script, no network, readable when printed."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 1040
_LABEL_WIDTH = 220
_VALUE_ROOM = 90
_FONT = 'font-family="system-ui, sans-serif" font-size="12"'
#: a row of mark captions, and the width of one of their characters (font size 11, wide)
_CAPTION_ROW = 14
_CAPTION_CHAR = 6.5


@dataclass(frozen=True)
class Series:
    name: str
    color: str


@dataclass(frozen=True)
class Row:
    """One category: its label, a value per series, and a warning shown beside it."""

    label: str
    values: Sequence[float]
    warning: str = ""
    note: str = ""


@dataclass(frozen=True)
class Mark:
    """A dashed vertical line at a value, with a caption (a Rekognition limit)."""

    value: float
    caption: str


def legend(series: Sequence[Series]) -> str:
    items = "".join(
        f'<span class="key"><i style="background:{s.color}"></i>{escape(s.name)}</span>'
        for s in series
    )
    return f'<div class="legend">{items}</div>'


def hbars(
    rows: Sequence[Row],
    series: Sequence[Series],
    marks: Sequence[Mark] = (),
    *,
    zeros: bool = True,
    notes: str = "",
) -> str:
    """Horizontal grouped bars, a group per row, its values printed at the bar ends (``zeros``:
    also a 0), each row's note at the right edge under the heading ``notes``."""
    bar, gap = 8, 6
    row_height = max(bar * len(series) + gap, 18)
    plot = WIDTH - _LABEL_WIDTH - _VALUE_ROOM
    largest = _axis_end(max([1.0, *(v for row in rows for v in row.values)]))

    def x(value: float) -> float:
        return _LABEL_WIDTH + plot * value / largest

    captions = _caption_rows([mark for mark in marks if mark.value <= largest], x)
    top = 22 + _CAPTION_ROW * max([0, *(level for _, level in captions)])
    height = top + row_height * len(rows) + 8

    parts = [_axis_ticks(largest, x, top, height)]
    for index, row in enumerate(rows):
        y = top + index * row_height
        color = "#b3261e" if row.warning else "#222"
        parts.append(
            f'<text x="{_LABEL_WIDTH - 8}" y="{y + row_height / 2 + 1}" text-anchor="end" '
            f'dominant-baseline="middle" fill="{color}">{escape(_short(row.label))}'
            f"<title>{escape(row.label)}</title></text>"
        )
        for number, (value, s) in enumerate(zip(row.values, series, strict=True)):
            bar_y = y + number * bar
            parts.append(
                f'<rect x="{_LABEL_WIDTH}" y="{bar_y}" '
                f'width="{max(x(value) - _LABEL_WIDTH, 0):.1f}" height="{bar - 1}" '
                f'fill="{s.color}"><title>{escape(row.label)}, '
                f"{escape(s.name)}: {_number(value)}</title></rect>"
            )
            if value or zeros:
                parts.append(
                    f'<text x="{x(value) + 4:.1f}" y="{bar_y + bar / 2}" '
                    f'dominant-baseline="middle" font-size="10" fill="#444">{_number(value)}</text>'
                )
        if row.note:
            parts.append(
                f'<text x="{WIDTH - 4}" y="{y + row_height / 2 + 1}" text-anchor="end" '
                f'dominant-baseline="middle" font-size="11" fill="#555">{escape(row.note)}</text>'
            )
        if row.warning:
            end = max(x(v) for v in row.values) + 40
            parts.append(
                f'<text x="{end:.1f}" y="{y + row_height / 2 + 1}" dominant-baseline="middle" '
                f'font-size="11" fill="#b3261e">⚠ {escape(row.warning)}</text>'
            )
    if notes:
        parts.append(
            f'<text x="{WIDTH - 4}" y="{top - 8}" text-anchor="end" font-size="11" '
            f'fill="#555">{escape(notes)}</text>'
        )
    for mark, level in captions:
        parts.append(
            f'<line x1="{x(mark.value):.1f}" x2="{x(mark.value):.1f}" '
            f'y1="{top - 4 - _CAPTION_ROW * level}" y2="{height - 6}" stroke="#b3261e" '
            f'stroke-dasharray="4 3"/><text x="{x(mark.value) + 4:.1f}" '
            f'y="{top - 8 - _CAPTION_ROW * level}" font-size="11" fill="#b3261e">'
            f"{escape(mark.caption)}</text>"
        )
    return _svg(height, parts)


def _caption_rows(marks: Sequence[Mark], x: Callable[[float], float]) -> list[tuple[Mark, int]]:
    """Each mark with the row of its caption above the bars (0: the lowest): a caption that
    would run into one to its left goes up a row."""
    ends: list[float] = []  # per row, where its last caption ends
    placed = []
    for mark in sorted(marks, key=lambda mark: mark.value):
        start = x(mark.value) + 4
        row = next((i for i, end in enumerate(ends) if start > end + 8), len(ends))
        if row == len(ends):
            ends.append(0.0)
        ends[row] = start + _CAPTION_CHAR * len(mark.caption)
        placed.append((mark, row))
    return placed


def vbars(columns: Sequence[Row], series: Sequence[Series], unit: str = "") -> str:
    """Vertical grouped bars (a histogram per series), values printed above the bars."""
    height, top, bottom, left = 260, 16, 40, 50
    plot_height = height - top - bottom
    group = (WIDTH - left - 10) / max(len(columns), 1)
    bar = min(36.0, group * 0.8 / max(len(series), 1))
    largest = max([1e-9, *(v for column in columns for v in column.values)])
    parts = [
        f'<line x1="{left}" x2="{WIDTH - 10}" y1="{top + plot_height}" '
        f'y2="{top + plot_height}" stroke="#999"/>'
    ]
    for fraction in (0.5, 1.0):
        y = top + plot_height * (1 - fraction)
        parts.append(
            f'<line x1="{left}" x2="{WIDTH - 10}" y1="{y}" y2="{y}" stroke="#eee"/>'
            f'<text x="{left - 6}" y="{y}" text-anchor="end" dominant-baseline="middle" '
            f'font-size="10" fill="#666">{_number(largest * fraction)}{unit}</text>'
        )
    for index, column in enumerate(columns):
        start = left + index * group + (group - bar * len(series)) / 2
        for number, (value, s) in enumerate(zip(column.values, series, strict=True)):
            bar_height = plot_height * value / largest
            bx = start + number * bar
            parts.append(
                f'<rect x="{bx:.1f}" y="{top + plot_height - bar_height:.1f}" '
                f'width="{bar - 2:.1f}" height="{bar_height:.1f}" fill="{s.color}">'
                f"<title>{escape(column.label)}, {escape(s.name)}: {_number(value)}{unit}"
                "</title></rect>"
            )
            if value:
                parts.append(
                    f'<text x="{bx + (bar - 2) / 2:.1f}" '
                    f'y="{top + plot_height - bar_height - 3:.1f}" '
                    f'text-anchor="middle" font-size="9" fill="#444">{_number(value)}</text>'
                )
        parts.append(
            f'<text x="{left + index * group + group / 2:.1f}" y="{top + plot_height + 16}" '
            f'text-anchor="middle" fill="#222">{escape(column.label)}</text>'
        )
    return _svg(height, parts)


def _axis_ticks(largest: float, x: Callable[[float], float], top: int, height: int) -> str:
    ticks = []
    step = _step(largest)
    for number in range(round(largest / step) + 1):
        value = number * step
        ticks.append(
            f'<line x1="{x(value):.1f}" x2="{x(value):.1f}" y1="{top - 2}" y2="{height - 6}" '
            f'stroke="#eee"/><text x="{x(value):.1f}" y="{height}" text-anchor="middle" '
            f'font-size="10" fill="#888">{_number(value)}</text>'
        )
    return "".join(ticks)


def _step(largest: float) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving at most six ticks."""
    power = 1.0
    while True:
        for multiple in (1, 2, 5):
            if largest / (multiple * power) <= 5:
                return multiple * power
        power *= 10


def _axis_end(largest: float) -> float:
    step = _step(largest)
    return math.ceil(largest / step) * step


def _svg(height: float, parts: list[str]) -> str:
    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{height + 12:.0f}" viewBox="0 0 {WIDTH} {height + 12:.0f}" {_FONT}>'
        + "".join(parts)
        + "</svg>"
    )


def _short(label: str, limit: int = 30) -> str:
    """A long label (a path, say) as its start and its end."""
    if len(label) <= limit:
        return label
    head = limit // 2 - 2
    return label[:head] + "…" + label[-(limit - head - 1) :]


def _number(value: float) -> str:
    if 0 < value < 0.05:  # a share that would print as 0 but is not
        return "< 0.1"
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.1f}"
