"""The ``gtmerge`` command: a thin layer over the Python API, one module per subcommand."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from gtmerge import __version__
from gtmerge.cli import mappings, merge, validate
from gtmerge.interrupts import stop_on_signals


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


def main(argv: Sequence[str] | None = None, *, keep_signal_handlers: bool = False) -> int:
    """Run one command; return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with stop_on_signals(restore=not keep_signal_handlers):
            return int(args.run(args))
    except KeyboardInterrupt:
        print("gtmerge: interrupted; the destinations were left as they were", file=sys.stderr)
        return 130


def entry() -> NoReturn:
    """The ``gtmerge`` process. Its signal handlers stay until it exits: a stop request that
    arrives after a finished run then ends it with status 0, not killed by SIGTERM."""
    sys.exit(main(keep_signal_handlers=True))
