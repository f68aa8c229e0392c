"""Box sets of several answers to one question: matched by IoU, voted, averaged.

Ground Truth consolidates the boxes of several workers the same way (fact sheet §9.2): boxes
of the same class that overlap enough (intersection over union at least ``--iou``) are one
object; an object is kept when a quorum of the answers drew it, at the mean of its boxes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from gtmerge.consolidate.config import Consolidation
from gtmerge.consolidate.policies import latest, tie_reason
from gtmerge.model import Box, BoxSet, ImageSize


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when either has no area)."""
    width = min(a.left + a.width, b.left + b.width) - max(a.left, b.left)
    height = min(a.top + a.height, b.top + b.height) - max(a.top, b.top)
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


@dataclass
class _Object:
    """Boxes of different answers taken for the same object: (answer index, box)."""

    members: list[tuple[int, Box]] = field(default_factory=list)

    @property
    def first(self) -> Box:
        return self.members[0][1]

    def mean(self) -> Box:
        boxes = [box for _, box in self.members]
        if len(boxes) == 1:
            return boxes[0]
        return Box(
            boxes[0].class_name,
            _mean([b.left for b in boxes]),
            _mean([b.top for b in boxes]),
            _mean([b.width for b in boxes]),
            _mean([b.height for b in boxes]),
            _mean([b.confidence for b in boxes]),
        )


def match(box_sets: Sequence[BoxSet], threshold: float) -> list[_Object]:
    """Group the boxes of the answers into objects, greedily in input order: each box joins
    the object of its class, not yet drawn by its own answer, whose first box it overlaps
    most (IoU at least ``threshold``), or starts a new one."""
    objects: list[_Object] = []
    for index, box_set in enumerate(box_sets):
        for box in box_set.boxes:
            best, best_iou = None, threshold
            for candidate in objects:
                first = candidate.first
                if first.class_name != box.class_name:
                    continue
                if any(member == index for member, _ in candidate.members):
                    continue
                overlap = iou(first, box)
                if overlap >= best_iou and (best is None or overlap > best_iou):
                    best, best_iou = candidate, overlap
            if best is None:
                objects.append(_Object([(index, box)]))
            else:
                best.members.append((index, box))
    return objects


def scaled(box_set: BoxSet, size: ImageSize) -> BoxSet:
    """``box_set`` with its boxes in the coordinates of an image of ``size``: answers drawn on
    the image at another size are compared and averaged at the same scale."""
    own = box_set.image_size
    if (own.width, own.height) == (size.width, size.height):
        return box_set
    x, y = size.width / own.width, size.height / own.height
    boxes = tuple(
        b._replace(
            left=_times(b.left, x),
            top=_times(b.top, y),
            width=_times(b.width, x),
            height=_times(b.height, y),
        )
        for b in box_set.boxes
    )
    return box_set._replace(image_size=size, boxes=boxes)


def _times(value: float, factor: float) -> float:
    """``value * factor``, an integer when ``value`` was one and the product is one."""
    product = value * factor
    return int(product) if type(value) is int and product.is_integer() else product


def same(box_sets: Sequence[BoxSet]) -> bool:
    """Whether every answer drew exactly the same boxes (classes and coordinates, in any
    order): anything else is a difference the conflicts file shows."""
    first = sorted(_drawn(box_sets[0]))
    return all(sorted(_drawn(box_set)) == first for box_set in box_sets[1:])


def agree(box_sets: Sequence[BoxSet], threshold: float) -> bool:
    """Whether the answers drew the same objects, each matched in every answer by IoU (how
    two annotators agree: nobody draws the same box twice to the pixel)."""
    size = box_sets[0].image_size
    sets = [scaled(box_set, size) for box_set in box_sets]
    return all(len(o.members) == len(sets) for o in match(sets, threshold))


def _drawn(box_set: BoxSet) -> list[tuple[str, float, float, float, float]]:
    return [(b.class_name, b.left, b.top, b.width, b.height) for b in box_set.boxes]


@dataclass(frozen=True)
class BoxVote:
    """The consolidated box set (None when no object reached the quorum), its reason, and the
    number of boxes left out (``tied`` of them in objects that tied)."""

    box_set: BoxSet | None
    reason: str
    dropped: int
    tied: int = 0


def vote(box_sets: Sequence[BoxSet], config: Consolidation) -> BoxVote:
    """Keep each object that a quorum of the answers drew, at the mean of its boxes.

    Under the default quorum (more than half), an object drawn by exactly half the answers is
    a tie: ``--tie first|latest`` keep it when the first (latest) answer drew it. The set keeps
    the image size and provenance of the first answer (the others are scaled to its size).
    """
    box_sets = [scaled(box_set, box_sets[0].image_size) for box_set in box_sets]
    count = len(box_sets)
    required = config.required_votes(count)
    deciding = 0 if config.tie == "first" else latest([b.answer for b in box_sets])
    kept: list[Box] = []
    dropped = tied = objects = 0
    ties = False
    for candidate in match(box_sets, config.iou):
        objects += 1
        votes = len(candidate.members)
        tie = config.quorum is None and 2 * votes == count
        drawn_by_deciding = any(index == deciding for index, _ in candidate.members)
        ties = ties or tie
        if votes >= required or (tie and config.tie != "drop" and drawn_by_deciding):
            kept.append(candidate.mean())
        else:
            dropped += votes
            tied += votes if tie else 0
    reason = (
        f"IoU {config.iou}: kept {len(kept)} of {objects} objects, "
        f"a quorum is {required} of {count} answers"
    )
    if ties:
        reason += f", ties: {tie_reason(config.tie)}"
    if not kept:
        return BoxVote(None, reason, dropped, tied)
    first = box_sets[0]
    return BoxVote(
        BoxSet(
            first.image_size,
            tuple(kept),
            first.human_annotated,
            first.creation_date,
            first.job_name,
            first.attribute,
        ),
        reason,
        dropped,
        tied,
    )


def _mean(values: list[float]) -> float:
    """The mean, as an integer when it is one and every value was (pixel boxes stay ints)."""
    mean = sum(values) / len(values)
    if all(type(v) is int for v in values) and mean.is_integer():
        return int(mean)
    return mean
