"""Ground Truth ``output.manifest`` lines → canonical records (fact sheet §5).

A line carries ``source-ref`` plus one ``<attr>``/``<attr>-metadata`` pair per labeling job that
touched it (chained jobs add pairs; other input keys pass through and are not labels). Each pair
is read by its metadata ``type``. A pair that cannot become Rekognition labels is dropped with a
reason; the line is rejected only when nothing usable is left, so a chained segmentation job
never costs the classification labels beside it.

This reader is native code rather than a YAML mapping: finding attribute pairs by name pattern
and dispatching on ``type`` per pair is beyond a fixed set of JMESPath expressions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson

from gtmerge import fastpaths, rekognition
from gtmerge.errors import quoted
from gtmerge.keys import InvalidKey, normalise_key
from gtmerge.model import AnswerKey, Box, BoxSet, ImageRecord, ImageSize, Label, Verdict
from gtmerge.readers.base import Item, Parsed, ReadContext, Rejection, Skipped, raw_text
from gtmerge.rekognition import MAX_KEY_BYTES, MAX_LABEL_NAME_CHARS, date_order, label_name_problem
from gtmerge.sources import BlankLines, Source, open_source, read_lines

_BOM = b"\xef\xbb\xbf"
_LEADING_KEY = b'{"source-ref":"'
_KEY_NAME = b'"source-ref"'
_METADATA = "-metadata"
_VERIFICATION = "groundtruth/label-verification"
#: Keys Rekognition's own validation output adds to a line; they are not label attributes.
_PASSTHROUGH = frozenset({"source-ref", "errors", "warnings", "cl-errors", "cl-metadata"})
#: Exact types: bool is an int subclass, and True is not a coordinate.
_NUMBERS = frozenset({int, float})
_CLASS_IDS = frozenset({int, str})


#: verification attribute → the label attribute it verified (``--verifies``)
Verifies = Mapping[str, str]
#: (labels, [(box set, is an adjustment)]) of a line, as :func:`_read_attributes` reads them
CleanPairs = tuple[list[Label], list[tuple[BoxSet, bool]]]

#: The C fast path (_fastgt.c), or None: for a line whose label attributes are all
#: classification, multi-label or bounding-box answers read with nothing dropped, what
#: :func:`_read_attributes` reads from them; None for any other line, which is read here.
_read_clean: Callable[[dict[str, Any]], CleanPairs | None] | None = fastpaths.load(
    "gtmerge.readers._fastgt", "read_clean"
)
#: The C twin of :func:`_leading_key`, or None.
_fast_leading_key: Callable[[bytes], bytes | None] | None = fastpaths.load(
    "gtmerge.readers._fastgt", "leading_key"
)


class UnusableAttribute(ValueError):
    """One label attribute that cannot be used; the message is the reason."""


class GroundTruthReader:
    """Reads Ground Truth output manifests (JSON lines) of every image task type."""

    def read(self, source: Source, context: ReadContext) -> Iterator[Item]:
        for line_no, raw in numbered_lines(source, context):
            yield parse_line(line_no, raw, context.verifies)


def numbered_lines(
    source: Source, context: ReadContext
) -> Iterator[tuple[int, bytes | BlankLines | None]]:
    """The raw lines of a manifest with their 1-based numbers (None: over the line limit; a
    run of empty lines is numbered by its first)."""
    with open_source(source, context.s3, context.on_bytes) as stream:
        line_no = 1
        for raw in read_lines(stream):
            yield line_no, raw
            line_no += raw.lines if isinstance(raw, BlankLines) else 1


def image_key(raw: bytes) -> bytes | None:
    """The normalised image key of a line, UTF-8 encoded, for the spool to partition it by.

    A line that starts the way Ground Truth writes them (``source-ref`` first, compact, a
    plain ``s3://`` URI) gives it without being parsed, in a third of the time: it is the key
    :func:`parse_line` finds, if the line parses at all (a broken line is rejected when it is
    parsed, whatever its partition). Any other line is parsed here: None when it has no
    usable image.
    """
    key = (_fast_leading_key or _leading_key)(raw)
    if key is not None:
        return key
    item = parse_line(0, raw)
    return item.image.key.encode() if isinstance(item, Parsed) else None


def _leading_key(raw: bytes) -> bytes | None:
    # Without a backslash in the line, no string holds an escape, so the first quote after the
    # value's opening quote ends it, and a second source-ref member would show its name as is.
    if not raw.startswith(_LEADING_KEY) or b"\\" in raw:
        return None
    end = raw.find(b'"', len(_LEADING_KEY))
    key = raw[len(_LEADING_KEY) : end]
    if end < 0 or raw.find(_KEY_NAME, end) >= 0 or b"%" in key or not key.startswith(b"s3://"):
        return None
    # normalise_key returns such a reference unchanged when it has a bucket and an object key
    # of at most MAX_KEY_BYTES (it refuses a longer one)
    slash = key.find(b"/", 5)
    return key if 5 < slash < len(key) - 1 and len(key) - slash - 1 <= MAX_KEY_BYTES else None


def parse_line(
    line_no: int, raw: bytes | BlankLines | None, verifies: Verifies | None = None
) -> Item:
    """Read one manifest line into exactly one item.

    With ``verifies`` (verdicts are applied), each verdict gets the answer it verified, or is
    dropped with the reason it cannot be told; without it, verdicts are only counted.
    """
    if raw is None:
        return Rejection(line_no, "line too long: over the reader's line limit", "")
    if isinstance(raw, BlankLines):
        return Skipped(line_no, raw.lines)
    if not raw.strip():
        return Skipped(line_no)
    if raw.startswith(_BOM):
        # as validate says it, and as Rekognition reads it: a line must start with "{"
        return Rejection(line_no, "invalid JSON: a byte-order mark before the line", raw_text(raw))
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        # orjson's own text counts lines inside the record, which only confuses here.
        return Rejection(line_no, f"invalid JSON: {exc.msg} at byte {exc.pos + 1}", raw_text(raw))
    if not isinstance(obj, dict):
        return Rejection(line_no, "not a JSON object", raw_text(raw))
    try:
        key = _source_key(obj)
    except InvalidKey as exc:
        return Rejection(line_no, f"bad source-ref: {exc}", raw_text(raw))
    return _read_attributes(line_no, raw, key, obj, verifies)


def _source_key(obj: dict[str, Any]) -> str:
    ref = obj.get("source-ref")
    if ref is None:
        if "source" in obj:
            raise InvalidKey("the line has inline 'source' text, not an image")
        raise InvalidKey("the line has no source-ref")
    if not isinstance(ref, str):
        raise InvalidKey(f"source-ref is a {type(ref).__name__}, not a string")
    return normalise_key(ref)


def _read_attributes(
    line_no: int, raw: bytes, key: str, obj: dict[str, Any], verifies: Verifies | None
) -> Item:
    clean = _read_clean(obj) if _read_clean is not None else None
    if clean is not None:
        return Parsed(line_no, record_of(key, *clean), ())
    labels = []
    box_sets: list[tuple[BoxSet, bool]] = []
    blank: list[AnswerKey] = []
    verdicts: list[Verdict] = []
    dropped: list[Rejection] = []
    usable = 0
    for name, metadata in obj.items():
        if not name.endswith(_METADATA) or name in _PASSTHROUGH:
            continue
        attribute = name[: -len(_METADATA)]
        # The common valid classification attribute, read inline; the general path below
        # reads everything else and finds the reason when something is wrong.
        if type(metadata) is dict and metadata.get("type") == rekognition.CLASSIFICATION:
            value = obj.get(attribute)
            class_name, confidence = metadata.get("class-name"), metadata.get("confidence")
            human, date = metadata.get("human-annotated"), metadata.get("creation-date")
            if (
                (type(value) is int or type(value) is str)
                and type(class_name) is str
                and 0 < len(class_name) <= MAX_LABEL_NAME_CHARS
                and (type(confidence) is float or type(confidence) is int)
                and 0 <= confidence <= 1
                and (human == "yes" or human == "no")
                and "failure-reason" not in metadata
                and rekognition.is_valid_creation_date(date)
            ):
                job = metadata.get("job-name")
                labels.append(
                    Label(
                        class_name,
                        confidence,
                        human == "yes",
                        date,  # type: ignore[arg-type]
                        job if type(job) is str else None,
                        attribute,
                    )
                )
                usable += 1
                continue
        try:
            _read_pair(attribute, obj, metadata, labels, box_sets, blank, verdicts)
        except UnusableAttribute as exc:
            dropped.append(Rejection(line_no, str(exc), "", attribute))
            continue
        usable += 1
    if verdicts and verifies is not None:
        targeted = []
        for verdict in verdicts:
            try:
                targeted.append(_with_target(verdict, verifies, labels, box_sets, blank))
            except UnusableAttribute as exc:
                dropped.append(Rejection(line_no, str(exc), "", verdict.attribute))
                usable -= 1
        verdicts = targeted
    if dropped:
        if not usable:
            reason = "; ".join(f"{d.attribute}: {d.reason}" for d in dropped)
            return Rejection(line_no, _line_reason(dropped, reason), raw_text(raw))
        text = raw_text(raw)
        dropped = [Rejection(d.line, d.reason, text, d.attribute) for d in dropped]
    record = record_of(key, labels, box_sets, tuple(blank), tuple(verdicts))
    return Parsed(line_no, record, tuple(dropped) if dropped else ())


def record_of(
    key: str,
    labels: list[Label],
    box_sets: list[tuple[BoxSet, bool]],
    blank: tuple[AnswerKey, ...] = (),
    verdicts: tuple[Verdict, ...] = (),
) -> ImageRecord:
    kept, superseded = _apply_adjustments(box_sets) if box_sets else ((), ())
    return ImageRecord(key, tuple(labels), kept, superseded, blank, verdicts)


def _with_target(
    verdict: Verdict,
    verifies: Verifies,
    labels: list[Label],
    box_sets: list[tuple[BoxSet, bool]],
    blank: list[AnswerKey],
) -> Verdict:
    """``verdict`` with the answer it verified, found among the line's other attributes.

    A verification job shows its workers one attribute of its input line, and its output keeps
    every attribute of that line, but it does not say which one it showed (fact sheet §9.1).
    ``verifies`` names it per verification attribute. Otherwise the verified attribute is the
    line's one bounding-box attribute (or, with none dated before the verdict, its one
    classification attribute). With
    several, the one that existed when the verdict was given: an attribute dated after the
    verdict was added by a later job, and a box set replaced by an adjustment before the
    verdict was not what the workers saw. Anything else is ambiguous, and nothing is guessed.
    """
    boxes = [(b.answer, adjusted) for b, adjusted in box_sets]
    classes = list(dict.fromkeys([label.answer for label in labels] + blank))
    named = verifies.get(verdict.attribute)
    if named is not None:
        for answer in [b for b, _ in boxes] + classes:
            if answer[0] == named:
                return verdict._replace(target=answer)
        raise UnusableAttribute(f"verdict: it verifies {named} (--verifies), not in the line")
    when = date_order(verdict.creation_date)
    if all(date_order(b[2]) > when for b, _ in boxes) and any(
        date_order(c[2]) <= when for c in classes
    ):
        # every box attribute was added after the verdict: it verified a classification
        boxes = []
    kind, candidates = "bounding-box", _shown(boxes, when)
    if not boxes:
        kind, candidates = "classification", _shown([(c, False) for c in classes], when)
    if len(candidates) == 1:
        return verdict._replace(target=candidates[0])
    if not candidates:
        problem = "the line has no bounding-box or classification attribute"
    else:
        names = ", ".join(sorted({c[0] for c in candidates}))
        problem = f"{len(candidates)} {kind} attributes could be the one verified ({names})"
    raise UnusableAttribute(
        f"verdict: cannot tell which attribute it verified: {problem}; "
        f"name it with --verifies {verdict.attribute}=ATTRIBUTE"
    )


def _shown(answers: list[tuple[AnswerKey, bool]], when: str) -> list[AnswerKey]:
    """Of the line's attributes of one kind (with whether each is an adjustment), those the
    verification's workers can have been shown: with several, only those dated no later than
    the verdict (unless that is none: then the dates say nothing), and of those the last
    adjustment, which replaced the others."""
    if len(answers) > 1:
        answers = [a for a in answers if date_order(a[0][2]) <= when] or answers
        adjustments = [answer for answer, adjusted in answers if adjusted]
        if adjustments:
            return adjustments[-1:]
    return [answer for answer, _ in answers]


def _line_reason(dropped: list[Rejection], detail: str) -> str:
    """The reason for a whole-line reject: the single attribute's reason, or all of them."""
    if len(dropped) == 1:
        return f"{dropped[0].reason} (attribute {dropped[0].attribute})"
    return f"no usable label attribute: {detail}"


