"""The ``gtmerge`` command: a thin layer over the Python API, one module per subcommand."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from gtmerge import __version__
from gtmerge.cli import mappings, merge, validate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gtmerge",
        description=(
            "Merge SageMaker Ground Truth outputs and legacy label exports into one "
            "Rekognition Custom Labels manifest, and validate manifests against "
            "Rekognition's rules."
        ),
    )
    parser.add_argument("--version", action="version", version=f"gtmerge {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (merge, validate, mappings):
        module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # SIGTERM (a scheduler's stop, `kill`) must clean up like Ctrl-C: abort uploads, remove
    # temp files. Python's default for SIGTERM exits without running any of that.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("gtmerge: interrupted; the destinations were left as they were", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
