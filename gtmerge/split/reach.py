"""Which test counts a class's groups allow, to tell a class the split missed from one that no
split could bring within its tolerance (six images in two groups of three: 0, 3 or 6)."""

from __future__ import annotations

import math
from collections.abc import Iterable


def nearest_reachable(
    fixed: int, free: Iterable[int], target: float, least: int, most: int
) -> int | None:
    """The test count closest to ``target`` (the lower of two as close) that ``fixed`` images
    plus some of the ``free`` groups (their image counts of the class) make, between ``least``
    and ``most``; None if none is.

    A subset sum, as the bits of one integer. The smallest sum at or above a bound is under
    the bound plus the largest group (take that group out and it is under the bound), so the
    higher bits are dropped, which keeps it fast on classes of thousands of images.
    """
    sizes = [n for n in free if n > 0]
    low = max(least - fixed, 0)
    high = most - fixed
    middle = min(max(math.floor(target - fixed), low), high)
    if high < low:
        return None
    ceiling = min(middle + 1 + max(sizes, default=0), high)
    mask = (1 << (ceiling + 1)) - 1
    sums = 1
    for n in sizes:
        sums = (sums | (sums << n)) & mask
    sums &= ~((1 << low) - 1)
    found = []
    below = sums & ((1 << (middle + 1)) - 1)
    if below:
        found.append(below.bit_length() - 1)
    above = sums >> (middle + 1)
    if above:
        found.append(middle + 1 + (above & -above).bit_length() - 1)
    if not found:
        return None
    return fixed + min(found, key=lambda s: (abs(fixed + s - target), s))
