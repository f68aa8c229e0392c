"""Mapping files: validation errors name the file, the key and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from gtmerge.cli import main
from gtmerge.mapping import MappingError, builtin_mappings, load_mapping
from gtmerge.mapping.config import parse_mapping
from gtmerge.sources import InputError

MINIMAL = "records: {format: jsonl}\nimage: file\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "m.yaml: expected a mapping of keys, got a list"),
        (
            "records: {format: jsonl}\nimage: f\nlabel: x\n",
            "m.yaml: label: unknown key; expected one of description, reader, records, image_root, "
            "image, vars, metadata, labels, boxes, defaults, rename, drop",
        ),
        ("image: f\n", "m.yaml: records: missing; say how the input splits into records"),
        (
            "records: {format: jsonl}\n",
            "m.yaml: image: missing; give the expression of the image file or URI",
        ),
        (
            "records: {format: xml}\nimage: f\n",
            "m.yaml: records.format: expected one of jsonl, json, csv, listing, got 'xml'",
        ),
        (
            "records: {format: jsonl, header: true}\nimage: f\n",
            "m.yaml: records.header: unknown key; expected one of format",
        ),
        (
            "records: {format: csv, header: maybe}\nimage: f\n",
            "m.yaml: records.header: expected true, false or skip, got 'maybe'",
        ),
        (
            "records: {format: csv, delimiter: ';;'}\nimage: f\n",
            "m.yaml: records.delimiter: expected one character, got ';;'",
        ),
        (
            "records: {format: csv, encoding: klingon}\nimage: f\n",
            "m.yaml: records.encoding: unknown encoding 'klingon'",
        ),
        (
            "records: {format: json, path: 'a[0]'}\nimage: f\n",
            "m.yaml: records.path: expected a dotted field path like 'images' or 'data.items', "
            "got 'a[0]'",
        ),
        (
            "records: {format: json, tables: {cats: {path: c}}}\nimage: f\n",
            "m.yaml: records.tables.cats.key: missing; the expression of each entry's id",
        ),
        (
            "records: {format: jsonl}\nimage: 'a[?'\n",
            "m.yaml: image: invalid JMESPath expression 'a[?': Invalid jmespath expression: "
            'Incomplete expression: "a[?" ^',
        ),
        (
            "records: {format: jsonl}\nimage: 'shout(f)'\n",
            "m.yaml: image: invalid JMESPath expression 'shout(f)': unknown function shout()",
        ),
        (
            "records: {format: jsonl}\nimage: \"lookup('cats', id)\"\n",
            "m.yaml: image: lookup('cats'): no table or var by that name (none are declared)",
        ),
        (
            "records: {format: jsonl}\nimage: f\nlabels: {each: tags}\n",
            "m.yaml: labels.name: missing; the expression of the class name",
        ),
        (
            "records: {format: jsonl}\nimage: f\nlabels: {name: 7}\n",
            "m.yaml: labels.name: expected a non-empty string, got int 7",
        ),
        (
            "records: {format: jsonl}\nimage: f\nboxes: {each: b, class: c, left: l, top: t, "
            "width: w, height: h}\n",
            "m.yaml: boxes.image_size: expected width and height (Rekognition requires them)",
        ),
        (
            "records: {format: jsonl}\nimage: f\nboxes: {each: b, class: c, left: l, top: t, "
            "width: w}\n",
            "m.yaml: boxes.height: missing; boxes need left, top, width, height",
        ),
        (
            "records: {format: jsonl}\nimage: f\nboxes: {each: b, class: c, left: l, x2: t}\n",
            "m.yaml: boxes: give left/top/width/height or x1/y1/x2/y2, not both",
        ),
        (
            "records: {format: jsonl}\nimage: f\nboxes: {each: b, class: c, x1: a, y1: b, x2: c, "
            "y2: d, units: inches, image_size: {width: w, height: h}}\n",
            "m.yaml: boxes.units: expected one of pixels, fraction, percent, got 'inches'",
        ),
        (
            MINIMAL + "defaults: {confidence: 2}\n",
            "m.yaml: defaults.confidence: expected a number from 0 to 1, got 2",
        ),
        (
            MINIMAL + "defaults: {date: yesterday}\n",
            "m.yaml: defaults.date: expected a date-time like 2024-05-01T12:00:00, got 'yesterday'",
        ),
        (
            MINIMAL + "defaults: {human_annotated: maybe}\n",
            "m.yaml: defaults.human_annotated: expected yes or no, got 'maybe'",
        ),
        (
            MINIMAL + "rename: {1: one}\n",
            "m.yaml: rename.1: expected text on both sides (quote it), got 1: 'one'",
        ),
        (MINIMAL + "drop: cat\n", "m.yaml: drop: expected a list of class names (quote numbers)"),
        (
            MINIMAL + "vars: {a: x, a2: \"var('b')\"}\n",
            "m.yaml: vars.a2: var('b'): no table or var by that name (a)",
        ),
        ("reader: native\n", "m.yaml: reader: expected groundtruth, got 'native'"),
        (
            "records: [\n",
            "m.yaml: not valid YAML: while parsing a flow node expected the node "
            "content, but found '<stream end>' in \"<unicode string>\", line 2, column 1: ^",
        ),
    ],
)
def test_bad_configs_name_the_file_key_and_expectation(text: str, message: str) -> None:
    with pytest.raises(MappingError) as error:
        parse_mapping(text, "m", "m.yaml")
    assert str(error.value) == message


def test_mapping_errors_are_input_errors_for_the_cli() -> None:
    assert issubclass(MappingError, InputError)


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("records: !!python/object/apply:os.system ['echo pwned']\nimage: f\n")
    with pytest.raises(MappingError, match="not valid YAML: could not determine a constructor"):
        load_mapping(str(path))


def test_unknown_mapping_lists_the_built_ins() -> None:
    with pytest.raises(MappingError) as error:
        load_mapping("nope")
    assert str(error.value) == (
        "nope: not a built-in mapping (coco, csv, csv-long, csv-onehot, folders, groundtruth, "
        "labelstudio) and no such file"
    )


def test_defaults_job_name_follows_the_mapping_name(tmp_path: Path) -> None:
    path = tmp_path / "legacy-export.yaml"
    path.write_text(MINIMAL)
    mapping = load_mapping(str(path))
    assert (mapping.name, mapping.defaults.job, mapping.defaults.confidence) == (
        "legacy-export",
        "gtmerge/legacy-export",
        1.0,
    )
    assert mapping.defaults.human_annotated is True and mapping.defaults.date is None


def test_every_builtin_loads_and_has_a_one_line_description() -> None:
    builtins = builtin_mappings()
    assert [name for name, _ in builtins] == [
        "coco",
        "csv",
        "csv-long",
        "csv-onehot",
        "folders",
        "groundtruth",
        "labelstudio",
    ]
    for _, description in builtins:
        assert description and "\n" not in description and len(description) < 100
    assert load_mapping("groundtruth").native == "groundtruth"


def test_mappings_command_lists_the_built_ins(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mappings"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 7
    assert lines[1].startswith("csv          AWS CSV: image,label,label...")


def test_mappings_command_prints_one_to_copy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mappings", "csv-long"]) == 0
    assert "header: skip" in capsys.readouterr().out
    assert main(["mappings", "nope"]) == 2
    assert "nope: not a built-in mapping" in capsys.readouterr().err
