"""Mapping files: YAML (``yaml.safe_load`` only) validated into a compiled :class:`Mapping`.

Every problem is reported as ``<file>: <key>: <what was expected>`` so a user can fix a config
without reading gtmerge's code. docs/mappings.md is the reference for the format.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jmespath
import yaml

from gtmerge.errors import excerpt, name_excerpt, os_reason, quoted
from gtmerge.mapping.expressions import Expression, ExpressionError, compile_expression
from gtmerge.mapping.functions import Scope, new_options
from gtmerge.rekognition import is_confidence, is_valid_creation_date
from gtmerge.sources import InputError

FORMATS = ("jsonl", "json", "csv", "listing")
UNITS = ("pixels", "fraction", "percent")
#: Rekognition takes PNG and JPEG only (fact sheet §3.4); other files in a folder are not images.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
_YES_NO = {"yes": True, "no": False}


class MappingError(InputError, ValueError):
    """A mapping that cannot be loaded; the message names the file, the key and the problem.

    An :class:`InputError`, so the command line reports it like any unusable input."""


@dataclass(frozen=True)
class Table:
    """A lookup table read from a JSON document before its records (``records.tables``)."""

    name: str
    path: tuple[str, ...]
    key: Expression
    value: Expression | None
    group: bool


@dataclass(frozen=True)
class Records:
    """How a source splits into records."""

    format: str
    path: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    header: str = "none"  # csv: "none" (rows are lists), "names" (objects), "skip" (lists)
    delimiter: str = ","
    quotechar: str = '"'
    encoding: str = "utf-8-sig"
    extensions: tuple[str, ...] = IMAGE_EXTENSIONS


@dataclass(frozen=True)
class Metadata:
    """Expressions for the Ground Truth metadata a label or box set carries."""

    confidence: Expression | None = None
    human_annotated: Expression | None = None
    date: Expression | None = None
    job: Expression | None = None


@dataclass(frozen=True)
class Labels:
    each: Expression | None
    name: Expression
    metadata: Metadata


@dataclass(frozen=True)
class Boxes:
    each: Expression
    class_name: Expression
    geometry: tuple[Expression, Expression, Expression, Expression]
    corners: bool  # x1/y1/x2/y2 rather than left/top/width/height
    units: str
    confidence: Expression | None
    width: Expression
    height: Expression
    depth: Expression | None
    metadata: Metadata


@dataclass(frozen=True)
class Defaults:
    confidence: float = 1.0
    human_annotated: bool = True
    date: str | None = None
    job: str = "gtmerge"


@dataclass(frozen=True)
class Mapping:
    """A loaded mapping, every expression compiled. ``native`` names a built-in reader that
    replaces the expressions (the Ground Truth manifest reader)."""

    name: str
    description: str
    origin: str
    native: str | None = None
    records: Records = field(default_factory=lambda: Records("jsonl"))
    image_root: str | None = None
    image: Expression | None = None
    vars: tuple[tuple[str, Expression], ...] = ()
    metadata: Metadata = field(default_factory=Metadata)
    labels: Labels | None = None
    boxes: Boxes | None = None
    defaults: Defaults = field(default_factory=Defaults)
    rename: dict[str, str] = field(default_factory=dict)
    drop: frozenset[str] = frozenset()
    scope: Scope = field(default_factory=Scope)


def _builtin_dir() -> Any:
    return resources.files("gtmerge") / "configs"


def builtin_names() -> list[str]:
    return sorted(
        entry.name[: -len(".yaml")]
        for entry in _builtin_dir().iterdir()
        if entry.name.endswith(".yaml")
    )


def builtin_mappings() -> list[tuple[str, str]]:
    """``(name, one-line description)`` of every built-in mapping, sorted by name."""
    return [(name, load_mapping(name).description) for name in builtin_names()]


def builtin_source(name: str) -> str:
    """The YAML text of a built-in mapping."""
    if name not in builtin_names():
        raise MappingError(f"{name}: not a built-in mapping ({', '.join(builtin_names())})")
    text: str = (_builtin_dir() / f"{name}.yaml").read_text(encoding="utf-8")
    return text


def load_mapping(name_or_path: str) -> Mapping:
    """A built-in mapping by name, or a YAML mapping file by path."""
    if name_or_path in builtin_names():
        return parse_mapping(builtin_source(name_or_path), name_or_path, f"{name_or_path}.yaml")
    name = name_excerpt(name_or_path)
    try:
        text = read_config_file(name_or_path, "utf-8")
    except FileNotFoundError:
        raise MappingError(
            f"{name}: not a built-in mapping ({', '.join(builtin_names())}) and no such file"
        ) from None
    except ConfigFileError as exc:
        raise MappingError(f"{name}: {exc}") from exc
    return parse_mapping(text, Path(name_or_path).stem, name_or_path)


#: Bytes a mapping or ``--rename`` file may have. The built-in mappings have 1 to 3 KB; a
#: rename file of 10,000 classes about 300 KB. Both are read whole, so no more than this.
MAX_CONFIG_BYTES = 1 << 20


class ConfigFileError(ValueError):
    """A mapping or rename file that cannot be used; the message leaves out its name."""


def read_config_file(path: str, encoding: str) -> str:
    """The text of a mapping or ``--rename`` file, read no further than
    :data:`MAX_CONFIG_BYTES` (``/dev/zero`` is refused, not read). A missing file raises
    :class:`FileNotFoundError`, which the caller may explain; anything else that stops it
    raises :class:`ConfigFileError`."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigFileError(f"cannot read: {os_reason(exc)}") from exc
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigFileError(
            f"over {MAX_CONFIG_BYTES >> 20} MiB; a mapping or rename file needs a few KB"
        )
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        problem = f"cannot read: not {encoding}: {exc.reason} at byte {exc.start}"
        raise ConfigFileError(problem) from exc


