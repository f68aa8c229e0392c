"""The reader that applies a YAML mapping: records in, canonical :class:`ImageRecord` out.

A record the mapping cannot read becomes a :class:`Rejection` whose reason names the mapping key,
the problem and the expression, e.g.
``boxes[2].class: 7 is not in categories (expression: lookup('categories', category_id))``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import orjson
from jmespath.exceptions import JMESPathError

from gtmerge.errors import NAME_CHARS, excerpt, quoted
from gtmerge.keys import InvalidKey, join_key
from gtmerge.mapping.config import Boxes, Mapping, Metadata
from gtmerge.mapping.expressions import Expression, Search
from gtmerge.mapping.functions import FunctionError
from gtmerge.mapping.records import (
    BadRecord,
    Blank,
    csv_text,
    load_tables,
    source_date,
    split,
)
from gtmerge.mapping.tables import LookupTable
from gtmerge.model import Box, BoxSet, ImageRecord, ImageSize, Label
from gtmerge.readers.base import Item, Parsed, ReadContext, Rejection, Skipped, raw_text
from gtmerge.rekognition import MAX_LABEL_NAME_CHARS, is_valid_creation_date, label_name_problem
from gtmerge.sources import InputError, Source

_YES_NO = {"yes": True, "no": False, "true": True, "false": False}
_DECIMALS = 4
_CORNERS = ("x1", "y1", "x2", "y2")
_SIDES = ("left", "top", "width", "height")
_UNIT_SCALE = {"pixels": None, "fraction": 1.0, "percent": 100.0}
#: Exact types for the quick paths: bool is an int subclass, and True is not a coordinate.
_NUMBERS = frozenset({int, float})
#: Largest magnitude of a number read from an export: far above any pixel count, within what
#: the writer can encode (an integer past 64 bits stops orjson) and small enough that a unit
#: conversion (a percentage times the width) cannot overflow to infinity.
_MAX_NUMBER = 1 << 53
#: What evaluating an expression raises on data it does not fit (``eval`` words it).
_EVAL_ERRORS = (JMESPathError, FunctionError, TypeError, ValueError)


#: Exports repeat a handful of dates; checking each once keeps the regex off the hot path.
_valid_date = lru_cache(maxsize=4096)(is_valid_creation_date)


def _evaluation_error(exc: Exception) -> str:
    """JMESPath's message for a failed evaluation, on one line. It quotes the value the
    function was given, which may be megabytes long, or nested so deep that it has no repr."""
    try:
        text = str(exc)
    except RecursionError:
        return f"{type(exc).__name__}: the value is nested too deep to show"
    return excerpt(" ".join(text.split()), NAME_CHARS)


class RecordError(ValueError):
    """Why one record cannot be mapped."""


class MappedReader:
    """Reads any source a :class:`Mapping` describes."""

    def __init__(self, mapping: Mapping) -> None:
        if mapping.native is not None:
            raise ValueError(
                f"mapping {mapping.name} is read by the native {mapping.native} reader"
            )
        self.mapping = mapping

    def read(self, source: Source, context: ReadContext) -> Iterator[Item]:
        mapping = self.mapping
        listing = mapping.records.format == "listing"
        root = context.image_root or mapping.image_root
        if root is None and listing and source.is_s3:
            root = source.uri  # folder images are named relative to the listed prefix
        if root is None and listing:
            raise InputError(
                f"{source.name}: a local folder needs --image-root: the S3 prefix its images "
                "were uploaded to"
            )
        fallback_date = mapping.defaults.date or source_date(source, context)
        tables = (
            load_tables(source, mapping.records.tables, context) if mapping.records.tables else {}
        )
        convert = _Converter(mapping, root or "", fallback_date, tables)
        try:
            for line, value, raw in split(source, mapping.records, context):
                if isinstance(value, Blank):
                    yield Skipped(line, value.lines)
                elif isinstance(value, BadRecord):
                    yield Rejection(line, value.reason, self._raw(raw, value))
                else:
                    try:
                        yield Parsed(line, convert(value))
                    except RecordError as exc:
                        yield Rejection(line, str(exc), self._raw(raw, value))
        finally:  # the tables' memory and files go with the read, not with the run
            mapping.scope.names = {}
            for table in tables.values():
                table.close()

    def _raw(self, raw: Any, value: Any) -> str:
        if isinstance(raw, list):
            return raw_text(csv_text(raw, self.mapping.records))
        if raw is None:
            return raw_text(_json(value))
        return raw_text(raw)


def _fail(where: str, problem: str, expression: Expression | None) -> RecordError:
    suffix = f" (expression: {expression.text})" if expression is not None else ""
    return RecordError(f"{where}: {problem}{suffix}")


def _show(value: Any) -> str:
    return excerpt(_json(value))


def _json(value: Any) -> str:
    """A record or value as JSON text; one nested deeper than orjson writes (255 levels, under
    the 1024 gtmerge reads) as a short excerpt of its Python form instead."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return quoted(value)


