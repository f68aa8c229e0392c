"""The optional C fast paths, found once, and the switch that turns them off.

Each fast path is a C function that does, for the common case, what a piece of Python does,
to the same result; the Python is the reference. Either may be missing (gtmerge installed
without a C compiler); ``GTMERGE_PURE_PYTHON=1`` leaves them unused, which is how the tests
compare the two and how a user rules them out.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

PURE_PYTHON_VARIABLE = "GTMERGE_PURE_PYTHON"

#: module → what it speeds up, for ``gtmerge --version``
_FAST_PATHS = {
    "gtmerge.validate._fastlines": "validator",
    "gtmerge.readers._fastgt": "Ground Truth reader",
    "gtmerge._fastmerge": "merge",
}
_loaded: dict[str, bool] = {}


def load(module: str, name: str) -> Any | None:
    """``module.name``, or None when the extension is missing or switched off."""
    if os.environ.get(PURE_PYTHON_VARIABLE, "") not in ("", "0"):
        _loaded[module] = False
        return None
    try:
        found = getattr(importlib.import_module(module), name)
    except ImportError:
        found = None
    _loaded[module] = found is not None
    return found


def description() -> str:
    """Which code runs, e.g. "C fast paths: validator, Ground Truth reader"."""
    for module in _FAST_PATHS:
        if module not in _loaded:
            load(module, "__name__")
    running = [what for module, what in _FAST_PATHS.items() if _loaded[module]]
    if not running:
        if os.environ.get(PURE_PYTHON_VARIABLE, "") not in ("", "0"):
            return f"pure Python: {PURE_PYTHON_VARIABLE} is set"
        return "pure Python: the C fast paths were not built (no C compiler at install)"
    missing = [what for module, what in _FAST_PATHS.items() if not _loaded[module]]
    text = "C fast paths: " + ", ".join(running)
    return text + (f"; pure Python: {', '.join(missing)}" if missing else "")
