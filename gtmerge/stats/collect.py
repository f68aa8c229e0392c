"""Read a manifest (and its test manifest) once into the numbers the table and the page show.

Every line goes through the validator too, so the labels counted are those Rekognition would
import, and the rules each side breaks come with Rekognition's codes.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from gtmerge.labels import line_labels
from gtmerge.rekognition import DETECTION
from gtmerge.s3 import S3, describe_error
from gtmerge.sources import InputError, Source, expand, open_source
from gtmerge.validate import Finding, ManifestValidator
from gtmerge.validate.lines import Pairs, line_pairs
from gtmerge.validate.run import _READ_ERRORS, _compare

_FINDINGS_KEPT = 100
#: Box sizes are counted in bins of this width of sqrt(box area / image area).
SIZE_BINS = 10


@dataclass
class SideStats:
    """One manifest: a training or a test dataset."""

    manifest: str
    dataset: str
    images: int = 0
    labels: int = 0
    boxes: int = 0
    class_images: Counter[str] = field(default_factory=Counter)
    class_boxes: Counter[str] = field(default_factory=Counter)
    #: Distinct classes on an image → images.
    labels_per_image: Counter[int] = field(default_factory=Counter)
    #: Bin (0 to SIZE_BINS - 1) of a box's side relative to the image's → boxes.
    box_sizes: Counter[int] = field(default_factory=Counter)
    use_case: str = ""
    #: What the validator found (at most _FINDINGS_KEPT of each code), and how often.
    findings: list[Finding] = field(default_factory=list)
    findings_by_code: dict[str, int] = field(default_factory=dict)

    @property
    def classes(self) -> int:
        return len(self.class_images)

    def to_dict(self) -> dict[str, Any]:
        return {
            "manifest": self.manifest,
            "dataset": self.dataset,
            "use_case": self.use_case,
            "images": self.images,
            "labels": self.labels,
            "boxes": self.boxes,
            "classes": self.classes,
            "images_per_class": dict(sorted(self.class_images.items())),
            "boxes_per_class": dict(sorted(self.class_boxes.items())),
            "labels_per_image": {str(k): v for k, v in sorted(self.labels_per_image.items())},
            "box_sizes": {size_bin_name(k): self.box_sizes[k] for k in range(SIZE_BINS)},
            "findings_by_code": self.findings_by_code,
        }


@dataclass
class DatasetStats:
    """A training manifest, its test manifest if given, and the merge report if given."""

    sides: list[SideStats]
    pair_findings: list[Finding] = field(default_factory=list)
    merge_report: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "sides": [side.to_dict() for side in self.sides],
            "pair": [f.as_dict() for f in self.pair_findings],
        }


def size_bin_name(index: int) -> str:
    step = 100 // SIZE_BINS
    return f"{index * step}-{(index + 1) * step}%"


def collect(
    manifest: str, test: str | None, merge_report: dict[str, Any] | None, s3: S3
) -> DatasetStats:
    """Read ``manifest`` (and ``test``); raise :class:`InputError` if one cannot be read."""
    specs = [(manifest, "training"), *([(test, "test")] if test is not None else [])]
    validators: list[ManifestValidator] = []
    sides: list[SideStats] = []
    for spec, dataset in specs:
        side = SideStats(spec, dataset)
        validator = ManifestValidator(manifest=spec, max_findings=_FINDINGS_KEPT)
        pairing: dict[tuple[str, ...], Pairs] = {}
        for source in expand(spec, s3):
            for line in _read(source, s3, validator):
                _count(side, line, pairing)
        result = validator.finish()
        side.use_case = result.summary["use_case"]
        side.findings = result.errors + result.warnings
        side.findings_by_code = result.summary["findings_by_code"]
        validators.append(validator)
        sides.append(side)
    pair = _compare(validators[0], validators[1]) if test is not None else []
    return DatasetStats(sides, pair, merge_report)


def _read(source: Source, s3: S3, validator: ManifestValidator) -> Iterator[bytes]:
    """The lines of ``source`` that may hold an image, each fed to ``validator`` first, as
    ``gtmerge validate`` reads them."""
    try:
        with open_source(source, s3) as stream:
            yield from validator.feed_stream(stream)
    except _READ_ERRORS as exc:
        raise InputError(f"{source.name}: {describe_error(exc)}") from exc


def _count(side: SideStats, line: bytes, pairing: dict[tuple[str, ...], Pairs]) -> None:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return
    if type(record) is not dict or type(record.get("source-ref")) is not str:
        return
    side.images += 1
    class_names, object_names = line_labels(record, pairing)
    side.labels += len(class_names)
    side.boxes += len(object_names)
    side.class_images.update(set(class_names) | set(object_names))
    side.class_boxes.update(object_names)
    side.labels_per_image[len(set(class_names) | set(object_names))] += 1
    if object_names:
        for value in _box_values(record, pairing):
            _count_sizes(side.box_sizes, value)


def _box_values(record: dict[str, Any], pairing: dict[tuple[str, ...], Pairs]) -> list[Any]:
    return [
        record[key]
        for key, metadata_key in line_pairs(record, pairing)
        if type(record[metadata_key]) is dict and record[metadata_key].get("type") == DETECTION
    ]


def _count_sizes(bins: Counter[int], value: Any) -> None:
    try:
        size = value["image_size"][0]
        area = float(size["width"]) * float(size["height"])
        for box in value["annotations"]:
            ratio = math.sqrt(max(float(box["width"]) * float(box["height"]), 0.0) / area)
            bins[min(int(ratio * SIZE_BINS), SIZE_BINS - 1)] += 1
    except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError):
        return
