"""Failures of a run, each with a one-line message fit for the user (no traceback)."""

from __future__ import annotations


class MergeError(Exception):
    """A run that could not complete; every destination was left as it was."""


class BadRecord(MergeError):
    """``strict`` met a record it could not use: ``FILE:LINE: reason``."""


class InvalidOutput(MergeError):
    """``fail_on_invalid`` and the merged manifest breaks Rekognition's rules."""


#: Characters of an offending value an error message quotes: enough to find it in the input,
#: never the whole of a value that may be megabytes long.
EXCERPT_CHARS = 80


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text``, cut to ``limit`` characters with an ellipsis: the one way every error message
    quotes a value taken from the input or the command line."""
    return text if len(text) <= limit else text[:limit] + "…"


def quoted(text: str) -> str:
    """An excerpt of ``text`` as a Python literal, quotes and escapes included."""
    return repr(excerpt(text))
