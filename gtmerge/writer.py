"""Canonical images → Rekognition Custom Labels JSON lines (fact sheet §1 and §2).

Every label becomes its own single-label classification attribute ``<name>N`` with value ``N``
and ``<name>N-metadata`` (multi-label input included: Rekognition rejects the multi-label type).
Every box set becomes an object-detection attribute ``<box-name>N`` the same way, with class
ids assigned in order of first appearance within the set. Key order is fixed, so the same
images always give the same bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from gtmerge import rekognition
from gtmerge.model import BoxSet, ImageRecord, Label

DEFAULT_LABEL_ATTRIBUTE = "label"
DEFAULT_BOX_ATTRIBUTE = "bounding-box"
_DIGITS = re.compile("[0-9]+")


@dataclass(frozen=True)
class ManifestFormat:
    """Attribute base names of the written manifest."""

    label_attribute: str = DEFAULT_LABEL_ATTRIBUTE
    box_attribute: str = DEFAULT_BOX_ATTRIBUTE

    def __post_init__(self) -> None:
        for name in (self.label_attribute, self.box_attribute):
            if not name or name == "source-ref" or name.startswith("$"):
                raise ValueError(f"{name!r} cannot be a label attribute name")
        if self.label_attribute == self.box_attribute:
            raise ValueError("label and bounding-box attribute names must differ")
        # Numbered forms collide when one base is the other followed by digits: label "a" and
        # box "a1" both write "a10", and the box set would silently replace the label.
        short, long = sorted((self.label_attribute, self.box_attribute), key=len)
        if long.startswith(short) and _DIGITS.fullmatch(long[len(short) :]):
            raise ValueError(
                f"attribute names {self.label_attribute!r} and {self.box_attribute!r} would "
                f"collide: both number an attribute {long + '0'!r}"
            )

    def render(self, image: ImageRecord) -> bytes:
        """One compact JSON line, newline included; non-ASCII written as UTF-8."""
        line: dict[str, Any] = {"source-ref": image.key}
        for index, label in enumerate(image.labels):
            name = f"{self.label_attribute}{index}"
            line[name] = index
            line[f"{name}-metadata"] = _label_metadata(label)
        for index, box_set in enumerate(image.box_sets):
            name = f"{self.box_attribute}{index}"
            value, metadata = _box_attribute(box_set)
            line[name] = value
            line[f"{name}-metadata"] = metadata
        return orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE)


def _label_metadata(label: Label) -> dict[str, Any]:
    metadata: dict[str, Any] = {"confidence": label.confidence}
    if label.job_name is not None:
        metadata["job-name"] = label.job_name
    metadata["class-name"] = label.name
    metadata["human-annotated"] = "yes" if label.human_annotated else "no"
    metadata["creation-date"] = label.creation_date
    metadata["type"] = rekognition.CLASSIFICATION
    return metadata


def _box_attribute(box_set: BoxSet) -> tuple[dict[str, Any], dict[str, Any]]:
    class_ids: dict[str, int] = {}
    annotations = []
    for box in box_set.boxes:
        class_id = class_ids.setdefault(box.class_name, len(class_ids))
        annotations.append(
            {
                "class_id": class_id,
                "top": box.top,
                "left": box.left,
                "width": box.width,
                "height": box.height,
            }
        )
    size = box_set.image_size
    value = {
        "image_size": [{"width": size.width, "height": size.height, "depth": size.depth}],
        "annotations": annotations,
    }
    metadata: dict[str, Any] = {
        "objects": [{"confidence": box.confidence} for box in box_set.boxes],
        "class-map": {str(class_id): name for name, class_id in class_ids.items()},
        "type": rekognition.DETECTION,
        "human-annotated": "yes" if box_set.human_annotated else "no",
        "creation-date": box_set.creation_date,
    }
    if box_set.job_name is not None:
        metadata["job-name"] = box_set.job_name
    return value, metadata
