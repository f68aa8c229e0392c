"""Failures of a run, each with a one-line message fit for the user (no traceback)."""

from __future__ import annotations

import reprlib


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


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = EXCERPT_CHARS
_REPR.maxlevel = 3


def quoted(value: object) -> str:
    """An excerpt of ``value`` as a Python literal (quotes and escapes included), in time
    and memory bounded whatever its size or nesting: YAML aliases can make a structure that
    a plain ``repr`` would spell out in gigabytes."""
    if isinstance(value, str):
        return repr(excerpt(value))
    return excerpt(_REPR.repr(value))


#: Characters of a file name or URI an error message shows: longer than a value's excerpt, as
#: real paths often are, but not the 4,096 the system allows or the megabyte of an argument.
NAME_CHARS = 200


def name_excerpt(name: str) -> str:
    """A file name or URI as an error message shows it: :func:`excerpt` at
    :data:`NAME_CHARS`."""
    return excerpt(name, NAME_CHARS)


#: Characters of the one line a command prints when it fails: room for an excerpt or two and
#: the reason, never a whole value from the command line (issue F10).
MESSAGE_CHARS = 400


def error_line(message: str, limit: int = MESSAGE_CHARS) -> str:
    """``message`` as one line of at most ``limit`` characters: what every command prints when
    it fails, whatever the message quotes."""
    text = " ".join(message.splitlines())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def os_reason(exc: OSError) -> str:
    """The operating system's reason for ``exc`` without the file name it repeats (which may be
    kilobytes long): ``File name too long``, ``Too many levels of symbolic links``."""
    return exc.strerror or type(exc).__name__
