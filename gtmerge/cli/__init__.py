"""The ``gtmerge`` command: a thin layer over the Python API, one module per subcommand."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from gtmerge import __version__, fastpaths
from gtmerge.cli import mappings, merge, split, stats, validate
from gtmerge.errors import error_line
from gtmerge.interrupts import stop_on_signals


class _Parser(argparse.ArgumentParser):
    """argparse, with its error line cut like every other (``invalid choice: '<100 KB>'``);
    the subcommands' parsers are of this class too (``add_subparsers`` uses the parent's)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, error_line(f"{self.prog}: error: {message}") + "\n")


class _Version(argparse.Action):
    """``--version`` on one line: argparse's own action wraps it to the terminal's width."""

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        print(f"gtmerge {__version__} ({fastpaths.description()})")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gtmerge",
        description=(
            "Merge SageMaker Ground Truth outputs and legacy label exports into one "
            "Rekognition Custom Labels manifest, and validate manifests against "
            "Rekognition's rules."
        ),
    )
    parser.add_argument(
        "--version", action=_Version, nargs=0, help="show the version and which paths it runs"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (merge, split, validate, stats, mappings):
        module.add_parser(commands)
    return parser


#: options that name a file, a directory or a place, where '' would be taken for "not given"
_PLACES = ("mapping", "tmp_dir", "image_root", "endpoint_url")


def main(argv: Sequence[str] | None = None, *, keep_signal_handlers: bool = False) -> int:
    """Run one command; return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for option in _PLACES:
        if getattr(args, option, None) == "":
            # '' is not an option left out: it names no file, directory or place
            parser.error(f"--{option.replace('_', '-')} '': an empty name names nothing")
    try:
        with stop_on_signals(restore=not keep_signal_handlers):
            return int(args.run(args))
    except KeyboardInterrupt:
        print("gtmerge: interrupted; the destinations were left as they were", file=sys.stderr)
        return 130


def entry() -> NoReturn:
    """The ``gtmerge`` process: a stop request that arrives after a finished run must not turn
    it into a killed one. So the handlers stay until the end, and the process leaves with
    ``os._exit`` once its output is flushed: interpreter teardown would first put the default
    handlers back, and everything it would otherwise clean up is already closed."""
    status = main(keep_signal_handlers=True)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        status = status or 1  # a closed pipe: what was printed may be lost
    os._exit(status)
