"""Iterative stratification (Sechidis, Tsoumakas and Vlahavas, ECML PKDD 2011) into two sides.

Written here, in pure Python, rather than taken from ``iterative-stratification``: that package
needs numpy, scipy and scikit-learn (over 100 MB) for a loop of about sixty lines, and its
k-fold interface neither takes groups, nor pre-placed items, nor a seed that breaks ties
without shuffling. The loop below places 250,000 images over 250 classes in about a second.

An *item* is what must stay on one side: an image, or a group of images (the same video,
scene or capture session). Its label counts are the number of its images that carry each
class. Each side wants its share of every class (``fraction`` of it for test) and of all
images. Classes are taken rarest first (fewest images still unplaced); every unplaced item
that carries the class, largest first, goes to the side that still wants the most of that
class, ties to the side that still wants the most images overall, then by the item's seeded
hash. For a group, "wants the most" is "whose demand it meets best" (the side where adding its
images leaves the smallest gap to the target): a group of 20 images does not go to a side that
wants 3, which keeps classes of grouped data on target too. For one image the two rules are
the same. Items with no class at all are placed last, by the overall demand alone.

A class on two or more images wants at least one image on each side, so that rare classes are
both trained on and tested; a class on one image goes to training before anything else is
placed (with the item that carries it), as Rekognition needs every label to have a training
image: when that item holds the only image another class could have had in test, that class
has none there, and the split says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

TRAIN, TEST = 0, 1
#: An item's label counts: class index → images of the item that carry it.
Counts = Mapping[int, int]


def class_targets(total: int, fraction: float) -> tuple[float, float]:
    """(training, test) images a class on ``total`` images should have."""
    if total < 2:
        return float(total), 0.0
    test = min(max(fraction * total, 1.0), total - 1.0)
    return total - test, test


def stratify(
    counts: Sequence[Counts],
    sizes: Sequence[int],
    ties: Sequence[int],
    fraction: float,
    placed: Mapping[int, int],
) -> list[int]:
    """The side (TRAIN or TEST) of every item.

    ``sizes`` are the items' image counts, ``ties`` their seeded hashes, ``placed`` the items
    whose side is already decided (``--keep``): they count toward the demands, and stay.
    """
    totals: dict[int, int] = {}
    for item_counts in counts:
        for label, n in item_counts.items():
            totals[label] = totals.get(label, 0) + n
    demand = {label: list(class_targets(n, fraction)) for label, n in totals.items()}
    images = sum(sizes)
    overall = [(1 - fraction) * images, fraction * images]
    sides = [-1] * len(counts)
    remaining = dict(totals)

    def place(item: int, side: int) -> None:
        sides[item] = side
        overall[side] -= sizes[item]
        for label, n in counts[item].items():
            demand[label][side] -= n
            remaining[label] -= n

    for item, side in sorted(placed.items()):
        place(item, side)
    # Before any demand is met: a class placed earlier can leave its last item, which may also
    # carry a class on one image, to the test side, and that class would have no training image.
    for item, item_counts in enumerate(counts):
        if sides[item] == -1 and any(totals[label] == 1 for label in item_counts):
            place(item, TRAIN)
    carriers: dict[int, list[int]] = {label: [] for label in totals}
    order = sorted(range(len(counts)), key=lambda i: (ties[i], i))
    for item in sorted(order, key=lambda i: -sizes[i]):  # stable: by hash within a size
        for label in counts[item]:
            carriers[label].append(item)
    while True:
        left = [(n, label) for label, n in remaining.items() if n > 0]
        if not left:
            break
        _, label = min(left)
        wanted = demand[label]
        for item in carriers[label]:
            if sides[item] != -1:
                continue
            place(item, _by_demand(wanted, counts[item][label], overall, ties[item]))
    for item in order:
        if sides[item] == -1:
            place(item, _by_overall(overall, ties[item]))
    _fill_empty_sides(counts, sides, totals, carriers, sizes, ties, placed)
    return sides


def tolerance(total: int) -> float:
    """How far from its target a class on ``total`` images may be: ±1 image or ±2 % of it,
    whichever is larger (the issue's accuracy target)."""
    return max(1.0, 0.02 * total)


def _fill_empty_sides(
    counts: Sequence[Counts],
    sides: list[int],
    totals: dict[int, int],
    carriers: dict[int, list[int]],
    sizes: Sequence[int],
    ties: Sequence[int],
    placed: Mapping[int, int],
) -> None:
    """On a small dataset, the demands can leave a class on two or more images with none on
    one side. Rarest class first, move the smallest item that carries it across, if no class
    of that item then loses the last image it needs on the side the item leaves."""
    on_side = {label: [0, 0] for label in totals}
    for item, item_counts in enumerate(counts):
        for label, n in item_counts.items():
            on_side[label][sides[item]] += n
    for label in sorted(totals, key=lambda lb: (totals[lb], lb)):
        if totals[label] < 2:
            continue
        for empty in (TEST, TRAIN):
            if on_side[label][empty]:
                continue
            full = 1 - empty
            movable = [
                item
                for item in carriers[label]
                if item not in placed
                and all(
                    on_side[other][full] > n or not needs(totals[other], full)
                    for other, n in counts[item].items()
                )
            ]
            if not movable:
                continue
            item = min(movable, key=lambda i: (sizes[i], ties[i], i))
            sides[item] = empty
            for other, n in counts[item].items():
                on_side[other][full] -= n
                on_side[other][empty] += n


def _by_demand(wanted: list[float], count: int, overall: list[float], tie: int) -> int:
    """The side an item with ``count`` images of the class goes to: the one whose demand for
    the class it meets best (for one image: the larger demand), then by overall demand."""
    misses = [abs(wanted[side] - count) - abs(wanted[side]) for side in (TRAIN, TEST)]
    if misses[TRAIN] != misses[TEST]:
        return TRAIN if misses[TRAIN] < misses[TEST] else TEST
    if wanted[TRAIN] != wanted[TEST]:
        return TRAIN if wanted[TRAIN] > wanted[TEST] else TEST
    return _by_overall(overall, tie)


def _by_overall(overall: list[float], tie: int) -> int:
    if overall[TRAIN] != overall[TEST]:
        return TRAIN if overall[TRAIN] > overall[TEST] else TEST
    return tie & 1


def needs(total: int, side: int) -> bool:
    """Whether a class on ``total`` images needs one on ``side`` (see :func:`class_targets`)."""
    return total >= 2 or side == TRAIN