def parse_mapping(text: str, name: str, origin: str) -> Mapping:
    """Validate and compile a mapping from YAML text; ``origin`` names it in errors."""
    try:
        check_yaml_limits(text, MAX_YAML_NODES)
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = excerpt(" ".join(str(exc).split()), _YAML_ERROR_CHARS)
        raise MappingError(f"{name_excerpt(origin)}: not valid YAML: {problem}") from exc
    except ConfigFileError as exc:
        raise MappingError(f"{name_excerpt(origin)}: {exc}") from exc
    return _Loader(origin).mapping(document, name)


#: Nodes a mapping may hold once its aliases are expanded. The built-in mappings have about a
#: hundred; nested aliases ("billion laughs") reach billions from a kilobyte of YAML.
MAX_YAML_NODES = 10_000
#: Levels of nesting a mapping or rename file may have (the built-in mappings have 4 at most):
#: PyYAML builds a document recursively, and runs out of stack at about 1,000.
MAX_YAML_DEPTH = 50
_YAML_ERROR_CHARS = 300


def check_yaml_limits(text: str, max_nodes: int | None) -> None:
    """Refuse YAML nested past :data:`MAX_YAML_DEPTH`, or whose nodes (aliases expanded) pass
    ``max_nodes``, with :class:`ConfigFileError`. Counted on the parser's events, which
    nothing builds, before the document is: ``safe_load`` shares an aliased node, but
    everything that walks the result (validation, an error message) would pay for every copy,
    and building a deep document recurses once a level."""
    sizes: dict[str, int] = {}
    open_nodes: list[tuple[str | None, int]] = [(None, 0)]  # (anchor, nodes so far)
    aliases = False
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            open_nodes.append((event.anchor, 1))
            if len(open_nodes) > MAX_YAML_DEPTH + 1:
                raise ConfigFileError(
                    f"YAML nested over {MAX_YAML_DEPTH} levels deep; a few are all it takes"
                )
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            anchor, size = open_nodes.pop()
        elif isinstance(event, yaml.AliasEvent):
            anchor, size = None, sizes.get(event.anchor or "", 1)
            aliases = True
        elif isinstance(event, yaml.ScalarEvent):
            anchor, size = event.anchor, 1
        else:
            continue
        if anchor is not None:
            sizes[anchor] = size
        parent_anchor, parent_size = open_nodes[-1]
        open_nodes[-1] = (parent_anchor, parent_size + size)
        if max_nodes is not None and parent_size + size > max_nodes:
            expanded = " once its aliases are expanded" if aliases else ""
            raise ConfigFileError(
                f"over {max_nodes:,} YAML nodes{expanded}; a mapping needs a few hundred"
            )


