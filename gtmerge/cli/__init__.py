"""The ``gtmerge`` command: a thin layer over the Python API, one module per subcommand."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with stop_on_signals():
            return int(args.run(args))
    except KeyboardInterrupt:
        print("gtmerge: interrupted; the destinations were left as they were", file=sys.stderr)
        return 130