def _read_pair(
    attribute: str,
    obj: dict[str, Any],
    metadata: Any,
    labels: list[Label],
    box_sets: list[tuple[BoxSet, bool]],
    blank: list[AnswerKey],
    verdicts: list[Verdict],
) -> None:
    """Read one attribute pair into the list its type belongs to."""
    if not isinstance(metadata, dict):
        raise UnusableAttribute("metadata is not an object")
    if "failure-reason" in metadata:
        raise UnusableAttribute(f"failed item: {_short(metadata['failure-reason'])}")
    if attribute not in obj:
        raise UnusableAttribute("failed item: metadata without its label attribute")
    value = obj[attribute]
    kind = metadata.get("type")
    if kind == rekognition.CLASSIFICATION:
        labels.append(_classification(value, metadata, attribute))
    elif kind == rekognition.MULTILABEL:
        selected = _multilabel(value, metadata, attribute)
        if selected:
            labels.extend(selected)
        else:
            _, date, job = _provenance(metadata)
            blank.append((attribute, job, date))
    elif kind == rekognition.DETECTION:
        box_set = _box_set(value, metadata, attribute)
        box_sets.append((box_set, "adjustment-status" in metadata))
    elif kind == _VERIFICATION:
        given = metadata.get("creation-date")
        verdicts.append(
            Verdict(
                _label_name(_text(metadata, "class-name"), "metadata class-name"),
                _job_name(metadata),
                attribute,
                given if isinstance(given, str) else "",
            )
        )
    elif isinstance(kind, str):
        raise UnusableAttribute(f"unsupported type: {kind} cannot become a Rekognition label")
    else:
        raise UnusableAttribute("metadata has no type")


