"""``gtmerge validate``: predict Rekognition's import errors before uploading a manifest."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from gtmerge.cli.options import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    add_progress_option,
    add_s3_options,
    positive_int,
    report_failure,
    s3_settings,
)
from gtmerge.destination import OutputError
from gtmerge.rekognition import DEFAULT_MAX_LINES
from gtmerge.s3 import S3
from gtmerge.sources import InputError
from gtmerge.validate import validate
from gtmerge.validate.report import text_report


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "validate",
        help="check manifests against Rekognition Custom Labels' rules",
        description=(
            "Check Rekognition Custom Labels manifests offline and name each problem with the "
            "code Rekognition would give it. Exit status: 0 valid, 1 errors found, 2 could "
            "not run."
        ),
    )
    parser.add_argument(
        "manifests",
        nargs="+",
        metavar="MANIFEST",
        help="manifest file, glob, - for stdin, or s3:// URL (plain or compressed)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--test",
        metavar="TEST_MANIFEST",
        help="test manifest: also check label overlap and images shared with MANIFEST",
    )
    parser.add_argument(
        "--check-images",
        action="store_true",
        help="read the header of every image in S3: exists, PNG/JPEG, size and dimensions",
    )
    parser.add_argument(
        "--max-lines",
        type=positive_int,
        default=DEFAULT_MAX_LINES,
        metavar="N",
        help=f"line quota (default {DEFAULT_MAX_LINES:,}; raise it for a raised quota)",
    )
    parser.add_argument(
        "--annotate",
        metavar="OUT",
        help="write a copy of MANIFEST with errors and warnings inside the offending lines",
    )
    add_s3_options(parser)
    add_progress_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    s3 = S3(s3_settings(args))
    try:
        result = validate(
            args.manifests,
            test=args.test,
            check_images=args.check_images,
            max_lines=args.max_lines,
            s3=s3,
            progress=args.progress,
            annotate=args.annotate,
        )
    except (InputError, OutputError) as exc:
        report_failure("validate", exc)
        return EXIT_FAILED
    if args.json:
        document = orjson.dumps(result.summary_dict(), option=orjson.OPT_INDENT_2)
        sys.stdout.buffer.write(document + b"\n")
        sys.stdout.flush()
    else:
        sys.stdout.write(text_report(result))
    return EXIT_INVALID if result.has_errors else EXIT_OK
