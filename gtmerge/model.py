"""The canonical model every reader produces and every writer consumes.

An image is identified by its normalised S3 key (see :mod:`gtmerge.keys`). Its labels are
image-level classes; its box sets are object-detection annotations, one set per labeling job.
Everything here is a small immutable value, so records can be compared, hashed and deduplicated.
They are named tuples rather than frozen dataclasses: a merge builds and hashes millions of
them, and a named tuple is built four times and hashed three times as fast (its fields are set
and hashed in C, a frozen dataclass's through ``object.__setattr__`` and Python code).

Every label and box set remembers where it came from: the label attribute that held it (the
*question* it answers) and the job and date that answered it. Those three make an
:data:`AnswerKey`: a chained job copies its input's attributes verbatim, so the same key seen in
two outputs is one answer, never two votes (fact sheet §9.1).
"""

from __future__ import annotations

from typing import NamedTuple

#: (label attribute, job-name, creation-date): one job's answer to one question.
AnswerKey = tuple[str, str | None, str]


class Label(NamedTuple):
    """One image-level class, with the Ground Truth metadata Rekognition requires."""

    name: str
    confidence: float
    human_annotated: bool
    creation_date: str
    job_name: str | None = None
    attribute: str = ""
    multilabel: bool = False

    @property
    def answer(self) -> AnswerKey:
        return (self.attribute, self.job_name, self.creation_date)


class ImageSize(NamedTuple):
    width: int
    height: int
    depth: int = 3


class Box(NamedTuple):
    """One bounding box in pixels, measured from the top-left corner of the image."""

    class_name: str
    left: float
    top: float
    width: float
    height: float
    confidence: float = 1.0


class BoxSet(NamedTuple):
    """The boxes one labeling job drew on one image."""

    image_size: ImageSize
    boxes: tuple[Box, ...]
    human_annotated: bool
    creation_date: str
    job_name: str | None = None
    attribute: str = ""

    @property
    def answer(self) -> AnswerKey:
        return (self.attribute, self.job_name, self.creation_date)

    @property
    def geometry(self) -> tuple[ImageSize, tuple[tuple[str, float, float, float, float], ...]]:
        """What makes two box sets the same annotation: size, classes and coordinates.

        Confidences and job metadata are left out on purpose: a chained job copies its input's
        box set verbatim, and the same boxes exported twice are still one annotation.
        """
        # a list comprehension: this runs several times for every box set a merge sees
        boxes = [(b.class_name, b.left, b.top, b.width, b.height) for b in self.boxes]
        return (self.image_size, tuple(boxes))


class ImageRecord(NamedTuple):
    """What one input record says about one image.

    ``superseded`` lists box sets that an adjustment job replaced: they are dropped wherever
    they appear for this image, in this record or in any other input. ``blank_answers`` are
    answers that chose no class (an empty multi-label selection): they still count as answers
    when votes are counted. ``verdicts`` are the label-verification answers of the record.
    """

    key: str
    labels: tuple[Label, ...] = ()
    box_sets: tuple[BoxSet, ...] = ()
    superseded: tuple[BoxSet, ...] = ()
    blank_answers: tuple[AnswerKey, ...] = ()
    verdicts: tuple[Verdict, ...] = ()


class Verdict(NamedTuple):
    """A label-verification answer about a whole image: never written as a label.

    ``target`` is the answer it verified, found in the same line (None when verdicts are only
    counted, or the line's reader cannot tell).
    """

    verdict: str
    job_name: str | None = None
    attribute: str = ""
    creation_date: str = ""
    target: AnswerKey | None = None
