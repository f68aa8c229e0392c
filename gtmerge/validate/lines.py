"""Checks of one parsed line's label attributes (formats.md §1, §2, §3.2, §3.3, §4.4).

The rules are stated here one by one, in Rekognition's order. This runs once per line, and
most lines of a manifest are valid: the C extension ``_fastlines`` first tells, in one pass
with none of the interpreter's cost per check, whether every attribute of a line passes with
no finding at all, and only the lines it cannot vouch for are checked here. Without the
extension (gtmerge built without a C compiler) every line is checked here, with the same
results.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gtmerge import fastpaths
from gtmerge.errors import quoted
from gtmerge.rekognition import (
    CLASSIFICATION,
    DETECTION,
    MAX_BOXES_PER_IMAGE,
    MAX_LABEL_NAME_CHARS,
    MAX_LABELS_PER_IMAGE,
    MIN_BOX_PIXELS,
    SCALED_MAX_SIDE,
    is_confidence,
    is_valid_creation_date,
)
from gtmerge.validate import codes
from gtmerge.validate.findings import Finding

#: Keys that are never label attributes: the image, and what Rekognition's own validation
#: output adds (``errors``/``warnings`` in validation manifests, ``cl-*`` in dataset entries).
NOT_LABEL_KEYS = frozenset({"source-ref", "errors", "warnings", "cl-errors", "cl-metadata"})
METADATA_SUFFIX = "-metadata"
_BOX_FIELDS = ("left", "top", "width", "height")
_YES_NO = ("yes", "no")
_MISSING: Any = object()
#: Key sequences remembered by line_pairs' ``pairing``; only a pathological manifest has more.
_PAIRING_CACHE_SIZE = 4096

# What a line turned out to be.
VALID, INVALID, IGNORED = 0, 1, 2

#: A finding before it has a line number: (code, detail, attribute, annotation).
Found = tuple[str, str | None, str | None, int | None]
#: The label attributes of a line and their metadata keys: ((attribute, metadata key), …).
Pairs = tuple[tuple[str, str], ...]


#: What a valid line has, as :func:`count_names` (and _fastlines.c) return it: image-level
#: labels, boxes, or both.
CLASS_LABELS, BOX_LABELS = 1, 2
#: Per-label image counts, name → the number of valid lines that have it.
ImageCounts = dict[str, int]
CountCleanLabels = Callable[[dict[str, Any], Pairs, ImageCounts, ImageCounts], int]


#: The C fast path, or None: for a line that :func:`check_pairs` finds VALID with no finding,
#: ``count_names`` of its names in one pass; 0 (nothing counted) for any other line.
count_clean_labels: CountCleanLabels | None = fastpaths.load(
    "gtmerge.validate._fastlines", "count_clean_labels"
)
#: The C fast path of ManifestValidator.feed_lines' common case, or None (see _fastlines.c):
#: the clean lines at the start of a list of lines, counted; the parsed first other line.
feed_lines: Callable[..., Any] | None = fastpaths.load("gtmerge.validate._fastlines", "feed_lines")


class LineError(Exception):
    """A † error (§4.4): found first, it stops the validation of the rest of the line."""

    def __init__(
        self, code: str, detail: str, attribute: str | None = None, annotation: int | None = None
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.attribute = attribute
        self.annotation = annotation

    def finding(self, line: int, manifest: str | None) -> Finding:
        return Finding(
            self.code,
            line,
            codes.message(self.code, self.detail),
            self.attribute,
            self.annotation,
            manifest,
        )


def line_pairs(record: dict[str, Any], pairing: dict[tuple[str, ...], Pairs]) -> Pairs:
    """:func:`label_pairs`, through ``pairing``, a cache the caller keeps across lines: the
    keys of a line, in order → its pairs (the lines of a manifest share a few key sequences,
    so one lookup of the keys replaces a test of each key)."""
    keys = tuple(record)
    try:
        return pairing[keys]
    except KeyError:
        pairs = label_pairs(record)
        if len(pairing) < _PAIRING_CACHE_SIZE:
            pairing[keys] = pairs
        return pairs


def check_pairs(
    record: dict[str, Any], pairs: Pairs
) -> tuple[int, list[str], list[str], list[Found]]:
    """Check every ``<attr>``/``<attr>-metadata`` pair of a line whose source-ref is valid.

    Raises :class:`LineError` for a † error. Otherwise returns the line's status (VALID,
    INVALID or IGNORED), its usable image-level label names, its usable box label names (one
    per box) and the findings that do not stop a line, in file order.
    """
    class_names: list[str] = []
    object_names: list[str] = []
    found: list[Found] = []
    supported = boxes = 0
    for key, metadata_key in pairs:
        value = record[key]
        metadata = record[metadata_key]
        use_case = metadata.get("type") if type(metadata) is dict else None
        if use_case == CLASSIFICATION:
            _check_classification(key, value, metadata)
            name = metadata["class-name"]
            if len(name) > MAX_LABEL_NAME_CHARS:
                detail = _long_name(name)
                found.append((codes.INVALID_LABEL_NAME_LENGTH, detail, metadata_key, None))
            else:
                class_names.append(name)
        elif use_case == DETECTION:
            boxes += _check_detection(key, value, metadata, object_names, found)
        else:
            _check_unsupported(key, metadata, found)
            continue
        supported += 1
    if not pairs:
        return _without_pairs(record)
    if not supported:
        found.append(
            (
                codes.NO_VALID_LABEL_ATTRIBUTES,
                f"No attribute has the type {CLASSIFICATION} or {DETECTION}.",
                None,
                None,
            )
        )
        return INVALID, class_names, object_names, found
    if boxes and not object_names:
        found.append((codes.NO_VALID_ANNOTATIONS, None, None, None))
        return INVALID, class_names, object_names, found
    if len(class_names) + len(object_names) > MAX_LABELS_PER_IMAGE:
        distinct = len(set(class_names) | set(object_names))
        if distinct > MAX_LABELS_PER_IMAGE:
            found.append((codes.TOO_MANY_LABELS_PER_IMAGE, f"It has {distinct}.", None, None))
            return INVALID, class_names, object_names, found
    if class_names or object_names:
        return VALID, class_names, object_names, found
    return _without_labels(record, class_names, object_names, found)


def count_names(
    class_names: list[str],
    object_names: list[str],
    class_images: ImageCounts,
    object_images: ImageCounts,
) -> int:
    """Count each distinct name of a valid line once in its image counts; return what the
    line has (CLASS_LABELS, BOX_LABELS or both)."""
    for names, images in ((class_names, class_images), (object_names, object_images)):
        for name in dict.fromkeys(names):
            images[name] = images.get(name, 0) + 1
    return (CLASS_LABELS if class_names else 0) | (BOX_LABELS if object_names else 0)


def label_pairs(record: dict[str, Any]) -> Pairs:
    """The label attributes of a line whose metadata key is there too, in file order (a key
    without it is a pass-through field, as Ground Truth keeps its input's keys)."""
    return tuple(
        (key, key + METADATA_SUFFIX)
        for key in record
        if not key.endswith(METADATA_SUFFIX)
        and key not in NOT_LABEL_KEYS
        and key + METADATA_SUFFIX in record
    )


def _without_pairs(record: dict[str, Any]) -> tuple[int, list[str], list[str], list[Found]]:
    """A line with no complete pair: unannotated if it has no label keys at all."""
    unpaired = [key for key in record if key not in NOT_LABEL_KEYS]
    if unpaired:
        raise LineError(
            codes.NO_LABEL_ATTRIBUTES,
            "Each label attribute needs a twin named '<attribute>-metadata'; these keys have "
            "none: " + ", ".join(repr(key) for key in unpaired) + ".",
        )
    return IGNORED, [], [], [(codes.UNANNOTATED_RECORD, None, None, None)]


def _without_labels(
    record: dict[str, Any], class_names: list[str], object_names: list[str], found: list[Found]
) -> tuple[int, list[str], list[str], list[Found]]:
    """A line whose pairs are sound but give no label: invalid if one had an error, else
    ignored (§4.4: empty box lists are warnings)."""
    if any(not codes.is_warning(code) for code, *_ in found):
        return INVALID, class_names, object_names, found
    if any(
        code == codes.NO_ATTRIBUTE_ANNOTATIONS
        and record[f"{attribute}{METADATA_SUFFIX}"]["human-annotated"] == "yes"
        for code, _, attribute, _ in found
    ):
        found.append((codes.NO_ANNOTATIONS, None, None, None))
    return IGNORED, class_names, object_names, found


def _check_unsupported(attribute: str, metadata: Any, found: list[Found]) -> None:
    metadata_key = attribute + METADATA_SUFFIX
    if type(metadata) is not dict:
        raise LineError(
            codes.INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT,
            f"{metadata_key!r} must be an object, not {_describe(metadata)}.",
            metadata_key,
        )
    use_case = metadata.get("type", _MISSING)
    if type(use_case) is not str:
        raise LineError(
            codes.INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT,
            f"{metadata_key!r} needs a 'type' string, not {_describe(use_case)}.",
            metadata_key,
        )
    found.append(
        (
            codes.UNSUPPORTED_USE_CASE_TYPE,
            f"{metadata_key!r} has type {use_case!r}; Rekognition takes only "
            f"{CLASSIFICATION!r} and {DETECTION!r}.",
            metadata_key,
            None,
        )
    )


# ---- image-level classification -----------------------------------------------------------


def _check_classification(attribute: str, value: Any, metadata: dict[str, Any]) -> None:
    metadata_key = attribute + METADATA_SUFFIX
    # Rekognition documents an integer; Ground Truth's own examples also write "0", and
    # Rekognition imports Ground Truth output as it is, so a string of digits passes too.
    if type(value) is not int and not (type(value) is str and value.isascii() and value.isdigit()):
        raise LineError(
            codes.INVALID_LABEL_ATTRIBUTE_FORMAT,
            f"The value of {attribute!r} must be an integer, not {_describe(value)}.",
            attribute,
        )
    if not is_confidence(metadata.get("confidence")):
        raise _metadata_error(metadata_key, metadata, "confidence", "a number from 0 to 1")
    name = metadata.get("class-name")
    if type(name) is not str or not name:
        raise _metadata_error(metadata_key, metadata, "class-name", "a non-empty string")
    _check_common_metadata(metadata_key, metadata)


def _check_common_metadata(metadata_key: str, metadata: dict[str, Any]) -> None:
    """The fields both use cases require: human-annotated, creation-date, optional job-name."""
    if metadata.get("human-annotated") not in _YES_NO:
        raise _metadata_error(metadata_key, metadata, "human-annotated", '"yes" or "no"')
    if not is_valid_creation_date(metadata.get("creation-date")):
        raise _metadata_error(
            metadata_key, metadata, "creation-date", "a UTC date-time like 2020-03-06T17:46:39.176"
        )
    if type(metadata.get("job-name", "")) is not str:
        raise _metadata_error(metadata_key, metadata, "job-name", "a string")


def _metadata_error(
    metadata_key: str, metadata: dict[str, Any], field: str, expected: str
) -> LineError:
    return LineError(
        codes.INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT,
        f"{field!r} in {metadata_key!r} must be {expected}, "
        f"not {_describe(metadata.get(field, _MISSING))}.",
        metadata_key,
    )


# ---- object localization ------------------------------------------------------------------


def _check_detection(
    attribute: str,
    value: Any,
    metadata: dict[str, Any],
    object_names: list[str],
    found: list[Found],
) -> int:
    """Check a bounding-box pair; returns how many boxes it has (0 when none is usable)."""
    names = _check_detection_format(attribute, value, metadata)
    size = value["image_size"][0]
    width, height = size["width"], size["height"]
    boxes = value.get("annotations", [])
    if not boxes:
        found.append((codes.NO_ATTRIBUTE_ANNOTATIONS, None, attribute, None))
        return 0
    if len(boxes) > MAX_BOXES_PER_IMAGE:
        found.append(
            (codes.TOO_MANY_BOUNDING_BOXES, f"{attribute!r} has {len(boxes)}.", attribute, None)
        )
        return 0
    long_names = [name for name in names if len(name) > MAX_LABEL_NAME_CHARS]
    if long_names:
        detail = _long_name(long_names[-1])
        found.append((codes.INVALID_LABEL_NAME_LENGTH, detail, attribute + METADATA_SUFFIX, None))
        return 0
    longest = max(width, height)
    # Rekognition scales the image down until no side exceeds 1280 px, then needs each box
    # side to stay above 1 px (§3.3).
    scale = SCALED_MAX_SIDE / longest if longest > SCALED_MAX_SIDE else 1.0
    for index, (box, name) in enumerate(zip(boxes, names, strict=True)):
        left, top, box_width, box_height = (box[field] for field in _BOX_FIELDS)
        if (
            left < 0
            or top < 0
            or box_width < 0
            or box_height < 0
            or left + box_width > width
            or top + box_height > height
        ):
            found.append(
                (
                    codes.INVALID_BOUNDING_BOX,
                    f"Box {index} (left {left}, top {top}, width {box_width}, "
                    f"height {box_height}) is not inside the {width}x{height} image.",
                    attribute,
                    index,
                )
            )
        elif box_width * scale <= MIN_BOX_PIXELS or box_height * scale <= MIN_BOX_PIXELS:
            found.append(
                (
                    codes.BOUNDING_BOX_TOO_SMALL,
                    f"Box {index} is {box_width}x{box_height} px, "
                    f"{box_width * scale:g}x{box_height * scale:g} px once the image is "
                    f"scaled to {SCALED_MAX_SIDE} px; both sides must exceed "
                    f"{MIN_BOX_PIXELS:g} px.",
                    attribute,
                    index,
                )
            )
        else:
            object_names.append(name)
    return len(boxes)


def _check_detection_format(attribute: str, value: Any, metadata: dict[str, Any]) -> list[str]:
    """The † checks of a bounding-box pair, in Rekognition's order: attribute format,
    metadata format, box confidences, class map; returns the label name of each box."""
    metadata_key = attribute + METADATA_SUFFIX
    _check_image_size(attribute, value)
    boxes = value.get("annotations", [])
    if type(boxes) is not list:
        raise LineError(
            codes.INVALID_LABEL_ATTRIBUTE_FORMAT,
            f"'annotations' in {attribute!r} must be a list, not {_describe(boxes)}.",
            attribute,
        )
    for index, box in enumerate(boxes):
        _check_box(attribute, index, box)
    _check_common_metadata(metadata_key, metadata)
    class_map = metadata.get("class-map", _MISSING)
    if type(class_map) is not dict or not all(
        type(name) is str and name for name in class_map.values()
    ):
        raise _metadata_error(
            metadata_key, metadata, "class-map", "an object mapping class ids to label names"
        )
    _check_confidences(metadata_key, metadata, len(boxes))
    names = []
    for index, box in enumerate(boxes):
        name = class_map.get(str(box["class_id"]))
        if name is None:
            raise LineError(
                codes.MISSING_CLASS_MAP_ID,
                f"class_id {box['class_id']} of box {index} is not a key of 'class-map' "
                f"in {metadata_key!r}.",
                metadata_key,
                index,
            )
        names.append(name)
    return names


def _check_image_size(attribute: str, value: Any) -> None:
    if type(value) is not dict:
        raise LineError(
            codes.INVALID_LABEL_ATTRIBUTE_FORMAT,
            f"{attribute!r} must be an object, not {_describe(value)}.",
            attribute,
        )
    sizes = value.get("image_size", _MISSING)
    if type(sizes) is list and len(sizes) == 1 and type(sizes[0]) is dict:
        dims = [sizes[0].get(side) for side in ("width", "height", "depth")]
        if all(type(dim) is int and dim > 0 for dim in dims):
            return
    raise LineError(
        codes.INVALID_LABEL_ATTRIBUTE_FORMAT,
        f"'image_size' in {attribute!r} must be a list of one "
        '{"width", "height", "depth"} object of positive integers, '
        f"not {_describe(sizes)}.",
        attribute,
    )


def _check_box(attribute: str, index: int, box: Any) -> None:
    if type(box) is not dict:
        detail = f"Box {index} of {attribute!r} must be an object, not {_describe(box)}."
    elif type(box.get("class_id")) is not int:
        detail = f"Box {index} of {attribute!r} needs an integer 'class_id'."
    else:
        for field in _BOX_FIELDS:
            number = box.get(field)
            if type(number) is not int and type(number) is not float:
                detail = f"Box {index} of {attribute!r} needs a number for {field!r}."
                break
        else:
            return
    raise LineError(codes.INVALID_LABEL_ATTRIBUTE_FORMAT, detail, attribute, index)


def _check_confidences(metadata_key: str, metadata: dict[str, Any], box_count: int) -> None:
    objects = metadata.get("objects", _MISSING)
    if objects is _MISSING and box_count:
        raise LineError(
            codes.MISSING_BOUNDING_BOX_CONFIDENCE,
            f"{metadata_key!r} has no 'objects' list for its {box_count} boxes.",
            metadata_key,
        )
    if type(objects) is not list:
        raise _metadata_error(metadata_key, metadata, "objects", 'a list of {"confidence": …}')
    for index in range(box_count):
        entry = objects[index] if index < len(objects) else None
        confidence = entry.get("confidence", _MISSING) if type(entry) is dict else _MISSING
        if confidence is _MISSING:
            raise LineError(
                codes.MISSING_BOUNDING_BOX_CONFIDENCE,
                f"Box {index} has no {{\"confidence\": …}} at the same index of 'objects' "
                f"in {metadata_key!r}.",
                metadata_key,
                index,
            )
        if not is_confidence(confidence):
            raise LineError(
                codes.INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT,
                f"The confidence of box {index} in {metadata_key!r} must be a number from "
                f"0 to 1, not {_describe(confidence)}.",
                metadata_key,
                index,
            )


def _long_name(name: str) -> str:
    return f"{name[:40]!r}… has {len(name)} characters."


def _describe(value: object) -> str:
    """A short, safe rendering of an offending value for a message."""
    if value is _MISSING:
        return "missing"
    if value is None:
        return "null"
    text = quoted(value)  # bounded: a value nested a thousand levels has no plain repr
    return text if len(text) <= 60 else text[:57] + "…"