def _text(value: Any, where: str, expression: Expression | None) -> str:
    if value is None:
        raise _fail(where, "no value", expression)
    if not isinstance(value, str):
        raise _fail(where, f"expected text, got {_show(value)}", expression)
    return value


def _number(value: Any, where: str, expression: Expression | None) -> float:
    """A JSON number as it is (integers stay integers), or a number written as text (CSV)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number: float = value
    elif isinstance(value, str):
        try:
            number = int(value) if value.strip().lstrip("+-").isdigit() else float(value)
        except ValueError:
            raise _fail(where, f"{_show(value)} is not a number", expression) from None
    else:
        raise _fail(where, f"expected a number, got {_show(value)}", expression)
    if not math.isfinite(number):
        raise _fail(where, f"{_show(value)} is not a finite number", expression)
    if abs(number) > _MAX_NUMBER:
        raise _fail(where, f"{_show(value)} is out of range (over 2**53)", expression)
    return number


def _pixels(value: Any, where: str, expression: Expression | None) -> int:
    number = _number(value, where, expression)
    if number != int(number) or number <= 0:
        raise _fail(
            where, f"expected a whole number of pixels above 0, got {_show(value)}", expression
        )
    return int(number)


_Common = tuple[Search, Search, Search]


def _own_common(spec: Metadata) -> _Common | None:
    """The human-annotated, date and job searches of a label or box set that has all three."""
    if spec.human_annotated is None or spec.date is None or spec.job is None:
        return None
    return spec.human_annotated.search, spec.date.search, spec.job.search


def _quick_common(searches: _Common | None, node: Any) -> tuple[bool, str, str] | None:
    """What ``_Converter.common`` returns, for values it would take as they are; None when a
    value is missing (record-level metadata or defaults apply) or odd (common words why).
    Expressions that fail raise, as in ``common``."""
    if searches is None:
        return None
    human_search, date_search, job_search = searches
    human, date, job = human_search(node), date_search(node), job_search(node)
    if type(human) is str:
        human = _YES_NO.get(human)  # exact "yes"/"no"/...: strip() and lower() change nothing
    elif type(human) is not bool:
        return None
    if human is None or type(date) is not str or not _valid_date(date) or type(job) is not str:
        return None
    return human, date, job


class _Converter:
    """Turns one record into an :class:`ImageRecord`, for one source.

    Labels, boxes and box-set metadata first take a quick path: plain searches and exact type
    checks, no ``where`` text built. Anything it does not take as it is (a failing expression,
    a missing or odd value) is read again by the careful path, which is the one source of
    results and rejection reasons for those cases; the quick path only agrees with it on
    values it takes unchanged.
    """

    def __init__(
        self, mapping: Mapping, root: str, fallback_date: str | None, tables: dict[str, LookupTable]
    ) -> None:
        self.mapping = mapping
        self.root = root
        self.fallback_date = fallback_date
        self.tables = tables
        self.scope = mapping.scope
        self.record: Any = None
        self.record_metadata: dict[str, Any] = {}
        self.vars = tuple((name, expression, f"vars.{name}") for name, expression in mapping.vars)
        labels, boxes = mapping.labels, mapping.boxes
        self.label_common = _own_common(labels.metadata) if labels is not None else None
        self.box_common = _own_common(boxes.metadata) if boxes is not None else None
        self.geometry = tuple(e.search for e in boxes.geometry) if boxes is not None else ()

    def __call__(self, record: Any) -> ImageRecord:
        mapping = self.mapping
        names = self.tables
        if self.vars:
            names = dict(self.tables)
            self.scope.names = names
            for name, expression, where in self.vars:
                names[name] = self.eval(expression, record, where)
        # Set for every record, not once per source: two readers of one mapping may interleave.
        self.scope.names = names
        self.record = record
        self.record_metadata = {}
        assert mapping.image is not None
        reference = _text(self.eval(mapping.image, record, "image"), "image", mapping.image)
        if not reference.strip():
            raise _fail("image", "empty", mapping.image)
        try:
            key = join_key(self.root, reference)
        except InvalidKey as exc:
            raise _fail("image", str(exc), mapping.image) from None
        labels = self.labels(record) if mapping.labels is not None else ()
        box_sets = self.box_sets(record, mapping.boxes) if mapping.boxes is not None else ()
        return ImageRecord(key, labels, box_sets)

    def eval(self, expression: Expression, node: Any, where: str) -> Any:
        try:
            return expression.search(node)
        except _EVAL_ERRORS as exc:
            raise _fail(where, _evaluation_error(exc), expression) from None

    def list_of(self, expression: Expression, node: Any, where: str) -> list[Any]:
        value = self.eval(expression, node, where)
        if value is None:
            return []
        if not isinstance(value, list):
            raise _fail(where, f"expected a list, got {_show(value)}", expression)
        return value

    def meta(
        self, field: str, own: Expression | None, node: Any, where: str
    ) -> tuple[Any, str, Expression | None]:
        """A metadata value: the node's own expression, else the record-level ``metadata``."""
        if own is not None:
            value = self.eval(own, node, where)
            if value is not None:
                return value, where, own
        shared: Expression | None = getattr(self.mapping.metadata, field)
        if shared is None:
            return None, where, None
        if field not in self.record_metadata:
            self.record_metadata[field] = self.eval(shared, self.record, f"metadata.{field}")
        return self.record_metadata[field], f"metadata.{field}", shared

    def common(self, spec: Metadata, node: Any, where: str) -> tuple[bool, str, str]:
        """human-annotated, creation-date and job name for a label or a box set."""
        defaults = self.mapping.defaults
        value, at, expression = self.meta(
            "human_annotated", spec.human_annotated, node, f"{where}.human_annotated"
        )
        if value is None:
            human = defaults.human_annotated
        elif isinstance(value, bool):
            human = value
        elif isinstance(value, str) and value.strip().lower() in _YES_NO:
            human = _YES_NO[value.strip().lower()]
        else:
            raise _fail(at, f"expected yes or no, got {_show(value)}", expression)
        value, at, expression = self.meta("date", spec.date, node, f"{where}.date")
        if value is None:
            if self.fallback_date is None:
                raise _fail(
                    at,
                    "no creation date: the input has no modification time; set defaults.date",
                    None,
                )
            date = self.fallback_date
        elif isinstance(value, str) and _valid_date(value):
            date = value
        else:
            raise _fail(
                at, f"{_show(value)} is not a date-time like 2024-05-01T12:00:00", expression
            )
        value, at, expression = self.meta("job", spec.job, node, f"{where}.job")
        job = defaults.job if value is None else _text(value, at, expression)
        return human, date, job

    def confidence(self, own: Expression | None, node: Any, where: str) -> float:
        value, at, expression = self.meta("confidence", own, node, where)
        if value is None:
            return self.mapping.defaults.confidence
        number = _number(value, at, expression)
        if not 0 <= number <= 1:
            raise _fail(at, f"confidence {_show(value)} is not between 0 and 1", expression)
        return number

    def class_name(self, value: Any, where: str, expression: Expression) -> str | None:
        """The renamed class, or None when it is empty or on the drop list."""
        name = _text(value, where, expression)
        kept = self.kept(name) if name.strip() else None
        problem = label_name_problem(kept) if kept is not None else None
        if problem is not None:
            raise _fail(where, problem, expression)
        return kept

    def kept(self, name: str) -> str | None:
        """``name`` renamed, or None when it is on the drop list (before or after renaming)."""
        renamed = self.mapping.rename.get(name, name)
        drop = self.mapping.drop
        return None if name in drop or renamed in drop else renamed

    def labels(self, record: Any) -> tuple[Label, ...]:
        spec = self.mapping.labels
        assert spec is not None
        nodes = [record] if spec.each is None else self.list_of(spec.each, record, "labels.each")
        labels: dict[str, Label] = {}
        # an export has no label attributes: its labels answer a question named after its mapping
        question = self.mapping.name
        name_search = spec.name.search
        own_confidence = spec.metadata.confidence
        confidence_search = own_confidence.search if own_confidence is not None else None
        confidence: Any
        for index, node in enumerate(nodes):
            # Quick path: one text name with all its metadata present and plain.
            try:
                raw = name_search(node)
                common = _quick_common(self.label_common, node)
                confidence = confidence_search(node) if confidence_search is not None else None
            except _EVAL_ERRORS:
                common = None
            if (
                common is not None
                and type(raw) is str
                and type(confidence) in _NUMBERS
                and 0 <= confidence <= 1
            ):
                name = self.kept(raw) if raw.strip() else None
                if name is None or len(name) <= MAX_LABEL_NAME_CHARS:
                    if name is not None and name not in labels:
                        labels[name] = Label(name, confidence, *common, question)
                    continue
            where = "labels" if spec.each is None else f"labels[{index}]"
            value = self.eval(spec.name, node, f"{where}.name")
            for raw in value if isinstance(value, list) else (value,):
                if raw is None:
                    continue
                name = self.class_name(raw, f"{where}.name", spec.name)
                if name is None or name in labels:
                    continue
                human, date, job = self.common(spec.metadata, node, where)
                confidence = self.confidence(own_confidence, node, f"{where}.confidence")
                labels[name] = Label(name, confidence, human, date, job, question)
        if len(labels) > 1:
            # a record that lists several classes answers a multi-label question
            return tuple(label._replace(multilabel=True) for label in labels.values())
        return tuple(labels.values())

    def box_sets(self, record: Any, spec: Boxes) -> tuple[BoxSet, ...]:
        nodes = self.list_of(spec.each, record, "boxes.each")
        found = []
        class_search = spec.class_name.search
        searches = self.geometry
        confidence_search = spec.confidence.search if spec.confidence is not None else None
        confidence: Any
        for index, node in enumerate(nodes):
            # Quick path: a text class, four plain numbers and a confidence from 0 to 1.
            try:
                raw = class_search(node)
                geometry = [search(node) for search in searches]
                confidence = confidence_search(node) if confidence_search is not None else None
            except _EVAL_ERRORS:
                raw = None
            if (
                type(raw) is str
                and type(confidence) in _NUMBERS
                and 0 <= confidence <= 1
                and all(
                    type(value) in _NUMBERS and -_MAX_NUMBER <= value <= _MAX_NUMBER
                    for value in geometry
                )
            ):
                name = self.kept(raw) if raw.strip() else None
                if name is None or len(name) <= MAX_LABEL_NAME_CHARS:
                    if name is not None:
                        found.append((name, geometry, confidence))
                    continue
            where = f"boxes[{index}]"
            name = self.class_name(
                self.eval(spec.class_name, node, f"{where}.class"),
                f"{where}.class",
                spec.class_name,
            )
            if name is None:
                continue
            geometry = [
                _number(self.eval(e, node, f"{where}.{k}"), f"{where}.{k}", e)
                for e, k in zip(spec.geometry, _CORNERS if spec.corners else _SIDES, strict=True)
            ]
            confidence = self.confidence(spec.confidence, node, f"{where}.confidence")
            found.append((name, geometry, confidence))
        if not found:
            return ()
        size = self.image_size(record, spec)
        scale = _UNIT_SCALE[spec.units]
        boxes = []
        for name, (a, b, c, d), confidence in found:
            if spec.corners:
                c, d = c - a, d - b
            if scale is not None:
                a, c = a * size.width / scale, c * size.width / scale
                b, d = b * size.height / scale, d * size.height / scale
            if spec.corners or scale is not None:
                # Converted values carry float noise (0.6 * 500 - 0.2 * 500 = 199.99999999999997);
                # 1/10,000 of a pixel is finer than any annotation tool draws.
                a, b, c, d = (round(v, _DECIMALS) for v in (a, b, c, d))
            boxes.append(Box(name, a, b, c, d, confidence))
        try:
            common = _quick_common(self.box_common, record)
        except _EVAL_ERRORS:
            common = None
        human, date, job = common or self.common(spec.metadata, record, "boxes")
        return (BoxSet(size, tuple(boxes), human, date, job, self.mapping.name),)

    def image_size(self, record: Any, spec: Boxes) -> ImageSize:
        width = self.pixels(spec.width, record, "boxes.image_size.width")
        height = self.pixels(spec.height, record, "boxes.image_size.height")
        # depth is optional: 3 (RGB) unless the export says otherwise
        if spec.depth is None:
            return ImageSize(width, height)
        return ImageSize(
            width, height, self.pixels(spec.depth, record, "boxes.image_size.depth", 3)
        )

    def pixels(self, expression: Expression, record: Any, where: str, default: int = 0) -> int:
        try:
            value = expression.search(record)
        except _EVAL_ERRORS:
            value = None  # the careful evaluation below words the error
        else:
            if type(value) is int and 0 < value <= _MAX_NUMBER:
                return value
        value = self.eval(expression, record, where)
        return default if value is None and default else _pixels(value, where, expression)
