"""Readers: one module per input format, each turning a source into a stream of items."""

from __future__ import annotations

from gtmerge.readers.base import Item, Parsed, ReadContext, Reader, Rejection, Skipped

__all__ = ["Item", "Parsed", "ReadContext", "Reader", "Rejection", "Skipped", "resolve"]


def resolve(source: object, context: ReadContext) -> tuple[str, Reader]:
    """The mapping name and reader for a source (format detection lands with the mappings)."""
    from gtmerge.readers.groundtruth import GroundTruthReader

    return "groundtruth", GroundTruthReader()
