"""Options and exit statuses every subcommand shares."""

from __future__ import annotations

import argparse
import sys

from gtmerge.errors import error_line, quoted
from gtmerge.s3 import S3Settings

EXIT_OK, EXIT_INVALID, EXIT_FAILED = 0, 1, 2


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{quoted(text)} is not a positive whole number")
    return value


def report_failure(command: str, exc: BaseException) -> None:
    """The one line a failed command prints: ``gtmerge COMMAND: message``, cut to
    :data:`~gtmerge.errors.MESSAGE_CHARS` whatever the message quotes."""
    print(error_line(f"gtmerge {command}: {exc}"), file=sys.stderr)


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: only when stderr is a terminal)",
    )


def add_s3_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("S3")
    group.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="S3 endpoint (default: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL / AWS)",
    )
    group.add_argument("--sse", choices=["AES256", "aws:kms"], help="server-side encryption")
    group.add_argument("--sse-kms-key-id", metavar="KEY", help="KMS key for --sse aws:kms")
    group.add_argument(
        "--expected-bucket-owner",
        metavar="ACCOUNT",
        help="fail any S3 request to a bucket owned by another account",
    )


def s3_settings(args: argparse.Namespace) -> S3Settings:
    return S3Settings(args.endpoint_url, args.sse, args.sse_kms_key_id, args.expected_bucket_owner)
