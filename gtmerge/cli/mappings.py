"""`gtmerge mappings` (placeholder until its issue lands)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("mappings", help="(not yet available)")
    parser.set_defaults(run=lambda args: 2)
