"""Failures of a run, each with a one-line message fit for the user (no traceback)."""

from __future__ import annotations


class MergeError(Exception):
    """A run that could not complete; every destination was left as it was."""


class BadRecord(MergeError):
    """``strict`` met a record it could not use: ``FILE:LINE: reason``."""


class InvalidOutput(MergeError):
    """``fail_on_invalid`` and the merged manifest breaks Rekognition's rules."""