def _classification(value: Any, metadata: dict[str, Any], attribute: str) -> Label:
    if type(value) is not int and type(value) is not str:
        raise UnusableAttribute("classification value is not a class index")
    return Label(
        _label_name(_text(metadata, "class-name"), "metadata class-name"),
        _confidence(metadata.get("confidence"), "confidence"),
        *_provenance(metadata),
        attribute,
    )


def _multilabel(value: Any, metadata: dict[str, Any], attribute: str) -> list[Label]:
    if not isinstance(value, list):
        raise UnusableAttribute("multi-label value is not a list of class ids")
    class_map = _mapping(metadata, "class-map")
    confidences = _mapping(metadata, "confidence-map") if value else {}
    human, date, job = _provenance(metadata)
    labels = []
    for class_id in value:
        name = _class_name(class_map, class_id)
        confidence = _confidence(confidences.get(str(class_id)), f"confidence-map[{class_id}]")
        labels.append(Label(name, confidence, human, date, job, attribute, True))
    return labels


def _box_set(value: Any, metadata: dict[str, Any], attribute: str) -> BoxSet:
    if not isinstance(value, dict):
        raise UnusableAttribute("bounding-box value is not an object")
    annotations = value.get("annotations")
    if not isinstance(annotations, list):
        raise UnusableAttribute("bounding-box has no annotations list")
    objects = metadata.get("objects", [])
    if not isinstance(objects, list):
        raise UnusableAttribute("metadata objects is not a list")
    if len(objects) < len(annotations):
        raise UnusableAttribute(
            f"{len(annotations)} boxes but {len(objects)} confidences in metadata objects"
        )
    class_map = _mapping(metadata, "class-map") if annotations else {}
    boxes = []
    for index, (box, conf) in enumerate(zip(annotations, objects, strict=False)):
        # The common, valid box takes this straight path; anything unusual goes through
        # _checked_box, which finds the exact reason.
        if type(box) is dict and type(conf) is dict:
            left, top = box.get("left"), box.get("top")
            width, height = box.get("width"), box.get("height")
            confidence, class_id = conf.get("confidence"), box.get("class_id")
            name = class_map.get(str(class_id)) if type(class_id) in _CLASS_IDS else None
            if (
                type(left) in _NUMBERS
                and type(top) in _NUMBERS
                and type(width) in _NUMBERS
                and type(height) in _NUMBERS
                and type(confidence) in _NUMBERS
                and 0 <= confidence <= 1  # type: ignore[operator]
                and type(name) is str
                and 0 < len(name) <= MAX_LABEL_NAME_CHARS
            ):
                boxes.append(Box(name, left, top, width, height, confidence))  # type: ignore[arg-type]
                continue
        boxes.append(_checked_box(index, box, conf, class_map))
    size = _image_size(value.get("image_size"))
    return BoxSet(size, tuple(boxes), *_provenance(metadata), attribute)


