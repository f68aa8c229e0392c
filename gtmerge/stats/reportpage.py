"""The merge report's part of the page: inputs, rejections, verdicts, consolidation.

Every section reads the report defensively: a missing or unexpected key leaves its section
out (or shows what it holds as text) rather than failing the page. The consolidation has a
module of its own (:mod:`gtmerge.stats.consolidation`).
"""

from __future__ import annotations

from html import escape
from typing import Any

import orjson

from gtmerge.stats.consolidation import consolidation_section, whole_number
from gtmerge.stats.svg import Row, Series, hbars, legend

_INPUT_KINDS = (
    ("used", "#2e7d32"),
    ("duplicates", "#9e9e9e"),
    ("rejected", "#b3261e"),
    ("skipped", "#d0d0d0"),
)


def merge_sections(report: dict[str, Any]) -> str:
    parts = ["<h2>Where the images came from (merge report)</h2>"]
    listed = report.get("inputs")
    inputs = (
        [entry for entry in listed if isinstance(entry, dict)] if isinstance(listed, list) else []
    )
    if inputs:
        series = [Series(kind, color) for kind, color in _INPUT_KINDS]
        names = _distinct_parts([str(entry.get("input", "?")) for entry in inputs])
        rows = [
            Row(name, [whole_number(entry.get(kind)) for kind, _ in _INPUT_KINDS])
            for name, entry in zip(names, inputs, strict=True)
        ]
        columns = ["input", "lines", "used", "duplicates", "rejected", "skipped"]
        parts.append('<p class="note">Records of each input: used, duplicate, rejected, blank.</p>')
        parts.append(legend(series) + hbars(rows, series, zeros=False))
        parts.append(_table(columns, [[entry.get(k, "") for k in columns] for entry in inputs]))
    reasons: dict[str, int] = {}
    for entry in inputs:
        by_reason = entry.get("rejected_by_reason")
        for reason, count in (by_reason if isinstance(by_reason, dict) else {}).items():
            reasons[reason] = reasons.get(reason, 0) + whole_number(count)
    if reasons:
        rejected = Series("rejected records", "#b3261e")
        ordered = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        rows = [Row(reason, [count]) for reason, count in ordered]
        parts.append("<h2>Rejections by reason</h2>" + hbars(rows, [rejected]))
    verdicts = report.get("verification_verdicts")
    if isinstance(verdicts, dict) and _is_table(verdicts):
        parts.append("<h2>Verification verdicts</h2>" + _dict_table(verdicts, "job"))
    consolidation = report.get("consolidation")
    if isinstance(consolidation, dict):
        parts.append(consolidation_section(consolidation))
    return "\n".join(parts)


def _distinct_parts(paths: list[str]) -> list[str]:
    """Paths without the folders they all start with and the ending they all share
    (``a/species/out.manifest``, ``a/scene/out.manifest`` → ``species``, ``scene``)."""
    if len(paths) < 2:
        return paths
    split = [path.split("/") for path in paths]
    start = 0
    while all(len(parts) > start + 1 for parts in split) and len({p[start] for p in split}) == 1:
        start += 1
    end = 0
    while (
        all(len(parts) - start > end + 1 for parts in split)
        and len({p[-1 - end] for p in split}) == 1
    ):
        end += 1
    return ["/".join(parts[start : len(parts) - end]) for parts in split]


def _is_table(value: Any) -> bool:
    return (
        isinstance(value, dict) and bool(value) and all(isinstance(v, dict) for v in value.values())
    )


def _dict_table(table: dict[str, dict[str, Any]], corner: str) -> str:
    fields = list(dict.fromkeys(k for row in table.values() for k in row))
    return _table(
        [corner, *fields],
        [[name, *(row.get(f, "") for f in fields)] for name, row in table.items()],
    )


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_cell(cell))}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: Any) -> str:
    """A JSON value as short text: a list of objects as ``key: value`` groups."""
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return "; ".join(", ".join(f"{k}: {_cell(v)}" for k, v in item.items()) for item in value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " + ".join(value)
    if isinstance(value, (dict, list)):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return "" if value is None else str(value)
