"""Look at a dataset: what a manifest (and its test manifest) holds, in a table or a page.

:func:`stats` reads the manifests once (:mod:`gtmerge.stats.collect`); the result renders as a
terminal table (:mod:`gtmerge.stats.terminal`) and as one self-contained HTML page
(:mod:`gtmerge.stats.html`).
"""

from __future__ import annotations

from typing import Any

import orjson

from gtmerge.destination import check_writable, open_destination
from gtmerge.jsondoc import TOO_DEEP_TO_WRITE
from gtmerge.s3 import S3, describe_error
from gtmerge.sources import InputError, expand, open_source
from gtmerge.stats.collect import DatasetStats, SideStats, collect
from gtmerge.stats.html import render_html
from gtmerge.stats.terminal import text_table


def stats(
    manifest: str,
    *,
    test: str | None = None,
    merge_report: str | dict[str, Any] | None = None,
    html: str | None = None,
    s3: S3 | None = None,
) -> DatasetStats:
    """The statistics of ``manifest`` (and of its ``test`` manifest); with ``html``, also
    write the page there. ``merge_report`` is the JSON report of the merge that made the
    manifest (a path or URL, or the report itself). Raises :class:`InputError` when an input
    cannot be read."""
    s3 = s3 or S3()
    if html is not None:  # refused now (an empty name too) rather than after the reading
        check_writable(html, s3)
    report = _load_report(merge_report, s3) if isinstance(merge_report, str) else merge_report
    result = collect(manifest, test, report, s3)
    if html is not None:
        with open_destination(html, s3) as out:
            out.write(render_html(result).encode())
    return result


#: Largest merge report read. A real one is a few kilobytes per input (its reasons are
#: categories); 8 MiB of the emptiest JSON (``[{},{},…]``) already makes some 300 MB of Python
#: objects, and the report is read whole.
MAX_REPORT_BYTES = 8 << 20


def _load_report(spec: str, s3: S3) -> dict[str, Any]:
    (source,) = expand(spec, s3)[:1]
    try:
        with open_source(source, s3) as stream:
            data = stream.read(MAX_REPORT_BYTES + 1)
        if len(data) > MAX_REPORT_BYTES:
            raise InputError(
                f"{source.name}: not a merge report (over {MAX_REPORT_BYTES >> 20} MiB)"
            )
        document = orjson.loads(data)
        # The page writes parts of the report back as JSON and formats others as text, which
        # fails (or recurses past Python's limit) on a value nested deeper than orjson writes.
        orjson.dumps(document)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{source.name}: not a JSON merge report ({exc})") from exc
    except orjson.JSONEncodeError as exc:
        raise InputError(f"{source.name}: not a merge report ({TOO_DEEP_TO_WRITE})") from exc
    except OSError as exc:
        raise InputError(f"{source.name}: {describe_error(exc)}") from exc
    if not isinstance(document, dict):
        raise InputError(f"{source.name}: not a JSON merge report (not an object)")
    return document


__all__ = ["DatasetStats", "SideStats", "render_html", "stats", "text_table"]
