"""``gtmerge split``: the command-line face of :func:`gtmerge.split.split`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gtmerge.cli.options import (
    EXIT_FAILED,
    EXIT_OK,
    add_s3_options,
    report_failure,
    s3_settings,
)
from gtmerge.errors import MergeError, quoted
from gtmerge.s3 import S3
from gtmerge.split import METHODS, STRATIFIED, split

EXAMPLES = """\
examples:
  # 20 % of the images to test, every class in close to that proportion on both sides
  gtmerge split dataset.manifest -o train.manifest --test-output test.manifest
  # frames of one video (s3://b/video-017/frame-0001.jpg) stay on one side
  gtmerge split dataset.manifest -o train.manifest --test-output test.manifest \\
      --group 'video-[0-9]+'
  # new images added: earlier images stay where they were, only the new ones are placed
  gtmerge split dataset.manifest -o train2.manifest --test-output test2.manifest \\
      --keep test.manifest --keep-training train.manifest
  # stable as the dataset grows, without an earlier split at hand
  gtmerge split s3://labels/dataset.manifest -o s3://labels/train.manifest \\
      --test-output s3://labels/test.manifest --method hash --seed 7

Both outputs are written aside and committed together once training + test = input has
been checked; the same input and seed give the same bytes. Check the pair with
'gtmerge validate TRAIN --test TEST' and look at it with 'gtmerge stats TRAIN --test TEST'.

exit status: 0 split (warnings, if any, on stderr); 2 the split could not run (bad input, a
  fraction outside (0, 1), classes that cannot be split): nothing was written.
"""


def fraction(text: str) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{quoted(text)} is not a number") from exc


def add_split_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Options shared by ``gtmerge split`` and ``gtmerge merge --split``."""
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="salt of the hash that breaks ties (stratified) or places images (hash); "
        "default %(default)s",
    )
    parser.add_argument(
        "--method",
        choices=METHODS,
        default=STRATIFIED,
        help="stratified: every class in close to the fraction on each side (default); "
        "hash: an image goes to test when its salted hash falls under the fraction",
    )
    parser.add_argument(
        "--keep", metavar="TEST_MANIFEST", help="earlier test manifest: its images stay in test"
    )
    parser.add_argument(
        "--keep-training",
        metavar="TRAIN_MANIFEST",
        help="earlier training manifest: its images stay in training",
    )
    grouping = parser.add_mutually_exclusive_group()
    grouping.add_argument(
        "--group",
        metavar="REGEX",
        help="images whose keys give the same match (its first capture group if it has "
        "one) go to the same side",
    )
    grouping.add_argument(
        "--group-path",
        metavar="JMESPATH",
        help="images whose lines give the same value for this JMESPath go to the same side",
    )


def add_split_arguments(parser: argparse.ArgumentParser) -> None:
    """``merge``'s own group: split what it wrote, and write the page of the run."""
    group = parser.add_argument_group("split and look (see 'gtmerge split --help')")
    group.add_argument(
        "--split",
        type=fraction,
        metavar="F",
        help="write F of the images to --test-output and the rest to -o (e.g. 0.2)",
    )
    group.add_argument("--test-output", metavar="TEST", help="test manifest, with --split")
    add_split_options(group)
    group.add_argument(
        "--html", metavar="FILE", help="write the dataset page of this run (see gtmerge stats)"
    )


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "split",
        help="split a manifest into a training and a test manifest, without leakage",
        description=(
            "Split a Rekognition manifest into the training and test manifests of one model\n"
            "version: stratified over each image's classes (for boxes, the classes of its\n"
            "boxes), groups of images kept on one side, earlier splits kept as they were."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("manifest", metavar="MANIFEST", help="path, glob, - or s3:// URL")
    parser.add_argument("-o", "--output", required=True, metavar="TRAIN", help="training output")
    parser.add_argument("--test-output", required=True, metavar="TEST", help="test output")
    parser.add_argument(
        "--test-fraction",
        type=fraction,
        default=0.2,
        metavar="F",
        help="share of the images that go to test, between 0 and 1 (default %(default)s)",
    )
    add_split_options(parser)
    parser.add_argument("--report", metavar="FILE", help="write the split's JSON report here")
    parser.add_argument(
        "--tmp-dir", metavar="DIR", help="where a copy of a remote or compressed input goes"
    )
    add_s3_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        result = split(
            args.manifest,
            args.output,
            args.test_output,
            fraction=args.test_fraction,
            method=args.method,
            seed=args.seed,
            keep=args.keep,
            keep_training=args.keep_training,
            group=args.group,
            group_path=args.group_path,
            report=args.report,
            s3=S3(s3_settings(args)),
            tmp_dir=args.tmp_dir,
        )
    except MergeError as exc:  # SplitError, or an output that could not be written
        report_failure("split", exc)
        return EXIT_FAILED
    print(result.summary(), file=sys.stderr)
    return EXIT_OK
