"""`gtmerge mappings`: list the built-in mappings, or print one to copy and edit."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gtmerge.errors import error_line
from gtmerge.mapping import MappingError, builtin_mappings
from gtmerge.mapping.config import builtin_source


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "mappings",
        help="list the built-in mappings (input formats)",
        description=(
            "List the built-in mappings that `gtmerge merge --mapping NAME` accepts, or print "
            "one (`gtmerge mappings csv > my.yaml`) as a starting point for your own. "
            "The file format is described in docs/mappings.md."
        ),
    )
    parser.add_argument("name", nargs="?", help="print this built-in mapping's YAML")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.name is not None:
        try:
            sys.stdout.write(builtin_source(args.name))
        except MappingError as exc:
            print(error_line(f"gtmerge: {exc}"), file=sys.stderr)
            return 2
        return 0
    mappings = builtin_mappings()
    width = max(len(name) for name, _ in mappings)
    for name, description in mappings:
        print(f"{name:<{width}}  {description}")
    return 0
