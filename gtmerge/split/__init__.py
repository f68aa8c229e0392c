"""Split a manifest into Rekognition's training and test pair, without leakage.

:func:`split` reads the manifest once to learn each image's classes (and group), places every
image (:mod:`gtmerge.split.place`: stratified by default, see :mod:`gtmerge.split.stratify`,
:mod:`gtmerge.split.refine` and :mod:`gtmerge.split.rebalance`),
then writes both outputs in a second pass and commits them together
(:mod:`gtmerge.split.pair`), once it has checked that training + test = input.
"""

from gtmerge.split.place import HASH, METHODS, STRATIFIED
from gtmerge.split.read import SplitError
from gtmerge.split.run import ClassSplit, SplitResult, check_split_options, split

__all__ = [
    "HASH",
    "METHODS",
    "STRATIFIED",
    "ClassSplit",
    "SplitError",
    "SplitResult",
    "check_split_options",
    "split",
]
