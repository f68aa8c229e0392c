"""Which side each image goes to: stratified, by hash, keeping an earlier split, by group."""

from __future__ import annotations

import hashlib
from collections import Counter

from gtmerge.split.read import Dataset, SplitError
from gtmerge.split.rebalance import rebalance
from gtmerge.split.refine import refine
from gtmerge.split.stratify import TEST, TRAIN, stratify

STRATIFIED, HASH = "stratified", "hash"
METHODS = (STRATIFIED, HASH)
_HASH_RANGE = 1 << 64


def seeded_hash(seed: int, name: str) -> int:
    """A 64-bit hash of an image key or group name, salted with the seed."""
    salt = f"gtmerge-split:{seed}".encode()[:16]
    digest = hashlib.blake2b(name.encode(), digest_size=8, salt=salt.ljust(16, b"\0"))
    return int.from_bytes(digest.digest(), "big")


def place(
    dataset: Dataset, fraction: float, method: str, seed: int, kept: dict[str, int]
) -> list[int]:
    """The side (TRAIN or TEST) of every image of ``dataset``.

    Images of one group share a side. ``kept`` maps image keys of an earlier split to their
    side; their groups stay there, and only the other groups are placed. With ``HASH``, a
    group goes to test when its salted hash falls under ``fraction`` of the hash range, so
    adding images never moves an earlier one.
    """
    groups = len(dataset.group_names)
    counts: list[Counter[int]] = [Counter() for _ in range(groups)]
    sizes = [0] * groups
    fixed: dict[int, int] = {}
    for image, group in enumerate(dataset.groups):
        counts[group].update(dataset.classes[image])
        sizes[group] += 1
        side = kept.get(dataset.keys[image])
        if side is None:
            continue
        if fixed.setdefault(group, side) != side:
            raise SplitError(
                f"{dataset.name}:{dataset.line_numbers[image]}: the group "
                f"{dataset.group_names[group]!r} has images in both the earlier training and "
                "test manifests"
            )
    ties = [seeded_hash(seed, name) for name in dataset.group_names]
    if method == HASH:
        group_sides = [
            fixed.get(group, TEST if ties[group] < fraction * _HASH_RANGE else TRAIN)
            for group in range(groups)
        ]
    else:
        group_sides = stratify(counts, sizes, ties, fraction, fixed)
        refine(counts, group_sides, sizes, ties, fraction, fixed)
        rebalance(counts, group_sides, sizes, ties, fraction, fixed)
    return [group_sides[group] for group in dataset.groups]


__all__ = ["HASH", "METHODS", "STRATIFIED", "TEST", "TRAIN", "place", "seeded_hash"]
