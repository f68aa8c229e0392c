"""``--rename``: class renames from YAML or CSV files and ``FROM=TO`` options.

Several classes may become one. Renames chain (``a→b`` and ``b→c`` make ``a`` into ``c``),
so a cycle (``a→b``, ``b→a``) has no answer and is refused, as is a class renamed two ways.
Every error names the file and line (or the option) that causes it, before any input is read.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass

import yaml

from gtmerge.consolidate.config import OptionError
from gtmerge.errors import excerpt, name_excerpt
from gtmerge.mapping.config import ConfigFileError, check_yaml_limits, read_config_file

_YAML_SUFFIXES = (".yaml", ".yml")
_HEADER = ("from", "to")


@dataclass(frozen=True)
class Rename:
    """One ``from → to`` rule and where it was written (``FILE:LINE`` or the option)."""

    source: str
    target: str
    where: str


def parse_rename_option(spec: str) -> Rename | None:
    """``FROM=TO`` as a rule; None when ``spec`` has no ``=`` (then it names a file)."""
    source, sep, target = spec.partition("=")
    if not sep:
        return None
    if not source.strip() or not target.strip():
        raise OptionError(f"--rename {spec!r}: write FROM=TO, or give a YAML or CSV file")
    return Rename(source.strip(), target.strip(), f"--rename {spec}")


def read_rename_file(path: str) -> list[Rename]:
    """The rules of a rename file: a YAML mapping ``from: to`` or CSV rows ``from,to``."""
    try:
        text = read_config_file(path, "utf-8-sig")
    except FileNotFoundError:
        raise OptionError(f"--rename {name_excerpt(path)}: no such file") from None
    except ConfigFileError as exc:
        raise OptionError(f"--rename {name_excerpt(path)}: {exc}") from exc
    if path.lower().endswith(_YAML_SUFFIXES):
        return _yaml_rules(path, text)
    return _csv_rules(path, text)


def _yaml_rules(path: str, text: str) -> list[Rename]:
    # Composed, not loaded: nodes keep their line numbers, and aliases are never expanded.
    name = name_excerpt(path)
    try:
        check_yaml_limits(text, None)  # composing recurses once a level
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = excerpt(" ".join(str(getattr(exc, "problem", exc)).split()))
        raise OptionError(f"{name}{line}: not valid YAML: {problem}") from exc
    except ConfigFileError as exc:
        raise OptionError(f"{name}: {exc}") from exc
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode):
        raise OptionError(f"{path}:{root.start_mark.line + 1}: expected a mapping 'from: to'")
    rules = []
    for key, value in root.value:
        where = f"{path}:{key.start_mark.line + 1}"
        if not isinstance(key, yaml.ScalarNode) or not isinstance(value, yaml.ScalarNode):
            raise OptionError(f"{where}: a rename is one class name: another class name")
        if not str(key.value).strip() or not str(value.value).strip():
            raise OptionError(f"{where}: a class name cannot be empty")
        rules.append(Rename(str(key.value).strip(), str(value.value).strip(), where))
    return rules


def _csv_rules(path: str, text: str) -> list[Rename]:
    rules = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            where = f"{path}:{reader.line_num}"
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue
            if reader.line_num == 1 and tuple(c.lower() for c in cells) == _HEADER:
                continue
            if len(cells) != 2 or not all(cells):
                raise OptionError(f"{where}: expected two class names 'from,to', got {row!r}")
            rules.append(Rename(cells[0], cells[1], where))
    except csv.Error as exc:
        raise OptionError(f"{path}:{reader.line_num}: not valid CSV: {exc}") from exc
    return rules


def resolve_renames(rules: Iterable[Rename]) -> dict[str, str]:
    """Every renamed class → its final name, chains followed; cycles and conflicts refused."""
    direct: dict[str, Rename] = {}
    for rule in rules:
        if rule.source == rule.target:
            continue
        earlier = direct.get(rule.source)
        if earlier is not None and earlier.target != rule.target:
            raise OptionError(
                f"{rule.where}: {rule.source} is renamed to {rule.target}, but "
                f"{earlier.where} renames it to {earlier.target}"
            )
        direct.setdefault(rule.source, rule)
    final: dict[str, str] = {}
    position = {source: index for index, source in enumerate(direct)}
    for source in direct:
        seen = [source]
        name = direct[source].target
        while name in direct:
            if name in seen:
                raise OptionError(_cycle(seen[seen.index(name) :], direct, position))
            seen.append(name)
            name = direct[name].target
        final[source] = name
    return final


def _cycle(members: list[str], direct: dict[str, Rename], position: dict[str, int]) -> str:
    """The error for a cycle, at the rule written last that closes it, read from there."""
    closing = direct[max(members, key=position.__getitem__)]
    names = [closing.target]
    while names[-1] != closing.source:
        names.append(direct[names[-1]].target)
    return f"{closing.where}: renames form a cycle: {' → '.join([*names, closing.target])}"


def load_renames(specs: Iterable[str]) -> dict[str, str]:
    """The resolved renames of every ``--rename`` (a ``FROM=TO`` or a file), in order."""
    rules: list[Rename] = []
    for spec in specs:
        rule = None if os.path.isfile(spec) else parse_rename_option(spec)
        rules.extend([rule] if rule is not None else read_rename_file(spec))
    return resolve_renames(rules)
