"""The canonical model every reader produces and every writer consumes.

An image is identified by its normalised S3 key (see :mod:`gtmerge.keys`). Its labels are
image-level classes; its box sets are object-detection annotations, one set per labeling job.
Everything here is a small frozen value, so records can be compared, hashed and deduplicated.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Label:
    """One image-level class, with the Ground Truth metadata Rekognition requires."""

    name: str
    confidence: float
    human_annotated: bool
    creation_date: str
    job_name: str | None = None


@dataclass(frozen=True, slots=True)
class ImageSize:
    width: int
    height: int
    depth: int = 3


@dataclass(frozen=True, slots=True)
class Box:
    """One bounding box in pixels, measured from the top-left corner of the image."""

    class_name: str
    left: float
    top: float
    width: float
    height: float
    confidence: float = 1.0


@dataclass(frozen=True, slots=True)
class BoxSet:
    """The boxes one labeling job drew on one image."""

    image_size: ImageSize
    boxes: tuple[Box, ...]
    human_annotated: bool
    creation_date: str
    job_name: str | None = None

    @property
    def geometry(self) -> tuple[ImageSize, tuple[tuple[str, float, float, float, float], ...]]:
        """What makes two box sets the same annotation: size, classes and coordinates.

        Confidences and job metadata are left out on purpose: a chained job copies its input's
        box set verbatim, and the same boxes exported twice are still one annotation.
        """
        # a list comprehension: this runs several times for every box set a merge sees
        boxes = [(b.class_name, b.left, b.top, b.width, b.height) for b in self.boxes]
        return (self.image_size, tuple(boxes))


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """What one input record says about one image.

    ``superseded`` lists box sets that an adjustment job replaced: they are dropped wherever
    they appear for this image, in this record or in any other input.
    """

    key: str
    labels: tuple[Label, ...] = ()
    box_sets: tuple[BoxSet, ...] = ()
    superseded: tuple[BoxSet, ...] = ()


@dataclass(frozen=True, slots=True)
class Verdict:
    """A label-verification answer: counted in the report, never written as a label."""

    verdict: str
    job_name: str | None = None
