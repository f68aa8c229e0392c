"""Guess the built-in mapping of an input from its name and first bytes.

Only a small head is read (64 KiB, decompressed), never the whole input. The rules, in order:

* a directory or an ``s3://…/`` prefix → ``folders``;
* JSON whose first line is an object with ``source-ref`` → ``groundtruth``;
* a JSON object with ``images``, ``annotations`` or ``categories`` at the top → ``coco``;
* a JSON list whose first element has ``data`` + ``annotations`` (Label Studio JSON) or
  ``annotation_id``/``annotator``/``lead_time`` (JSON-MIN) → ``labelstudio``;
* a file named ``*.manifest``, ``*.jsonl`` or ``*.ndjson``, or one where any of the first lines
  is a JSON object with ``source-ref`` → ``groundtruth``, whatever its first line looks like;
* anything else that is not JSON is read as CSV: no header (the first cell is an image name)
  → ``csv``; a header and two columns → ``csv-long``; a header and (mostly) 1/0 cells →
  ``csv-onehot``.
"""

from __future__ import annotations

import csv
import io
import os
import sys
from typing import Any

import orjson

from gtmerge.jsondoc import top_keys
from gtmerge.readers.base import ReadContext
from gtmerge.sources import InputError, Source, open_source, sniff_compression

HEAD_BYTES = 64 * 1024
_BOM = b"\xef\xbb\xbf"
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp")
_FLAGS = frozenset({"0", "1", "", "true", "false", "yes", "no", "x"})
_COCO_KEYS = frozenset({"images", "annotations", "categories"})
_LABEL_STUDIO_TASK = frozenset({"annotations", "completions", "predictions"})
_LABEL_STUDIO_MIN = frozenset({"annotation_id", "annotator", "lead_time"})
#: Names that say JSON lines: never read as CSV, whatever their first line looks like.
_JSON_LINES_SUFFIXES = (".manifest", ".jsonl", ".ndjson")
#: Lines of the head searched for a manifest line when the first one is not.
_LINES_LOOKED_AT = 100


def detect(source: Source, context: ReadContext) -> str:
    """The name of the built-in mapping for ``source``; :class:`InputError` if none fits."""
    if source.is_s3 and source.uri.endswith("/"):
        return "folders"
    if not source.is_s3 and source.uri != "-" and os.path.isdir(source.uri):
        return "folders"
    return detect_head(source.name, _head(source, context))


def _head(source: Source, context: ReadContext) -> bytes:
    if source.uri == "-":
        # Peeking leaves the bytes in stdin's buffer for the reader; decompressing would not.
        head: bytes = sys.stdin.buffer.peek(HEAD_BYTES)[:HEAD_BYTES]  # type: ignore[union-attr]
        if sniff_compression(head):
            raise _unknown(source.name, "compressed standard input")
        return head
    with open_source(source, context.s3) as stream:
        return stream.read(HEAD_BYTES)


def _unknown(name: str, why: str) -> InputError:
    return InputError(
        f"{name}: cannot tell which format this is ({why}); name its mapping with "
        "--mapping NAME|FILE.yaml or NAME=INPUT (see `gtmerge mappings`)"
    )


def detect_head(name: str, head: bytes) -> str:
    """Detection on the first bytes of an input (exposed for tests)."""
    text = head[len(_BOM) :] if head.startswith(_BOM) else head
    text = text.lstrip()
    if not text or name.lower().endswith(_JSON_LINES_SUFFIXES):
        # an empty manifest (a job with no items) has zero records; one whose first line is
        # damaged or looks like CSV (a header, "s3://b/x.jpg,cat") is still a manifest, and
        # its reader rejects the lines it cannot use one by one
        return "groundtruth"
    if text.startswith(b"{"):
        return _json_object(name, text)
    if text.startswith(b"["):
        return _json_list(name, text)
    if _has_json_line(text):
        return "groundtruth"
    return _csv(name, text, truncated=len(head) >= HEAD_BYTES)


def _has_json_line(text: bytes) -> bool:
    """Whether a line of the head, past the first, is a JSON object with a source-ref."""
    for line in text.split(b"\n")[1:_LINES_LOOKED_AT]:
        if line.lstrip().startswith(b"{"):
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(record, dict) and "source-ref" in record:
                return True
    return False


def _json_object(name: str, text: bytes) -> str:
    try:
        first: Any = orjson.loads(text.split(b"\n", 1)[0])
    except orjson.JSONDecodeError:
        first = None
    if isinstance(first, dict):
        if "source-ref" in first:
            return "groundtruth"
        if not _COCO_KEYS & first.keys():
            raise _unknown(name, "JSON lines without source-ref")
    keys = top_keys(text, in_list=False)
    if "source-ref" in keys:
        return "groundtruth"  # a manifest line longer than the head
    if _COCO_KEYS & keys:
        return "coco"
    raise _unknown(name, "a JSON object without images/annotations/categories")


def _json_list(name: str, text: bytes) -> str:
    keys = top_keys(text, in_list=True)
    if ("data" in keys and _LABEL_STUDIO_TASK & keys) or _LABEL_STUDIO_MIN & keys:
        return "labelstudio"
    raise _unknown(name, "a JSON list that is not a Label Studio export")


def _is_image(cell: str) -> bool:
    cell = cell.strip().lower()
    return cell.startswith("s3://") or cell.endswith(_IMAGE_SUFFIXES)


def _csv(name: str, text: bytes, truncated: bool) -> str:
    if truncated:
        text = text.rsplit(b"\n", 1)[0]  # the last line may be cut short
    try:
        rows = [
            row
            for row in csv.reader(io.StringIO(text.decode("utf-8", "replace")))
            if any(cell.strip() for cell in row)
        ][:100]
    except csv.Error as exc:
        raise _unknown(name, f"not JSON and not CSV: {exc}") from None
    if not rows:
        raise _unknown(name, "no rows")
    first, data = rows[0], rows[1:]
    if _is_image(first[0]) or not any(_is_image(row[0]) for row in data):
        return "csv"
    if len(first) == 2:
        return "csv-long"
    cells = [cell.strip().lower() for row in data for cell in row[1:]]
    # Mostly flags: one bad cell should be rejected with its row, not make the file unreadable.
    if len(first) > 2 and sum(cell in _FLAGS for cell in cells) >= 0.9 * len(cells):
        return "csv-onehot"
    raise _unknown(name, f"a CSV with a header of {len(first)} columns that are not 1/0 flags")
