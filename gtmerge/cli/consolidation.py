"""The consolidation options of ``gtmerge merge`` (see docs/merging.md)."""

from __future__ import annotations

import argparse

from gtmerge.consolidate.config import (
    DEFAULT_IOU,
    DEFAULT_REJECT_VERDICTS,
    ON_REJECT,
    POLICIES,
    TIES,
    VERDICT_MODES,
)
from gtmerge.errors import quoted


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{quoted(text)} is not a number from 0 to 1")
    return value


def add_consolidation_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "consolidation",
        "How the answers of several jobs about one image become its labels "
        "(docs/merging.md). A question is a label attribute name.",
    )
    group.add_argument(
        "--policy",
        choices=POLICIES,
        default="union",
        help="union: every class any job gave (default); vote: the classes a quorum of jobs "
        "gave, boxes matched by IoU; latest: the answer with the latest creation-date; "
        "first: the answer of the first input",
    )
    group.add_argument(
        "--quorum",
        type=fraction,
        metavar="FRACTION",
        help="--policy vote: share of the answers that must give a class, rounded up "
        "(default: more than half)",
    )
    group.add_argument(
        "--tie",
        choices=TIES,
        default="drop",
        help="--policy vote: when classes tie, keep the first or the latest answer's, or "
        "none (default: %(default)s)",
    )
    group.add_argument(
        "--iou",
        type=fraction,
        default=DEFAULT_IOU,
        metavar="FRACTION",
        help="--policy vote: overlap at which boxes of two jobs are one object "
        "(default: %(default)s)",
    )
    group.add_argument(
        "--question",
        action="append",
        default=[],
        metavar="NAME=ATTR,ATTR...",
        help="attributes that ask the same question under different names (repeatable)",
    )
    group.add_argument(
        "--conflicts",
        metavar="FILE",
        help="write one JSON line per image and question whose answers differ",
    )
    verdicts = parser.add_argument_group("verification verdicts")
    verdicts.add_argument(
        "--verdicts",
        choices=VERDICT_MODES,
        default="apply",
        help="apply: a rejecting verdict removes what it verified (default); count: only count",
    )
    verdicts.add_argument(
        "--reject-verdict",
        action="append",
        metavar="NAME",
        help="a verdict that rejects, any case (repeatable; default: "
        f"{', '.join(DEFAULT_REJECT_VERDICTS)})",
    )
    verdicts.add_argument(
        "--verifies",
        action="append",
        default=[],
        metavar="VERIFICATION_ATTR=ATTR",
        help="the attribute a verification job verified, when its lines hold several",
    )
    verdicts.add_argument(
        "--on-reject",
        choices=ON_REJECT,
        default="labels",
        help="labels: drop only what was rejected (default); image: leave the image out",
    )
    verdicts.add_argument(
        "--relabel",
        metavar="FILE",
        help="write the rejected images as a Ground Truth input manifest, to label again",
    )
    classes = parser.add_argument_group("classes (applied to every input, labels and boxes)")
    classes.add_argument(
        "--rename",
        action="append",
        default=[],
        metavar="FILE|FROM=TO",
        help="rename classes: FROM=TO, or a YAML (from: to) or CSV (from,to) file; several "
        "classes may become one (repeatable)",
    )
    classes.add_argument(
        "--drop-class", action="append", default=[], metavar="CLASS", help="drop this class"
    )
    classes.add_argument(
        "--keep-class",
        action="append",
        default=[],
        metavar="CLASS",
        help="keep only the classes named so (repeatable)",
    )
    classes.add_argument(
        "--min-confidence",
        type=fraction,
        metavar="X",
        help="drop labels and boxes whose confidence is below X (not comparable across jobs)",
    )
    classes.add_argument(
        "--human-only", action="store_true", help="drop labels and boxes not human-annotated"
    )
