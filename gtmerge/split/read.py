"""Pass one of a split: what the placement needs to know of each image, and nothing more.

Stratifying needs every image's classes at once, so per image this keeps its key, the indices
of its classes and the index of its group: a few hundred bytes, about 100 MB for 250,000
images. The lines themselves are not kept in memory: pass two reads them again, from the input
when it is one plain local file, else from a spool copy made in pass one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import jmespath
import orjson

from gtmerge.errors import MergeError, quoted
from gtmerge.jsondoc import TOO_DEEP_TO_WRITE
from gtmerge.keys import InvalidKey, bucket_of, normalise_key
from gtmerge.labels import line_classes
from gtmerge.mapping.expressions import ExpressionError, parse_expression
from gtmerge.s3 import S3, describe_error
from gtmerge.sources import (
    BlankLines,
    InputError,
    Source,
    expand,
    open_source,
    read_lines,
    sniff_compression,
)
from gtmerge.validate.lines import Pairs
from gtmerge.validate.run import _READ_ERRORS

#: What a group is made of: the image's key and its parsed line → the group's name, or None
#: for an image that is a group of its own.
Grouper = Callable[[str, dict[str, Any]], "str | None"]


_DIGEST_MASK = (1 << 64) - 1


class SplitError(MergeError):
    """A split that could not run; nothing was written. The message is one line."""


def line_digest(line: bytes) -> int:
    """A 64-bit digest of a line, without its line break: the sums of the input's and the
    outputs' digests must agree. Python's own (SipHash) hash: both sums are made in the same
    process, where it is stable, and it is several times faster than hashlib's."""
    return hash(line.rstrip(b"\r\n")) & _DIGEST_MASK


@dataclass
class Dataset:
    """The images of a manifest, in input order, as the placement sees them."""

    name: str
    keys: list[str] = field(default_factory=list)
    classes: list[tuple[int, ...]] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)
    group_names: list[str] = field(default_factory=list)
    #: The line of each image in the input, for messages.
    line_numbers: list[int] = field(default_factory=list)
    #: Buckets of the images, each with the first line that names it.
    buckets: dict[str, int] = field(default_factory=dict)
    checksum: int = 0
    #: A plain local file that holds the lines in input order (the input, or a spool copy).
    lines_path: str = ""


def grouper(regex: str | None, path: str | None) -> Grouper | None:
    """The group of an image from ``--group REGEX`` (its first capture group, else the whole
    match, over the image key) or ``--group-path JMESPATH`` (over the line)."""
    if regex is not None:
        try:
            pattern = re.compile(regex)
        except re.error as exc:
            raise SplitError(f"--group {quoted(regex)}: not a regular expression: {exc}") from exc
        except RecursionError:  # Python's parser recurses once per nested group
            raise SplitError(f"--group {quoted(regex)}: groups nested too deep") from None

        def by_regex(key: str, record: dict[str, Any]) -> str | None:
            found = pattern.search(key)
            if found is None:
                return None
            return found.group(1) if pattern.groups else found.group(0)

        return by_regex
    if path is not None:
        try:
            parse_expression(path)  # bounded: nesting, and an error quoting an excerpt
        except ExpressionError as exc:
            raise SplitError(
                f"--group-path {quoted(path)}: not a JMESPath expression: {exc}"
            ) from exc
        expression = jmespath.compile(path)

        def by_path(key: str, record: dict[str, Any]) -> str | None:
            value = expression.search(record)
            return None if value is None else orjson.dumps(value).decode()

        return by_path
    return None


