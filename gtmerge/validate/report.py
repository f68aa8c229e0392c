"""The text report: a header per manifest, then the findings grouped by code."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gtmerge.validate.findings import Finding, ValidationResult

#: Line numbers listed per code before "…".
LINES_SHOWN = 5


def text_report(result: ValidationResult) -> str:
    out: list[str] = []
    findings = result.errors + result.warnings
    for stats in result.summary.get("manifests", []):
        out.append(_header(stats))
        out += _groups(f for f in findings if f.manifest == stats["manifest"])
    shared = [f for f in findings if f.manifest is None]
    if shared:
        out.append("training and test together:")
        out += _groups(shared)
    errors, warnings = len(result.errors), len(result.warnings)
    verdict = "INVALID" if errors else "OK"
    out.append(f"{verdict}: {_plural(errors, 'error')}, {_plural(warnings, 'warning')}")
    return "\n".join(out) + "\n"


def _header(stats: dict[str, Any]) -> str:
    return (
        f"{stats['manifest']} ({stats['dataset']}): {_plural(stats['total_json_lines'], 'line')}"
        f" ({stats['valid_json_lines']:,} valid, {stats['invalid_json_lines']:,} invalid, "
        f"{stats['ignored_json_lines']:,} ignored), {_plural(len(stats['labels']), 'label')}, "
        f"{_plural(stats['images'], 'image')}, use case {stats['use_case']}"
    )


def _groups(findings: Iterable[Finding]) -> list[str]:
    by_code: dict[str, list[Finding]] = {}
    for finding in findings:
        by_code.setdefault(finding.code, []).append(finding)
    order = sorted(
        by_code.items(),
        key=lambda item: (item[1][0].is_warning, item[1][0].line or 0, item[0]),
    )
    out = []
    for code, group in order:
        lines = sorted({f.line for f in group if f.line is not None})
        first = group[0]
        if lines:
            shown = ", ".join(str(n) for n in lines[:LINES_SHOWN])
            more = ", …" if len(lines) > LINES_SHOWN else ""
            word = "line" if len(lines) == 1 else "lines"
            out.append(f"  {code}  {_plural(len(lines), 'line')}  ({word} {shown}{more})")
            out.append(f"      line {first.line}: {first.message}")
        else:
            out.append(f"  {code}")
            out.append(f"      {first.message}")
    return out


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
