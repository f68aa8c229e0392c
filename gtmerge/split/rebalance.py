"""Moves and swaps of whole groups that bring classes back within their tolerance.

Stratification places a group as one item, so a class whose images sit in a few large groups
can end several images off its share, and the one-for-one swaps of :mod:`refine` cannot fix
it when no pair of groups differs by the right amount. This step works on the classes still
outside their tolerance (:func:`~gtmerge.split.stratify.tolerance`), worst first. For each,
it tries moving one group that carries the class across, swapping such a group with one
from the other side, and exchanging two groups of one side for one of the other, and takes
the change that lowers the cost the most (failing that, a change that fixes the class
followed by one that gives back the class it pushed off, then several of its groups moved at
once: see ``step`` and ``repack``). A class whose groups allow no test count of one or more
within its tolerance, while none is within it, aims at none (the tolerance, which the issue
sets, wins over an image on each side). With r a class's
deviation divided by its tolerance, the cost is the sum over classes, and over the test image
count as one more class, of

    r² + _OUTSIDE * max(|r| - 1, 0)²

Squares make one class far off cost more than several slightly off; dividing by the
tolerance weighs a class by how much room it has; the second term makes leaving the tolerance
dear, so a class inside it yields room to one outside. Only improvements are taken, so it
ends; a class with none is left for the pass, and passes stop when one changes nothing, after
_PASSES, or after _STEPS_PER_CLASS steps per class in all. Candidates are bounded (_SCAN
groups looked at, the best _CANDIDATES of each side paired) and taken in the seeded-hash order
of the groups, so it stays fast and deterministic. It never takes from a side the last image
a class needs there.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence

from gtmerge.split.reach import nearest_reachable
from gtmerge.split.stratify import TEST, TRAIN, Counts, class_targets, needs, tolerance

_CANDIDATES = 16
_SCAN = 128
_PASSES = 4
_STEPS_PER_CLASS = 20
_CHAINS = 4
_TRIPLES = 8
_REPACK = 8
_REPACK_MOST = 6
_FOLLOW_UPS = 4
_MIN_GAIN = 1e-9
_FORBIDDEN = float("inf")
_OUTSIDE = 10


def _penalty(gap: float, scale: float) -> float:
    """The cost of a class ``gap`` images off its target (``scale``: 1 / tolerance²)."""
    ratio = gap * gap * scale
    return ratio + _OUTSIDE * max(math.sqrt(ratio) - 1, 0.0) ** 2


def _unique(items: Iterable[int]) -> Iterator[int]:
    """``items`` without repeats, lazily (a pool may run through every group)."""
    seen: set[int] = set()
    for item in items:
        if item not in seen:
            seen.add(item)
            yield item


class _Balance:
    """Test images per class and in all, against their targets; the cost of a change.

    A class whose groups allow no test count within its tolerance aims at the closest count
    they allow instead, so that it neither counts as off once there nor pulls other classes
    off their targets for a count it cannot reach."""

    def __init__(
        self,
        counts: Sequence[Counts],
        sides: Sequence[int],
        sizes: Sequence[int],
        fraction: float,
        placed: Mapping[int, int],
    ) -> None:
        self.totals: dict[int, int] = {}
        self.tested: dict[int, int] = {}
        fixed: dict[int, int] = {}
        free: dict[int, list[int]] = {}
        for item, (item_counts, side) in enumerate(zip(counts, sides, strict=True)):
            for label, n in item_counts.items():
                self.totals[label] = self.totals.get(label, 0) + n
                self.tested[label] = self.tested.get(label, 0) + (n if side == TEST else 0)
                if item in placed:
                    fixed[label] = fixed.get(label, 0) + (n if side == TEST else 0)
                else:
                    free.setdefault(label, []).append(n)
        self.target: dict[int, float] = {}
        #: classes that may have no test image: their groups allow no count of one or more
        #: within their tolerance, and none is within it
        self.may_leave_test: set[int] = set()
        for label, total in self.totals.items():
            target = class_targets(total, fraction)[TEST]
            in_test, groups = fixed.get(label, 0), free.get(label, [])
            least = int(needs(total, TEST))
            reachable = nearest_reachable(in_test, groups, target, least, total - 1)
            share, spread = fraction * total, tolerance(total)
            if (
                least
                and not in_test
                and share <= spread
                and (reachable is None or abs(reachable - share) > spread)
            ):
                target = 0.0
                self.may_leave_test.add(label)
            elif reachable is not None and abs(reachable - target) > spread:
                target = reachable
            self.target[label] = target
        self.scale = {label: tolerance(n) ** -2 for label, n in self.totals.items()}
        images = sum(sizes)
        self.test_images = sum(
            size for size, side in zip(sizes, sides, strict=True) if side == TEST
        )
        self.image_target = fraction * images
        self.image_scale = tolerance(images) ** -2

    def deviation(self, label: int) -> float:
        return self.tested[label] - self.target[label]

    def within(self, label: int, gained: int) -> bool:
        """Whether ``label`` is within its tolerance after ``gained`` more test images."""
        return (self.deviation(label) + gained) ** 2 * self.scale[label] <= 1

    def off(self) -> list[int]:
        """The classes outside their tolerance, worst (relative to it) first."""
        ratios = {label: self.deviation(label) ** 2 * self.scale[label] for label in self.totals}
        return sorted((lb for lb, r in ratios.items() if r > 1), key=lambda lb: (-ratios[lb], lb))

    def cost(self, change: Mapping[int, int], images: int) -> float:
        """How much the cost grows when ``change`` (class → test images gained) and ``images``
        (test images gained) are applied; _FORBIDDEN if a side loses the last image of a class
        that needs one there."""
        total = 0.0
        for label, n in change.items():
            if not n:
                continue
            before = self.tested[label]
            after = before + n
            all_images = self.totals[label]
            if (
                after < 1 <= before and needs(all_images, TEST) and label not in self.may_leave_test
            ) or (all_images - after < 1 <= all_images - before):
                return _FORBIDDEN
            gap = before - self.target[label]
            total += _penalty(gap + n, self.scale[label]) - _penalty(gap, self.scale[label])
        gap = self.test_images - self.image_target
        return total + _penalty(gap + images, self.image_scale) - _penalty(gap, self.image_scale)

    def apply(self, change: Mapping[int, int], images: int) -> None:
        for label, n in change.items():
            self.tested[label] += n
        self.test_images += images


def rebalance(
    counts: Sequence[Counts],
    sides: list[int],
    sizes: Sequence[int],
    ties: Sequence[int],
    fraction: float,
    placed: Mapping[int, int],
) -> None:
    """Improve ``sides`` (as :func:`~gtmerge.split.stratify.stratify` takes its arguments) in
    place; ``placed`` items stay where they are."""
    order = [i for i in sorted(range(len(counts)), key=lambda i: (ties[i], i)) if i not in placed]
    balance = _Balance(counts, sides, sizes, fraction, placed)
    carriers: dict[int, list[int]] = {label: [] for label in balance.totals}
    for item in order:
        for label in counts[item]:
            carriers[label].append(item)

    def change_of(items: Iterable[int]) -> tuple[dict[int, int], int]:
        """Class → test images gained, and test images gained, moving ``items`` across."""
        change: dict[int, int] = {}
        images = 0
        for item in items:
            sign = -1 if sides[item] == TEST else 1
            images += sign * sizes[item]
            for label, n in counts[item].items():
                change[label] = change.get(label, 0) + sign * n
        return change, images

    def best(pool: Iterable[int], side: int, skip: int) -> list[int]:
        """The _CANDIDATES items of ``side`` among the first _SCAN of ``pool`` whose move alone
        helps the classes other than ``skip`` most (the image count is left to the pairing)."""
        scanned = itertools.islice(_unique(item for item in pool if sides[item] == side), _SCAN)
        scored = []
        for item in scanned:
            change, _ = change_of((item,))
            change.pop(skip, None)
            scored.append((balance.cost(change, 0), item))
        scored.sort(key=lambda scored_item: scored_item[0])  # stable: ties in pool order
        return [item for cost, item in scored[:_CANDIDATES] if cost != _FORBIDDEN]

    def options(label: int) -> list[tuple[float, tuple[int, ...]]]:
        """The moves and swaps tried for ``label``, cheapest first (none that is forbidden)."""
        over = TEST if balance.deviation(label) > 0 else TRAIN
        outs = best(carriers[label], over, -1)
        short = [
            lb
            for lb in balance.totals
            if (balance.deviation(lb) < 0) == (over == TEST) and lb != label
        ]
        short.sort(key=lambda lb: -(balance.deviation(lb) ** 2) * balance.scale[lb])
        # Its own carriers on the other side: a swap of two of them moves the difference.
        ins = best(carriers[label], 1 - over, label)
        pool = itertools.chain((item for lb in short for item in carriers[lb]), order)
        ins += [item for item in best(pool, 1 - over, label) if item not in ins]
        # Three groups, from the fewest candidates: the difference the class needs may be
        # made only by two groups of one side against one of the other.
        few_outs, few_ins = outs[:_TRIPLES], ins[:_TRIPLES]
        moves = itertools.chain(
            ((out,) for out in outs),
            ((out, into) for out in outs for into in ins),
            ((*pair, into) for pair in itertools.combinations(few_outs, 2) for into in ins),
            ((out, *pair) for out in outs for pair in itertools.combinations(few_ins, 2)),
        )
        ranked = [(balance.cost(*change_of(moved)), moved) for moved in moves]
        ranked.sort(key=lambda option: option[0])  # stable: ties in candidate order
        return [option for option in ranked if option[0] != _FORBIDDEN]

    def flip(moved: tuple[int, ...]) -> None:
        balance.apply(*change_of(moved))
        for item in moved:
            sides[item] = 1 - sides[item]

    def step(label: int) -> bool:
        """Apply the best change for ``label`` that lowers the cost; whether there was one.

        When none does, the _CHAINS cheapest that bring it within its tolerance are tried,
        each with the best follow-up for the worst class it pushes off (a swap that fixes this
        class by taking a group of another across, then one that gives the other back its
        share); the first pair that lowers the cost in all is kept.
        """
        ranked = options(label)
        if ranked and ranked[0][0] < -_MIN_GAIN:
            flip(ranked[0][1])
            return True
        within = [
            (cost, moved)
            for cost, moved in ranked
            if balance.within(label, change_of(moved)[0].get(label, 0))
        ]
        for cost, moved in within[:_CHAINS]:
            touched = change_of(moved)[0]
            flip(moved)
            pushed = [lb for lb in balance.off() if lb != label and lb in touched]
            follow = options(pushed[0]) if pushed else []
            if follow and cost + follow[0][0] < -_MIN_GAIN:
                flip(follow[0][1])
                return True
            flip(moved)
        return repack(label)

    def repack(label: int) -> bool:
        """Move two to _REPACK_MOST of the class's groups at once, when that brings it
        within its tolerance: 16 test images in groups of 9 and 7, where the target is 13,
        need the 7 back and three groups of 1 across (no single move, swap or triple reaches
        12 to 14). Candidates: the _REPACK groups on each side whose moves disturb the other
        classes least. Such a move usually pushes other classes off, so each of the _CHAINS
        cheapest is followed by up to _FOLLOW_UPS changes for the classes it pushed off, and
        kept if the cost of all of them together is lower."""
        ranked = {side: best(carriers[label], side, label) for side in (TEST, TRAIN)}
        pool = [*ranked[TEST][:_REPACK], *ranked[TRAIN][:_REPACK]]
        fillers = [*ranked[TRAIN], *ranked[TEST]]
        gains = {
            item: counts[item][label] * (-1 if sides[item] == TEST else 1)
            for item in (*pool, *fillers)
        }
        moves = {
            moved
            for size in range(2, _REPACK_MOST + 1)
            for moved in itertools.combinations(pool, size)
            if balance.within(label, sum(gains[item] for item in moved))
        }
        # More groups than the combinations take (ten images in test, where singles must
        # replace them): one or no group of the pool, then groups that each bring the class
        # closer, least disturbing first, until it is within.
        for anchor in [(), *((item,) for item in pool)]:
            filled = fill(label, anchor, fillers, gains)
            if filled:
                moves.add(filled)
        within = sorted(
            ((balance.cost(*change_of(moved)), moved) for moved in moves),
            key=lambda option: (option[0], len(option[1]), sorted(option[1])),
        )
        for cost, moved in within[:_CHAINS]:
            if cost == _FORBIDDEN:
                break
            done = [moved]
            flip(moved)
            for _ in range(_FOLLOW_UPS):
                if cost < -_MIN_GAIN:
                    return True
                pushed = [lb for lb in balance.off() if lb != label]
                follow = options(pushed[0]) if pushed else []
                if not follow:
                    break
                cost += follow[0][0]
                done.append(follow[0][1])
                flip(follow[0][1])
            if cost < -_MIN_GAIN:
                return True
            for undone in reversed(done):
                flip(undone)
        return False

    def fill(
        label: int, anchor: tuple[int, ...], fillers: list[int], gains: Mapping[int, int]
    ) -> tuple[int, ...]:
        """``anchor`` and the ``fillers`` that bring ``label`` within its tolerance, each
        taken if it brings the class closer; empty if they do not get there."""
        moved = list(anchor)
        gained = sum(gains[item] for item in anchor)
        for item in fillers:
            if balance.within(label, gained):
                return tuple(moved)
            if item not in anchor and abs(balance.deviation(label) + gained + gains[item]) < abs(
                balance.deviation(label) + gained
            ):
                moved.append(item)
                gained += gains[item]
        return tuple(moved) if balance.within(label, gained) else ()

    budget = _STEPS_PER_CLASS * len(balance.totals)
    for _ in range(_PASSES):
        changed = False
        stuck: set[int] = set()
        while budget > 0:
            off = [label for label in balance.off() if label not in stuck]
            if not off:
                break
            budget -= 1
            if step(off[0]):
                changed = True
            else:
                stuck.add(off[0])
        if not changed:
            return
