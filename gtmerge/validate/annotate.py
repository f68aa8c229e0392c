"""``--annotate``: a copy of a manifest with each finding written into the line it is about, where
Rekognition's validation manifests put it (formats.md §7.2)."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson

from gtmerge.s3 import S3
from gtmerge.sources import BlankLines, Source, open_source, read_lines
from gtmerge.validate.findings import Finding

#: Line breaks written at once for a run of empty lines.
_LINE_BREAKS = 1 << 20
#: What earlier validations wrote; replaced, not accumulated.
_STALE_KEYS = ("errors", "warnings", "cl-errors")
_STALE_MARKERS = tuple(f'"{key}"'.encode() for key in _STALE_KEYS)


def write_annotated(source: Source, findings: list[Finding], sink: BinaryIO, s3: S3) -> None:
    """Read ``source`` again and write it to ``sink`` with the findings that have a line
    number placed inside that line."""
    by_line: dict[int, list[Finding]] = defaultdict(list)
    for finding in findings:
        if finding.line is not None:
            by_line[finding.line].append(finding)
    marked = sorted(by_line)
    with open_source(source, s3) as stream:
        line = 1
        for raw_line in read_lines(stream):
            if isinstance(raw_line, BlankLines):
                for chunk in _blank_lines(line, raw_line, by_line, marked):
                    sink.write(chunk)
                line += raw_line.lines
                continue
            # a line over the reader's limit becomes its findings alone, as an invalid line does
            sink.write(annotate_line(raw_line or b"", by_line.get(line, [])))
            line += 1


def _blank_lines(
    first: int, run: BlankLines, by_line: dict[int, list[Finding]], marked: list[int]
) -> Iterator[bytes]:
    """A run of blank lines, those with findings annotated, the others a buffer at a time."""
    at, end = first, first + run.lines
    for number in marked[bisect_left(marked, first) : bisect_left(marked, end)]:
        yield from _copies(run.line, number - at)
        yield annotate_line(run.line, by_line[number])
        at = number + 1
    yield from _copies(run.line, end - at)


def _copies(line: bytes, count: int) -> Iterator[bytes]:
    """``count`` copies of ``line``, about ``_LINE_BREAKS`` bytes at a time."""
    per_chunk = max(_LINE_BREAKS // len(line), 1)
    full, rest = divmod(count, per_chunk)
    for _ in range(full):
        yield line * per_chunk
    if rest:
        yield line * rest


def annotate_line(raw_line: bytes, findings: list[Finding]) -> bytes:
    """The line, newline-terminated, with its findings inside its JSON object. A line that is
    not a JSON object is replaced by one holding only its errors, as Rekognition does."""
    unchanged = raw_line if raw_line.endswith(b"\n") else raw_line + b"\n"
    if not findings and not any(marker in raw_line for marker in _STALE_MARKERS):
        return unchanged
    try:
        record = orjson.loads(raw_line)
    except orjson.JSONDecodeError:
        record = None
    if type(record) is not dict:
        return orjson.dumps(_place({}, findings)) + b"\n" if findings else unchanged
    _strip_stale(record)
    top: list[Finding] = []
    by_target: dict[int, tuple[dict[str, Any], list[Finding]]] = {}
    for finding in findings:
        target = _target(record, finding)
        if target is None:
            top.append(finding)
        else:
            by_target.setdefault(id(target), (target, []))[1].append(finding)
    for target, target_findings in by_target.values():
        _place(target, target_findings)
    try:
        return orjson.dumps(_place(record, top)) + b"\n"
    except orjson.JSONEncodeError:  # a value nested deeper than orjson writes (255 levels)
        return _append_findings(raw_line, findings)


def _append_findings(raw_line: bytes, findings: list[Finding]) -> bytes:
    """The line as it was, with every finding at its top level as its last members: written
    without re-serialising its values. What an earlier validation wrote stays, before them."""
    if not findings:
        return raw_line if raw_line.endswith(b"\n") else raw_line + b"\n"
    members = orjson.dumps(_place({}, findings))[1:]  # '"errors":[…]}'
    return raw_line.rstrip()[:-1] + b"," + members + b"\n"


def _target(record: dict[str, Any], finding: Finding) -> dict[str, Any] | None:
    """The object a finding belongs in: the attribute, its metadata, or one of its boxes."""
    if finding.attribute is None:
        return None
    target = record.get(finding.attribute)
    if type(target) is not dict:
        return None
    if finding.annotation is not None and not finding.attribute.endswith("-metadata"):
        boxes = target.get("annotations")
        if type(boxes) is list and finding.annotation < len(boxes):
            box = boxes[finding.annotation]
            return box if type(box) is dict else None
    return target


def _place(target: dict[str, Any], findings: list[Finding]) -> dict[str, Any]:
    for finding in findings:
        kind = "warnings" if finding.is_warning else "errors"
        target.setdefault(kind, []).append({"code": finding.code, "message": finding.message})
    return target


def _strip_stale(record: dict[str, Any]) -> None:
    """Remove what an earlier validation wrote, at the levels it writes it."""
    objects = [record]
    for value in record.values():
        if type(value) is dict:
            objects.append(value)
            boxes = value.get("annotations")
            if type(boxes) is list:
                objects += (box for box in boxes if type(box) is dict)
    for obj in objects:
        for key in _STALE_KEYS:
            obj.pop(key, None)