def read_dataset(spec: str, s3: S3, group: Grouper | None, spool_dir: str) -> Dataset:
    """Read every line of the manifest(s) ``spec`` names; raise :class:`SplitError` for a line
    that is not an image (``FILE:LINE: reason``) and for an image listed twice."""
    sources = _sources(spec, s3)
    dataset = Dataset(sources[0].name if len(sources) == 1 else spec)
    in_place = len(sources) == 1 and _plain_local(sources[0])
    dataset.lines_path = sources[0].uri if in_place else os.path.join(spool_dir, "input.jsonl")
    first_line: dict[str, int] = {}
    class_index: dict[str, int] = {}
    group_index: dict[str, int] = {}
    pairing: dict[tuple[str, ...], Pairs] = {}
    with ExitStack() as stack:
        spool = None if in_place else stack.enter_context(open(dataset.lines_path, "wb"))
        for source, number, line in _lines(sources, s3):
            record = _parse(source, number, line)
            key = _key(source, number, record)
            seen = first_line.setdefault(key, len(dataset.keys))
            if seen != len(dataset.keys):
                raise SplitError(
                    f"{source.name}:{number}: {key} is also on line "
                    f"{dataset.line_numbers[seen]}; merge the manifest first (gtmerge merge)"
                )
            if spool is not None:
                spool.write(line if line.endswith(b"\n") else line + b"\n")
            dataset.checksum += line_digest(line)
            dataset.buckets.setdefault(bucket_of(key), number)
            dataset.keys.append(key)
            dataset.line_numbers.append(number)
            dataset.classes.append(
                tuple(
                    class_index.setdefault(name, len(class_index))
                    for name in line_classes(record, pairing)
                )
            )
            try:
                name = group(key, record) if group else None
            except orjson.JSONEncodeError as exc:  # --group-path's value, written as its name
                raise SplitError(
                    f"{source.name}:{number}: the --group-path value is {TOO_DEEP_TO_WRITE}"
                ) from exc
            dataset.groups.append(
                group_index.setdefault(key if name is None else name, len(group_index))
            )
    dataset.checksum %= 1 << 64
    dataset.class_names = list(class_index)
    dataset.group_names = list(group_index)
    return dataset


def read_keys(spec: str, s3: S3) -> dict[str, tuple[str, int]]:
    """The image keys of an earlier manifest (``--keep``), each with its file and line."""
    keys: dict[str, tuple[str, int]] = {}
    for source, number, line in _lines(_sources(spec, s3), s3):
        key = _key(source, number, _parse(source, number, line))
        keys.setdefault(key, (source.name, number))
    return keys


def lines_of(path: str) -> Iterator[bytes]:
    """Pass two: the non-blank lines of the plain file pass one left, in order."""
    with open(path, "rb") as stream:
        for line in stream:
            if line.strip():
                yield line


def _sources(spec: str, s3: S3) -> list[Source]:
    try:
        return expand(spec, s3)
    except InputError as exc:
        raise SplitError(str(exc)) from exc


def _plain_local(source: Source) -> bool:
    if source.uri == "-" or source.is_s3 or not os.path.isfile(source.uri):
        return False
    with open(source.uri, "rb") as stream:
        return sniff_compression(stream.read(6)) is None


def _lines(sources: list[Source], s3: S3) -> Iterator[tuple[Source, int, bytes]]:
    """Each non-blank line with its source and line number."""
    for source in sources:
        try:
            with open_source(source, s3) as stream:
                yield from _numbered(source, stream)
        except _READ_ERRORS as exc:
            raise SplitError(f"{source.name}: {describe_error(exc)}") from exc
        except InputError as exc:
            raise SplitError(str(exc)) from exc


def _numbered(source: Source, stream: BinaryIO) -> Iterator[tuple[Source, int, bytes]]:
    number = 1
    for line in read_lines(stream):
        if line is None:
            raise SplitError(f"{source.name}:{number}: the line is longer than 16 MiB")
        if isinstance(line, BlankLines):
            number += line.lines
            continue
        if line.strip():
            yield source, number, line
        number += 1


def _parse(source: Source, number: int, line: bytes) -> dict[str, Any]:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise SplitError(f"{source.name}:{number}: not JSON ({exc})") from exc
    if type(record) is not dict:
        raise SplitError(f"{source.name}:{number}: the line is not a JSON object")
    return record


def _key(source: Source, number: int, record: dict[str, Any]) -> str:
    ref = record.get("source-ref")
    if type(ref) is not str:
        raise SplitError(f"{source.name}:{number}: the line has no source-ref string")
    try:
        return normalise_key(ref)
    except InvalidKey as exc:
        raise SplitError(f"{source.name}:{number}: {exc}") from exc
