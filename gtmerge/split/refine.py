"""Swaps that bring classes the stratification left off target back toward it.

Placing the rarest classes first can leave a later class off target when most of its images
were already placed for other classes; on a small dataset, giving every class an image on
each side can push one class far over its share (twenty images, eight classes). Each round
looks at the classes more than one image off target, and swaps the one test item and one
training item (from those carrying such classes, at most _CANDIDATES of each, in hash order)
whose exchange lowers the total distance of all classes (and of the image count) to their
targets the most, never taking from a side the last image of a class that needs one there.
A swap keeps the image count for single images, and rounds stop when nothing improves.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence

from gtmerge.split.stratify import TEST, TRAIN, Counts, class_targets, needs

_CANDIDATES = 64
_ROUNDS = 200
_MIN_GAIN = 1e-9


def refine(
    counts: Sequence[Counts],
    sides: list[int],
    sizes: Sequence[int],
    ties: Sequence[int],
    fraction: float,
    placed: Mapping[int, int],
) -> None:
    """Improve ``sides`` (as :func:`~gtmerge.split.stratify.stratify` takes its arguments) in
    place; ``placed`` items stay where they are."""
    order = sorted(range(len(counts)), key=lambda i: (ties[i], i))
    carriers: dict[int, list[int]] = {}
    for item in order:
        for label in counts[item]:
            carriers.setdefault(label, []).append(item)
    totals: dict[int, int] = {}
    tested: dict[int, int] = {}
    for item, item_counts in enumerate(counts):
        for label, n in item_counts.items():
            totals[label] = totals.get(label, 0) + n
            tested[label] = tested.get(label, 0) + (n if sides[item] == TEST else 0)
    target = {label: class_targets(n, fraction)[TEST] for label, n in totals.items()}
    test_images = sum(size for size, side in zip(sizes, sides, strict=True) if side == TEST)
    goal = fraction * sum(sizes)

    def candidates(side: int, labels: list[int]) -> list[int]:
        pool: Iterator[int] = itertools.chain(
            (item for label in labels for item in carriers[label]), order
        )
        chosen = (item for item in pool if sides[item] == side and item not in placed)
        return list(dict.fromkeys(itertools.islice(chosen, 2 * _CANDIDATES)))[:_CANDIDATES]

    def gain(out: int, into: int) -> float:
        change: dict[int, int] = {}
        for label, n in counts[out].items():
            change[label] = change.get(label, 0) - n
        for label, n in counts[into].items():
            change[label] = change.get(label, 0) + n
        total = 0.0
        for label, delta in change.items():
            after = tested[label] + delta
            if (after < 1 and needs(totals[label], TEST)) or (
                totals[label] - after < 1 and needs(totals[label], TRAIN)
            ):
                return 0.0
            total += abs(tested[label] - target[label]) - abs(after - target[label])
        images = test_images - sizes[out] + sizes[into]
        return total + abs(test_images - goal) - abs(images - goal)

    for _ in range(_ROUNDS):
        off = [label for label in totals if abs(tested[label] - target[label]) > 1]
        if not off:
            return
        over = [label for label in off if tested[label] > target[label]]
        under = [label for label in off if tested[label] < target[label]]
        best, pair = _MIN_GAIN, (-1, -1)
        for out in candidates(TEST, over):
            for into in candidates(TRAIN, under):
                found = gain(out, into)
                if found > best:
                    best, pair = found, (out, into)
        if pair == (-1, -1):
            return
        out, into = pair
        sides[out], sides[into] = TRAIN, TEST
        test_images += sizes[into] - sizes[out]
        for label, n in counts[out].items():
            tested[label] -= n
        for label, n in counts[into].items():
            tested[label] += n