def _checked_box(index: int, box: Any, conf: Any, class_map: dict[str, Any]) -> Box:
    if not isinstance(box, dict) or not isinstance(conf, dict):
        raise UnusableAttribute(f"box {index} is not an object")
    return Box(
        _class_name(class_map, box.get("class_id")),
        _number(box, "left", index),
        _number(box, "top", index),
        _number(box, "width", index),
        _number(box, "height", index),
        _confidence(conf.get("confidence"), f"objects[{index}].confidence"),
    )


def _apply_adjustments(
    box_sets: list[tuple[BoxSet, bool]],
) -> tuple[tuple[BoxSet, ...], tuple[BoxSet, ...]]:
    """An adjustment job's box set replaces the sets it was made from (the others in its line).

    With several adjustment rounds chained on one line, the last one (GT appends new pairs)
    wins. The replaced sets are kept as ``superseded`` so that the same boxes coming from the
    original job's own output file are dropped at merge time too.
    """
    adjusted = [box_set for box_set, is_adjustment in box_sets if is_adjustment]
    if not adjusted:
        return tuple(box_set for box_set, _ in box_sets), ()
    final = adjusted[-1]
    superseded = tuple(
        box_set
        for box_set, _ in box_sets
        if box_set is not final and box_set.geometry != final.geometry
    )
    return (final,), superseded


