"""``gtmerge stats``: the command-line face of :func:`gtmerge.stats.stats`."""

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
from gtmerge.errors import MergeError
from gtmerge.s3 import S3
from gtmerge.sources import InputError
from gtmerge.stats import stats, text_table

EXAMPLES = """\
examples:
  gtmerge stats dataset.manifest
  gtmerge stats train.manifest --test test.manifest --html dataset.html
  gtmerge stats train.manifest --test test.manifest --merge-report report.json --html dataset.html

The page is one HTML file (inline SVG, no network when it is viewed): totals and Rekognition's
verdict, images and boxes per class on each side, classes per image, box sizes and, with
--merge-report, what each input contributed, rejections by reason and verification verdicts.

exit status: 0 shown (whatever rules the dataset breaks; see 'gtmerge validate' for a
  verdict as an exit status); 2 a manifest or the report could not be read.
"""


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "stats",
        help="show what a manifest (and its test manifest) holds, as a table or an HTML page",
        description=(
            "Count images, labels, boxes and classes of a Rekognition manifest and of its test\n"
            "manifest, per class and per side, and the Rekognition rules each side breaks."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("manifest", metavar="MANIFEST", help="training manifest (or the only one)")
    parser.add_argument("--test", metavar="TEST", help="its test manifest")
    parser.add_argument(
        "--merge-report", metavar="REPORT", help="the JSON report of the merge (--report)"
    )
    parser.add_argument("--html", metavar="FILE", help="also write the page here")
    add_s3_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        result = stats(
            args.manifest,
            test=args.test,
            merge_report=args.merge_report,
            html=args.html,
            s3=S3(s3_settings(args)),
        )
    except (InputError, MergeError) as exc:
        report_failure("stats", exc)
        return EXIT_FAILED
    sys.stdout.write(text_table(result))
    return EXIT_OK
