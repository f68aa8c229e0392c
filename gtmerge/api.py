"""``gtmerge.merge()``: the whole run from inputs to a manifest, a report and a rejects file.

The CLI is a thin layer over this function. A run either completes, or raises
:class:`MergeError` (or ``KeyboardInterrupt``) with every destination left as it was.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from typing import Any, BinaryIO

import orjson
from tqdm import tqdm

from gtmerge.destination import open_destination, same_target
from gtmerge.merger import Tagged, merge_in_memory
from gtmerge.readers import Parsed, ReadContext, Rejection, Skipped, resolve
from gtmerge.report import InputStats, Report
from gtmerge.s3 import S3, S3Settings
from gtmerge.sources import InputError, Source, expand
from gtmerge.validate import ManifestValidator
from gtmerge.writer import DEFAULT_BOX_ATTRIBUTE, DEFAULT_LABEL_ATTRIBUTE, ManifestFormat


class MergeError(Exception):
    """A run that could not complete; the message is one line, fit for the user."""


class BadRecord(MergeError):
    """``strict=True`` met a record it could not use."""


class InvalidOutput(MergeError):
    """``fail_on_invalid=True`` and the merged manifest breaks Rekognition's rules."""


def split_mapping(spec: str) -> tuple[str | None, str]:
    """``"csv=labels.csv"`` → ``("csv", "labels.csv")``; a spec without a mapping prefix, or
    an existing file whose name contains ``=``, is returned as it is."""
    mapping, sep, path = spec.partition("=")
    if not sep or ("/" in mapping and not mapping.endswith((".yaml", ".yml"))):
        return None, spec
    if os.path.exists(spec) or not mapping or not path:
        return None, spec
    return mapping, path


def merge(
    inputs: Sequence[str],
    output: str,
    *,
    mapping: str | None = None,
    image_root: str | None = None,
    attribute: str = DEFAULT_LABEL_ATTRIBUTE,
    box_attribute: str = DEFAULT_BOX_ATTRIBUTE,
    report: str | None = None,
    rejects: str | None = None,
    strict: bool = False,
    fail_on_invalid: bool = False,
    endpoint_url: str | None = None,
    sse: str | None = None,
    sse_kms_key_id: str | None = None,
    expected_bucket_owner: str | None = None,
    progress: bool | None = None,
) -> Report:
    """Merge every input into one Rekognition manifest at ``output``; return the report.

    ``inputs`` are paths, globs, ``-`` or ``s3://`` URLs, each optionally prefixed with the
    mapping to read it with (``"csv=legacy.csv"``); ``mapping`` is the default for the rest
    (None: detect each input's format). ``progress=None`` shows a bar only on a terminal.
    """
    fmt = _manifest_format(attribute, box_attribute)
    s3 = S3(S3Settings(endpoint_url, sse, sse_kms_key_id, expected_bucket_owner))
    sources = _expand_all(inputs, mapping, s3)
    for target in (output, report, rejects):
        if target and any(same_target(target, source.uri) for source in sources):
            raise MergeError(f"{target}: refusing to overwrite one of the inputs")
    result = Report(output)
    validator = ManifestValidator()
    with ExitStack() as stack:
        bar = stack.enter_context(_progress_bar(sources, progress))
        context = ReadContext(s3, image_root, bar.update)
        rejects_out = stack.enter_context(open_destination(rejects, s3)) if rejects else None
        records = _read_all(sources, context, result, rejects_out, strict)
        duplicates = [0] * len(sources)
        out = stack.enter_context(open_destination(output, s3))
        for image in merge_in_memory(records, duplicates):
            line = fmt.render(image)
            out.write(line)
            validator.feed(line)
            result.written.count(image)
        for stats, count in zip(result.inputs, duplicates, strict=True):
            stats.duplicates = count
        validation = validator.finish()
        result.validation = validation.summary_dict()
        if fail_on_invalid and validation.has_errors:
            first = validation.errors[0]
            raise InvalidOutput(
                f"{output}: the merged manifest is not valid for Rekognition "
                f"({len(validation.errors)} errors, first: {first.code} on line {first.line}); "
                "nothing was written"
            )
        if report:
            with open_destination(report, s3) as report_out:
                report_out.write(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2))
    return result


def _manifest_format(attribute: str, box_attribute: str) -> ManifestFormat:
    try:
        return ManifestFormat(attribute, box_attribute)
    except ValueError as exc:
        raise MergeError(str(exc)) from exc


def _expand_all(inputs: Sequence[str], mapping: str | None, s3: S3) -> list[Source]:
    if not inputs:
        raise MergeError("no input given")
    sources: list[Source] = []
    for spec in inputs:
        own_mapping, path = split_mapping(spec)
        try:
            sources.extend(expand(path, s3, own_mapping or mapping))
        except InputError as exc:
            raise MergeError(str(exc)) from exc
    return sources


def _read_all(
    sources: list[Source],
    context: ReadContext,
    report: Report,
    rejects: BinaryIO | None,
    strict: bool,
) -> Iterator[Tagged]:
    """Stream every input's records to the merge, accounting for each one in the report."""
    for index, source in enumerate(sources):
        try:
            name, reader = resolve(source, context)
        except InputError as exc:
            raise MergeError(str(exc)) from exc
        stats = InputStats(source.name, name)
        report.inputs.append(stats)
        try:
            for item in reader.read(source, context):
                stats.lines += 1
                if isinstance(item, Parsed):
                    stats.parsed += 1
                    report.count_verdicts(item.verdicts)
                    for dropped in item.dropped:
                        _reject(source, dropped, stats, rejects, strict)
                    yield Tagged(index, item.image)
                elif isinstance(item, Rejection):
                    _reject(source, item, stats, rejects, strict)
                elif isinstance(item, Skipped):
                    stats.skipped += 1
        except InputError as exc:
            raise MergeError(str(exc)) from exc
        except (OSError, EOFError) as exc:
            where = f"{source.name}: read failed after {stats.lines} records"
            raise MergeError(f"{where}: {exc}") from exc


def _reject(
    source: Source, rejection: Rejection, stats: InputStats, out: BinaryIO | None, strict: bool
) -> None:
    where = f"{source.name}:{rejection.line}"
    if strict:
        attribute = f" (attribute {rejection.attribute})" if rejection.attribute else ""
        raise BadRecord(f"{where}: {rejection.reason}{attribute}")
    stats.count_rejection(rejection)
    if out is not None:
        entry: dict[str, Any] = {"file": source.name, "line": rejection.line}
        if rejection.attribute:
            entry["attribute"] = rejection.attribute
        entry["reason"] = rejection.reason
        entry["raw"] = rejection.raw
        out.write(orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE))


def _progress_bar(sources: list[Source], progress: bool | None) -> tqdm[Any]:
    sizes = [source.size for source in sources]
    total = sum(size for size in sizes if size is not None) if None not in sizes else None
    # disable=None lets tqdm decide (bar only on a terminal) and honours TQDM_DISABLE.
    return tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc="reading",
        mininterval=0.5,
        disable=None if progress is None else not progress,
        leave=False,
    )