def _image_size(value: Any) -> ImageSize:
    # An array of one object per the spec; the COCO mapping page writes a plain object (§8.5).
    size = value[0] if isinstance(value, list) and len(value) == 1 else value
    if not isinstance(size, dict):
        raise UnusableAttribute("image_size is not an array of one {width, height, depth} object")
    width, height, depth = size.get("width"), size.get("height"), size.get("depth", 3)
    for name, number in (("width", width), ("height", height), ("depth", depth)):
        if isinstance(number, bool) or not isinstance(number, int) or number <= 0:
            raise UnusableAttribute(f"image_size {name} is not a positive integer")
    return ImageSize(width, height, depth)  # type: ignore[arg-type]


def _class_name(class_map: dict[str, Any], class_id: Any) -> str:
    if isinstance(class_id, bool) or not isinstance(class_id, (int, str)):
        raise UnusableAttribute(f"class id {_short(class_id)} is not an integer")
    name = class_map.get(str(class_id))
    if not isinstance(name, str) or not name:
        raise UnusableAttribute(f"class id {_id(class_id)} is not in class-map")
    return _label_name(name, f"class-map[{_id(class_id)}]")


def _id(class_id: int | str) -> str:
    """A class id as messages show it: bounded, as an id can be as long as a line."""
    text = str(class_id)
    return text if len(text) <= 60 else _short(text)


def _label_name(name: str, field: str) -> str:
    """``name`` when it can be a Rekognition label name; the attribute is dropped otherwise,
    before anything of its size is held (a 15 MB class name fits in the line limit)."""
    problem = label_name_problem(name)
    if problem is not None:
        raise UnusableAttribute(f"{field}: {problem}")
    return name


def _mapping(metadata: dict[str, Any], field: str) -> dict[str, Any]:
    value = metadata.get(field)
    if not isinstance(value, dict):
        raise UnusableAttribute(f"metadata {field} is missing or not an object")
    return value


def _text(metadata: dict[str, Any], field: str) -> str:
    value = metadata.get(field)
    if not isinstance(value, str) or not value:
        raise UnusableAttribute(f"metadata {field} is missing or not a string")
    return value


def _confidence(value: Any, field: str) -> float:
    if value is None:
        raise UnusableAttribute(f"{field} is missing")
    if not rekognition.is_confidence(value):
        raise UnusableAttribute(f"{field} {_short(value)} is not a number from 0 to 1")
    return value  # type: ignore[no-any-return]


def _provenance(metadata: dict[str, Any]) -> tuple[bool, str, str | None]:
    """human-annotated, creation-date and job-name, which every label and box set carries."""
    human = metadata.get("human-annotated")
    if human != "yes" and human != "no":
        raise UnusableAttribute(f"human-annotated {_short(human)} is not 'yes' or 'no'")
    date = metadata.get("creation-date")
    if not rekognition.is_valid_creation_date(date):
        raise UnusableAttribute(f"creation-date {_short(date)} is not a UTC date-time")
    return human == "yes", date, _job_name(metadata)  # type: ignore[return-value]


def _job_name(metadata: dict[str, Any]) -> str | None:
    value = metadata.get("job-name")
    return value if isinstance(value, str) else None


def _number(box: dict[str, Any], field: str, index: int) -> float:
    value = box.get(field)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UnusableAttribute(f"box {index} {field} {_short(value)} is not a number")
    return value


def _short(value: Any) -> str:
    text = quoted(value)  # bounded: a value nested a thousand levels has no plain repr
    return text if len(text) <= 60 else text[:57] + "..."