class _Loader:
    """Reads one YAML document; every ``_...`` helper takes the dotted key it is reading."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.options, self.scope = new_options()
        self.names: set[str] = set()

    def fail(self, key: str, problem: str) -> MappingError:
        origin = name_excerpt(self.origin)
        return MappingError(f"{origin}: {key}: {problem}" if key else f"{origin}: {problem}")

    def section(self, value: Any, key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping of keys, got {_kind(value)}")
        unknown = [k for k in value if k not in allowed]
        if unknown:
            raise self.fail(
                _join(key, str(unknown[0])), f"unknown key; expected one of {', '.join(allowed)}"
            )
        return value

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"expected a non-empty string, got {_kind(value)}")
        return value

    def expression(self, value: Any, key: str) -> Expression:
        text = self.text(value, key)
        try:
            compiled = compile_expression(text, self.options)
        except ExpressionError as exc:
            raise self.fail(key, f"invalid JMESPath expression {quoted(text)}: {exc}") from exc
        for function, name in _named_arguments(compiled):
            if name not in self.names:
                known = ", ".join(sorted(self.names)) or "none are declared"
                raise self.fail(
                    key, f"{function}({quoted(name)}): no table or var by that name ({known})"
                )
        return compiled

    def optional(self, section: dict[str, Any], name: str, key: str) -> Expression | None:
        value = section.get(name)
        return None if value is None else self.expression(value, _join(key, name))

    def mapping(self, document: Any, name: str) -> Mapping:
        top = self.section(
            document,
            "",
            (
                "description",
                "reader",
                "records",
                "image_root",
                "image",
                "vars",
                "metadata",
                "labels",
                "boxes",
                "defaults",
                "rename",
                "drop",
            ),
        )
        description = top.get("description", "")
        if not isinstance(description, str):
            raise self.fail("description", f"expected a string, got {_kind(description)}")
        if "reader" in top:
            if top["reader"] != "groundtruth":
                raise self.fail("reader", f"expected groundtruth, got {quoted(top['reader'])}")
            return Mapping(name, description, self.origin, native="groundtruth")
        if "records" not in top:
            raise self.fail("records", "missing; say how the input splits into records")
        if "image" not in top:
            raise self.fail("image", "missing; give the expression of the image file or URI")
        records = self.records(top["records"])
        self.names.update(table.name for table in records.tables)
        variables = self.variables(top.get("vars", {}))
        labels = None if top.get("labels") is None else self.labels(top["labels"])
        boxes = None if top.get("boxes") is None else self.boxes(top["boxes"])
        image_root = top.get("image_root")
        if image_root is not None:
            image_root = self.text(image_root, "image_root")
        return Mapping(
            name=name,
            description=description,
            origin=self.origin,
            records=records,
            image_root=image_root,
            image=self.expression(top["image"], "image"),
            vars=variables,
            metadata=self.metadata(top.get("metadata", {}), "metadata", ()),
            labels=labels,
            boxes=boxes,
            defaults=self.defaults(top.get("defaults", {}), name),
            rename=self.rename(top.get("rename", {})),
            drop=self.drop(top.get("drop", [])),
            scope=self.scope,
        )

    def records(self, value: Any) -> Records:
        common = ("format",)
        per_format = {
            "jsonl": common,
            "json": (*common, "path", "tables"),
            "csv": (*common, "header", "delimiter", "quotechar", "encoding"),
            "listing": (*common, "extensions"),
        }
        if not isinstance(value, dict) or value.get("format") not in FORMATS:
            got = value.get("format") if isinstance(value, dict) else value
            raise self.fail(
                "records.format", f"expected one of {', '.join(FORMATS)}, got {quoted(got)}"
            )
        section = self.section(value, "records", per_format[value["format"]])
        fmt = section["format"]
        if fmt == "json":
            return Records(
                fmt,
                path=self.path(section.get("path", ""), "records.path"),
                tables=self.tables(section.get("tables", {})),
            )
        if fmt == "csv":
            return Records(
                fmt,
                header=self.header(section.get("header", False)),
                delimiter=self.character(section.get("delimiter", ","), "records.delimiter"),
                quotechar=self.character(section.get("quotechar", '"'), "records.quotechar"),
                encoding=self.encoding(section.get("encoding", "utf-8-sig")),
            )
        if fmt == "listing":
            extensions = section.get("extensions", list(IMAGE_EXTENSIONS))
            if not isinstance(extensions, list) or not all(
                isinstance(ext, str) and ext.startswith(".") for ext in extensions
            ):
                raise self.fail("records.extensions", "expected a list like [.jpg, .png]")
            return Records(fmt, extensions=tuple(ext.lower() for ext in extensions))
        return Records(fmt)

    def path(self, value: Any, key: str) -> tuple[str, ...]:
        """A plain dotted path: the record list must be findable while streaming
        (gtmerge/jsondoc.py)."""
        if value in ("", "@", None):
            return ()
        parts = tuple(self.text(value, key).split("."))
        if not all(part and part.replace("_", "a").replace("-", "a").isalnum() for part in parts):
            raise self.fail(
                key,
                f"expected a dotted field path like 'images' or 'data.items', got {quoted(value)}",
            )
        return parts

    def tables(self, value: Any) -> tuple[Table, ...]:
        if not isinstance(value, dict):
            raise self.fail("records.tables", f"expected a mapping of names, got {_kind(value)}")
        tables = []
        for name, spec in value.items():
            key = f"records.tables.{name}"
            section = self.section(spec, key, ("path", "key", "value", "group"))
            if "key" not in section:
                raise self.fail(_join(key, "key"), "missing; the expression of each entry's id")
            group = section.get("group", False)
            if not isinstance(group, bool):
                raise self.fail(_join(key, "group"), f"expected true or false, got {quoted(group)}")
            path = self.path(section.get("path", name), _join(key, "path"))
            if not path:
                raise self.fail(_join(key, "path"), "a table cannot be the whole document")
            tables.append(
                Table(
                    str(name),
                    path,
                    self.expression(section["key"], _join(key, "key")),
                    self.optional(section, "value", key),
                    group,
                )
            )
        return tuple(tables)

    def header(self, value: Any) -> str:
        choices: dict[Any, str] = {False: "none", True: "names", "skip": "skip"}
        if not isinstance(value, (bool, str)) or value not in choices:
            raise self.fail("records.header", f"expected true, false or skip, got {quoted(value)}")
        return choices[value]

    def character(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or len(value) != 1:
            raise self.fail(key, f"expected one character, got {quoted(value)}")
        return value

    def encoding(self, value: Any) -> str:
        text = self.text(value, "records.encoding")
        try:
            codec = codecs.lookup(text)
        except LookupError:
            raise self.fail("records.encoding", f"unknown encoding {quoted(text)}") from None
        # Rows are read line by line, split at the byte b"\n" (gtmerge/mapping/records.py).
        ascii_bytes = b'\n\r\t,;|"'
        try:
            compatible = codec.decode(ascii_bytes)[0] == ascii_bytes.decode()
        except (UnicodeDecodeError, ValueError):
            compatible = False
        if not compatible:
            raise self.fail(
                "records.encoding",
                f"{quoted(text)} does not write ASCII as ASCII (UTF-16 or UTF-32?); convert "
                "the file to UTF-8",
            )
        return text

    def variables(self, value: Any) -> tuple[tuple[str, Expression], ...]:
        if not isinstance(value, dict):
            raise self.fail("vars", f"expected a mapping of names, got {_kind(value)}")
        compiled = []
        for name, text in value.items():
            if name in self.names:
                raise self.fail(f"vars.{name}", "this name is already a table or var")
            compiled.append((str(name), self.expression(text, f"vars.{name}")))
            self.names.add(str(name))  # later vars may use earlier ones
        return tuple(compiled)

    def metadata(self, value: Any, key: str, extra: tuple[str, ...]) -> Metadata:
        section = self.section(value, key, (*extra, "confidence", "human_annotated", "date", "job"))
        return Metadata(
            confidence=self.optional(section, "confidence", key),
            human_annotated=self.optional(section, "human_annotated", key),
            date=self.optional(section, "date", key),
            job=self.optional(section, "job", key),
        )

    def labels(self, value: Any) -> Labels:
        section = self.section(
            value, "labels", ("each", "name", "confidence", "human_annotated", "date", "job")
        )
        if "name" not in section:
            raise self.fail("labels.name", "missing; the expression of the class name")
        return Labels(
            each=self.optional(section, "each", "labels"),
            name=self.expression(section["name"], "labels.name"),
            metadata=self.metadata(section, "labels", ("each", "name")),
        )

    def boxes(self, value: Any) -> Boxes:
        corner_keys = ("x1", "y1", "x2", "y2")
        size_keys = ("left", "top", "width", "height")
        section = self.section(
            value,
            "boxes",
            (
                "each",
                "class",
                *size_keys,
                *corner_keys,
                "units",
                "confidence",
                "image_size",
                "human_annotated",
                "date",
                "job",
            ),
        )
        for required in ("each", "class"):
            if required not in section:
                raise self.fail(f"boxes.{required}", "missing")
        has_size = [k for k in size_keys if k in section]
        has_corners = [k for k in corner_keys if k in section]
        if has_size and has_corners:
            raise self.fail("boxes", "give left/top/width/height or x1/y1/x2/y2, not both")
        geometry_keys = corner_keys if has_corners else size_keys
        missing = [k for k in geometry_keys if k not in section]
        if missing:
            raise self.fail(
                f"boxes.{missing[0]}", f"missing; boxes need {', '.join(geometry_keys)}"
            )
        units = section.get("units", "pixels")
        if units not in UNITS:
            raise self.fail(
                "boxes.units", f"expected one of {', '.join(UNITS)}, got {quoted(units)}"
            )
        size = self.section(
            section.get("image_size", {}), "boxes.image_size", ("width", "height", "depth")
        )
        if not ("width" in size and "height" in size):
            raise self.fail(
                "boxes.image_size", "expected width and height (Rekognition requires them)"
            )
        geometry = tuple(self.expression(section[k], f"boxes.{k}") for k in geometry_keys)
        return Boxes(
            each=self.expression(section["each"], "boxes.each"),
            class_name=self.expression(section["class"], "boxes.class"),
            geometry=(geometry[0], geometry[1], geometry[2], geometry[3]),
            corners=bool(has_corners),
            units=units,
            confidence=self.optional(section, "confidence", "boxes"),
            width=self.expression(size["width"], "boxes.image_size.width"),
            height=self.expression(size["height"], "boxes.image_size.height"),
            depth=self.optional(size, "depth", "boxes.image_size"),
            metadata=Metadata(
                human_annotated=self.optional(section, "human_annotated", "boxes"),
                date=self.optional(section, "date", "boxes"),
                job=self.optional(section, "job", "boxes"),
            ),
        )

    def defaults(self, value: Any, name: str) -> Defaults:
        section = self.section(value, "defaults", ("confidence", "human_annotated", "date", "job"))
        confidence = section.get("confidence", 1)
        if not is_confidence(confidence):
            raise self.fail(
                "defaults.confidence", f"expected a number from 0 to 1, got {quoted(confidence)}"
            )
        human = section.get("human_annotated", True)
        human = _YES_NO.get(human, human) if isinstance(human, str) else human
        if not isinstance(human, bool):
            raise self.fail("defaults.human_annotated", f"expected yes or no, got {quoted(human)}")
        date = section.get("date")
        if date is not None and not is_valid_creation_date(date):
            raise self.fail(
                "defaults.date",
                f"expected a date-time like 2024-05-01T12:00:00, got {quoted(date)}",
            )
        job = section.get("job", f"gtmerge/{name}")
        return Defaults(float(confidence), human, date, self.text(job, "defaults.job"))

    def rename(self, value: Any) -> dict[str, str]:
        if not isinstance(value, dict):
            raise self.fail("rename", f"expected a mapping of old: new names, got {_kind(value)}")
        for old, new in value.items():
            if not isinstance(old, str) or not isinstance(new, str) or not new:
                raise self.fail(
                    f"rename.{excerpt(str(old))}",
                    f"expected text on both sides (quote it), got {quoted(old)}: {quoted(new)}",
                )
        return dict(value)

    def drop(self, value: Any) -> frozenset[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail("drop", "expected a list of class names (quote numbers)")
        return frozenset(value)


def _named_arguments(expression: Expression) -> Iterator[tuple[str, str]]:
    """``(function, name)`` for every ``lookup('name', …)``/``var('name')`` in an expression."""
    stack = [jmespath.compile(expression.text).parsed]
    while stack:
        node = stack.pop()
        children = node.get("children", [])
        if node["type"] == "function_expression" and node["value"] in ("lookup", "var"):
            first = children[0] if children else None
            if (
                isinstance(first, dict)
                and first["type"] == "literal"
                and isinstance(first["value"], str)
            ):
                yield node["value"], first["value"]
        stack.extend(child for child in children if isinstance(child, dict))


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "text", bool: "a boolean"}.get(
        type(value), f"{type(value).__name__} {quoted(value)}"
    )
