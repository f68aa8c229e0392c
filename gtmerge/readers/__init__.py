"""Readers: one module per input format, each turning a source into a stream of items."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING

from gtmerge.readers.base import Item, Parsed, ReadContext, Reader, Rejection, Skipped
from gtmerge.sources import Source

if TYPE_CHECKING:
    from gtmerge.mapping import Mapping

__all__ = ["Item", "Parsed", "ReadContext", "Reader", "Rejection", "Skipped", "resolve"]


def resolve(source: Source, context: ReadContext) -> tuple[str, Reader]:
    """The mapping name to show in the summary, and the reader, for one source.

    (Imports are local: the mapping modules import :mod:`gtmerge.readers.base`.)

    ``source.mapping`` (a built-in name or a YAML file) wins; without it the format is detected
    from the name and the first bytes (:mod:`gtmerge.mapping.detect`). Raises
    :class:`~gtmerge.sources.InputError` (a :class:`~gtmerge.mapping.MappingError` for a bad
    mapping file) with a one-line message.
    """
    from gtmerge.mapping.detect import detect
    from gtmerge.readers.mapped import MappedReader

    spec = source.mapping or detect(source, context)
    mapping = _load(spec, _mtime(spec))
    if mapping.native == "groundtruth":
        from gtmerge.readers.groundtruth import GroundTruthReader

        return spec, GroundTruthReader()
    return spec, MappedReader(mapping)


def _mtime(spec: str) -> int:
    """Part of the cache key, so an edited mapping file is reloaded by a long-lived process."""
    try:
        return os.stat(spec).st_mtime_ns
    except OSError:
        return 0


@lru_cache(maxsize=32)
def _load(spec: str, mtime: int) -> Mapping:
    """Each mapping is loaded and compiled once per run, however many inputs use it."""
    from gtmerge.mapping import load_mapping

    return load_mapping(spec)
