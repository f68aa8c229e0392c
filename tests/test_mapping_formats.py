"""Every built-in mapping on realistic samples, format detection, bad input, and AWS parity."""

from __future__ import annotations

import csv
import gzip
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from builders import classification, line, manifest
from conftest import put_objects

from gtmerge import merge
from gtmerge.mapping.detect import detect_head
from gtmerge.model import Box, BoxSet, ImageSize, Label
from gtmerge.readers import Parsed, ReadContext, Rejection, Skipped, resolve
from gtmerge.readers.base import Item
from gtmerge.sources import InputError, Source

ROOT = "s3://bkt/img/"
MTIME = "2024-01-02T03:04:05"
DATA = Path(__file__).parent / "data" / "mapping"


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    stamp = datetime.fromisoformat(MTIME).replace(tzinfo=timezone.utc).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def read(path: Path, mapping: str | None = None, root: str | None = ROOT) -> tuple[str, list[Item]]:
    """The detected (or given) mapping name, and every item the reader yields."""
    source = Source(str(path), None, mapping)
    context = ReadContext(image_root=root)
    name, reader = resolve(source, context)
    return name, list(reader.read(source, context))


def labels_by_image(items: list[Item]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for item in items:
        if isinstance(item, Parsed):
            found.setdefault(item.image.key, []).extend(label.name for label in item.image.labels)
    return found


def default_label(name: str, mapping: str, multilabel: bool = False) -> Label:
    """A label as a mapping gives it: its question is the mapping's name; a record with
    several classes answers a multi-label question."""
    return Label(name, 1.0, True, MTIME, f"gtmerge/{mapping}", mapping, multilabel)


# --- csv (AWS's shape) ---------------------------------------------------------------------

AWS_STYLE = (
    "camellia1.jpg,camellia,with_leaves\n"
    "\n"
    '"rose, red.jpg",rose,\n'
    " tulip ü.jpg , tulip ,,with_leaves\n"
    "s3://other-bucket/x/daisy 1.png,daisy\n"
    "unlabeled.jpg\n"
    ",,\n"
    "camellia1.jpg,camellia,flowering\n"
)


def test_csv_honours_quotes_skips_blank_lines_and_empty_cells(tmp_path: Path) -> None:
    name, items = read(_write(tmp_path / "legacy labels.csv", AWS_STYLE))
    assert name == "csv"
    assert [type(item).__name__ for item in items] == [
        "Parsed",
        "Skipped",
        "Parsed",
        "Parsed",
        "Rejection",
        "Parsed",
        "Skipped",
        "Parsed",
    ]
    assert [item.line for item in items] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert labels_by_image(items) == {
        "s3://bkt/img/camellia1.jpg": ["camellia", "with_leaves", "camellia", "flowering"],
        "s3://bkt/img/rose, red.jpg": ["rose"],
        "s3://bkt/img/tulip ü.jpg": ["tulip", "with_leaves"],
        "s3://bkt/img/unlabeled.jpg": [],
    }
    # A full URI must stay in the image root's bucket (an export cannot redirect a dataset).
    assert items[4].reason.startswith(  # type: ignore[union-attr]
        "image: 's3://other-bucket/x/daisy 1.png' is outside the image root's bucket"
    )
    first = items[0]
    assert isinstance(first, Parsed)
    assert first.image.labels[0] == default_label("camellia", "csv", multilabel=True)


def test_csv_without_image_root_rejects_relative_names(tmp_path: Path) -> None:
    _, items = read(_write(tmp_path / "a.csv", "a.jpg,cat\ns3://b/k.jpg,dog\n"), root=None)
    assert items[0] == Rejection(
        1,
        "image: 'a.jpg' is a relative name and no image root was given (--image-root) "
        "(expression: trim([0]))",
        "a.jpg,cat",
    )
    assert isinstance(items[1], Parsed) and items[1].image.key == "s3://b/k.jpg"


# --- parity with AWS's custom_labels_csv_to_manifest.py (fact sheet §6.1) -------------------


def aws_create_manifest_file(csv_file: Path, s3_path: str) -> tuple[list[dict[str, Any]], int, int]:
    """What the AWS script's ``create_manifest_file`` does, minus the file writing: rows read
    with ``quotechar='|'``, ``source-ref = s3_path + row[0]``, one key per non-empty cell."""
    lines: list[dict[str, Any]] = []
    image_count = label_count = 0
    with open(csv_file, newline="", encoding="utf-8") as f:
        for row in csv.reader(f, delimiter=",", quotechar="|"):
            source_ref = s3_path + row[0]  # IndexError on a blank line, as in the script
            image_count += 1
            entry: dict[str, Any] = {"source-ref": source_ref}
            for cell in row[1:]:
                if cell != "":
                    label_count += 1
                    entry[cell] = 1
                    entry[f"{cell}-metadata"] = {"class-name": cell}
            lines.append(entry)
    return lines, image_count, label_count


FLOWERS = "".join(
    f"{image},{labels}\n"
    for image, labels in [
        ("camellia1.jpg", "camellia,with_leaves"),
        ("camellia2.jpg", "camellia,with_leaves"),
        ("camellia3.jpg", "camellia,without_leaves"),
        ("helleborus1.jpg", "helleborus,without_leaves,not_fully_grown"),
        ("helleborus2.jpg", "helleborus,with_leaves,fully_grown"),
        ("helleborus3.jpg", "helleborus,with_leaves,fully_grown"),
        ("jonquil1.jpg", "jonquil,with_leaves"),
        ("jonquil2.jpg", "jonquil,with_leaves"),
        ("jonquil3.jpg", "jonquil,with_leaves"),
        ("jonquil4.jpg", "jonquil,without_leaves"),
        ("mauve_honey_myrtle1.jpg", "mauve_honey_myrtle,without_leaves"),
        ("mauve_honey_myrtle2.jpg", "mauve_honey_myrtle,with_leaves"),
        ("mauve_honey_myrtle3.jpg", "mauve_honey_myrtle,with_leaves"),
        ("mediterranean_spurge1.jpg", "mediterranean_spurge,with_leaves"),
        ("mediterranean_spurge2.jpg", "mediterranean_spurge,without_leaves"),
    ]
)


def test_parity_with_the_aws_csv_script(tmp_path: Path) -> None:
    path = _write(tmp_path / "flowers.csv", FLOWERS)
    aws_lines, images, labels = aws_create_manifest_file(path, "s3://bucket/flowers/train/")
    assert (images, labels) == (15, 33)  # what the script's own tests expect
    _, items = read(path, root="s3://bucket/flowers/train/")
    ours = {key: sorted(names) for key, names in labels_by_image(items).items()}
    theirs = {
        line["source-ref"]: sorted(k for k in line if k != "source-ref" and "-metadata" not in k)
        for line in aws_lines
    }
    assert ours == theirs
    assert sum(len(names) for names in ours.values()) == 33


def test_where_gtmerge_is_deliberately_better_than_the_aws_script(tmp_path: Path) -> None:
    quoted = _write(tmp_path / "quoted.csv", '"rose, red.jpg",rose\n')
    aws_lines, _, _ = aws_create_manifest_file(quoted, "s3://bucket/")
    assert aws_lines[0]["source-ref"] == 's3://bucket/"rose'  # quotes are not honoured
    assert labels_by_image(read(quoted, root="s3://bucket/")[1]) == {
        "s3://bucket/rose, red.jpg": ["rose"]
    }
    blank = _write(tmp_path / "blank.csv", "a.jpg,rose\n\nb.jpg,tulip\n")
    with pytest.raises(IndexError):
        aws_create_manifest_file(blank, "s3://bucket/")
    assert labels_by_image(read(blank, root="s3://bucket/")[1]) == {
        "s3://bucket/a.jpg": ["rose"],
        "s3://bucket/b.jpg": ["tulip"],
    }


# --- csv-long and csv-onehot ----------------------------------------------------------------


def test_csv_long_merges_rows_of_one_image(tmp_path: Path) -> None:
    text = "filename,class\nphoto 1.jpg,cat\nphoto 1.jpg,outdoor\n\nnaïve.png,dog\nempty.jpg,\n"
    name, items = read(_write(tmp_path / "long.csv", text))
    assert name == "csv-long"
    assert [item.line for item in items] == [2, 3, 4, 5, 6]
    assert labels_by_image(items) == {
        "s3://bkt/img/photo 1.jpg": ["cat", "outdoor"],
        "s3://bkt/img/naïve.png": ["dog"],
        "s3://bkt/img/empty.jpg": [],
    }


def test_csv_onehot_reads_flags_and_rejects_other_cells(tmp_path: Path) -> None:
    text = (
        "\ufeffimage,cat,dog,Echo Dot\n"
        "a.jpg,1,0,1\n"
        '"b, c.jpg",0,1,\n'
        "d.jpg,0,0,0\n"
        "e.jpg,1,2,0\n"
        "f.jpg,1,0,0,1\n"
    )
    name, items = read(_write(tmp_path / "onehot.csv", text))
    assert name == "csv-onehot"
    assert labels_by_image(items) == {
        "s3://bkt/img/a.jpg": ["cat", "Echo Dot"],
        "s3://bkt/img/b, c.jpg": ["dog"],
        "s3://bkt/img/d.jpg": [],
    }
    assert items[3:] == [
        Rejection(
            5,
            'labels.name: "2" is not a 1/0 flag '
            "(expression: to_entries(@)[1:] | [?flag(value)].trim(key))",
            "e.jpg,1,2,0",
        ),
        Rejection(6, "the row has 5 cells but the header has 4", "f.jpg,1,0,0,1"),
    ]


# --- coco -----------------------------------------------------------------------------------

COCO = {
    "info": {"description": "devices", "date_created": "2021/01/01"},
    "licenses": [],
    "annotations": [  # in no particular order, before the images
        {
            "id": 7,
            "image_id": 2,
            "category_id": 3,
            "bbox": [10.5, 20, 30, 40],
            "area": 1200,
            "iscrowd": 0,
            "segmentation": [[10.5, 20, 40.5, 20, 40.5, 60]],
        },
        {"id": 8, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]},
        {"id": 9, "image_id": 2, "category_id": 1, "bbox": [5, 6, 7, 8]},
    ],
    "images": [
        {
            "id": 1,
            "file_name": "kitchen 1.jpg",
            "width": 640,
            "height": 480,
            "date_captured": "2013-11-14 17:02:52",
        },
        {
            "id": 2,
            "file_name": "living/Wohnzimmer, 2.jpg",
            "width": 100,
            "height": 200,
            "date_captured": "",
        },
        {"id": 3, "file_name": "empty.jpg", "width": 100, "height": 200},
    ],
    "categories": [{"id": 1, "name": "Echo"}, {"id": 3, "name": "Echo-Dot", "supercategory": "x"}],
}


def test_coco_groups_annotations_per_image_with_sizes_and_classes(tmp_path: Path) -> None:
    name, items = read(_write(tmp_path / "instances.json", json.dumps(COCO, indent=2)))
    assert name == "coco"
    assert [item.image.key for item in items if isinstance(item, Parsed)] == [
        "s3://bkt/img/kitchen 1.jpg",
        "s3://bkt/img/living/Wohnzimmer, 2.jpg",
        "s3://bkt/img/empty.jpg",
    ]
    first, second, third = (item.image for item in items if isinstance(item, Parsed))
    assert first.box_sets == (
        BoxSet(
            ImageSize(640, 480),
            (Box("Echo", 1, 2, 3, 4),),
            True,
            "2013-11-14T17:02:52",
            "gtmerge/coco",
            "coco",
        ),
    )
    assert second.box_sets == (
        BoxSet(
            ImageSize(100, 200),
            (Box("Echo-Dot", 10.5, 20, 30, 40), Box("Echo", 5, 6, 7, 8)),
            True,
            MTIME,
            "gtmerge/coco",
            "coco",
        ),
    )
    assert third.box_sets == () and third.labels == ()  # unannotated: an unlabeled image


def test_coco_compressed_without_extension_and_unknown_category(tmp_path: Path) -> None:
    bad = json.loads(json.dumps(COCO))
    bad["annotations"][2]["category_id"] = 42
    _, items = read(_write(tmp_path / "export", gzip.compress(json.dumps(bad).encode())))
    assert isinstance(items[0], Parsed)
    assert isinstance(items[1], Rejection)
    assert (items[1].line, items[1].reason) == (
        2,
        "boxes[1].class: 42 is not in categories (expression: lookup('categories', category_id))",
    )
    assert json.loads(items[1].raw)["file_name"] == "living/Wohnzimmer, 2.jpg"


def test_coco_rename_and_drop_through_a_copied_mapping(tmp_path: Path) -> None:
    config = (Path(__file__).parents[1] / "gtmerge" / "configs" / "coco.yaml").read_text()
    config += (
        "rename:\n  Echo-Dot: Echo Dot\ndrop: [Echo]\ndefaults:\n  date: '2020-01-01T00:00:00'\n"
    )
    mapping = _write(tmp_path / "my coco.yaml", config)
    _, items = read(_write(tmp_path / "c.json", json.dumps(COCO)), str(mapping))
    sets = [item.image.box_sets for item in items if isinstance(item, Parsed)]
    assert sets == [
        (),
        (
            BoxSet(
                ImageSize(100, 200),
                (Box("Echo Dot", 10.5, 20, 30, 40),),
                True,
                "2020-01-01T00:00:00",
                "gtmerge/my coco",
                "my coco",
            ),
        ),
        (),
    ]


# --- Label Studio ---------------------------------------------------------------------------

LS_JSON = [
    {
        "id": 1,
        "data": {"image": "/data/upload/1/3f2a9c1e-photo 1.jpg"},
        "annotations": [
            {
                "id": 10,
                "was_cancelled": False,
                "created_at": "2024-03-09T21:52:49.513742Z",
                "result": [
                    {
                        "original_width": 600,
                        "original_height": 400,
                        "image_rotation": 0,
                        "value": {
                            "x": 10,
                            "y": 25,
                            "width": 50,
                            "height": 12.5,
                            "rotation": 0,
                            "rectanglelabels": ["Car"],
                        },
                        "id": "r1",
                        "from_name": "label",
                        "to_name": "image",
                        "type": "rectanglelabels",
                        "origin": "manual",
                    },
                    {
                        "value": {"choices": ["Outdoor", "Day"]},
                        "id": "c1",
                        "from_name": "choice",
                        "to_name": "image",
                        "type": "choices",
                        "origin": "manual",
                    },
                ],
            },
            {
                "id": 11,
                "was_cancelled": True,
                "created_at": "2024-03-10T00:00:00Z",
                "result": [{"value": {"choices": ["Night"]}, "type": "choices"}],
            },
        ],
        "predictions": [{"result": [{"value": {"choices": ["Indoor"]}, "type": "choices"}]}],
        "meta": {},
    },
    {
        "id": 2,
        "data": {"image": "s3://other-bucket/ls/Straße 2.png"},
        "annotations": [],
        "predictions": [],
    },
    {
        "id": 3,
        "data": {"image": "/data/local-files/?d=photos/x%20y.jpg"},
        "annotations": [
            {
                "id": 12,
                "created_at": "2024-03-11T08:00:00Z",
                "result": [{"value": {"choices": ["Day"]}, "type": "choices"}],
            }
        ],
    },
]

LS_MIN = [
    {
        "image": "/data/upload/1/3f2a9c1e-photo 1.jpg",
        "id": 1,
        "choice": "Outdoor",
        "label": [
            {
                "x": 10,
                "y": 25,
                "width": 50,
                "height": 12.5,
                "rotation": 0,
                "rectanglelabels": ["Car"],
                "original_width": 600,
                "original_height": 400,
            }
        ],
        "annotator": 1,
        "annotation_id": 10,
        "created_at": "2024-03-09T21:52:49.513742Z",
        "updated_at": "2024-03-09T21:52:49.513742Z",
        "lead_time": 3.2,
    },
    {
        "image": "/data/upload/1/ab12-x.jpg",
        "id": 2,
        "choice": {"choices": ["Day", "Outdoor"]},
        "annotator": 1,
        "annotation_id": 11,
        "created_at": "2024-03-09T21:52:49Z",
        "updated_at": "2024-03-09T21:52:49Z",
        "lead_time": 1.0,
    },
]

CAR = BoxSet(
    ImageSize(600, 400),
    (Box("Car", 60.0, 100.0, 300.0, 50.0),),
    True,
    "2024-03-09T21:52:49.513742",
    "gtmerge/labelstudio",
    "labelstudio",
)


def test_label_studio_json(tmp_path: Path) -> None:
    name, items = read(_write(tmp_path / "project-1-at-2024.json", json.dumps(LS_JSON)))
    assert name == "labelstudio"
    assert labels_by_image(items) == {
        "s3://bkt/img/3f2a9c1e-photo 1.jpg": ["Outdoor", "Day"],  # not the cancelled "Night"
        "s3://bkt/img/x y.jpg": ["Day"],
    }
    # Its s3:// task names another bucket than the image root: rejected, not merged.
    [outside] = [item for item in items if isinstance(item, Rejection)]
    assert (
        "'s3://other-bucket/ls/Straße 2.png' is outside the image root's bucket" in outside.reason
    )
    first = items[0]
    assert isinstance(first, Parsed) and first.image.box_sets == (CAR,)
    assert first.image.labels[0].creation_date == "2024-03-09T21:52:49.513742"


def test_label_studio_json_min(tmp_path: Path) -> None:
    name, items = read(_write(tmp_path / "project-1-min.json", json.dumps(LS_MIN)))
    assert name == "labelstudio"
    assert labels_by_image(items) == {
        "s3://bkt/img/3f2a9c1e-photo 1.jpg": ["Outdoor"],
        "s3://bkt/img/ab12-x.jpg": ["Day", "Outdoor"],
    }
    first = items[0]
    assert isinstance(first, Parsed) and first.image.box_sets == (CAR,)


# --- folders --------------------------------------------------------------------------------


def test_folders_on_a_local_directory(tmp_path: Path) -> None:
    root = tmp_path / "alexa-devices"
    for relative in (
        "echo-dot/white echo dot/1.jpg",
        "echo-dot/2.PNG",
        "echo/été,1.jpeg",
        "top.jpg",
        "echo/notes.txt",
        "echo/.DS_Store",
    ):
        _write(root / relative, b"\xff\xd8")
    name, items = read(root, root="s3://bkt/alexa-devices/")
    assert name == "folders"
    assert labels_by_image(items) == {
        "s3://bkt/alexa-devices/echo-dot/2.PNG": ["echo-dot"],
        "s3://bkt/alexa-devices/echo-dot/white echo dot/1.jpg": ["echo-dot"],
        "s3://bkt/alexa-devices/echo/été,1.jpeg": ["echo"],
        "s3://bkt/alexa-devices/top.jpg": [],
    }
    first = items[0]
    assert isinstance(first, Parsed)
    assert first.image.labels == (default_label("echo-dot", "folders"),)


def test_folders_on_a_local_directory_need_an_image_root(tmp_path: Path) -> None:
    _write(tmp_path / "cats" / "a.jpg", b"")
    with pytest.raises(InputError, match="a local folder needs --image-root"):
        read(tmp_path, root=None)


def test_folders_on_an_s3_prefix(s3: Any) -> None:
    put_objects(
        s3,
        "photos",
        {
            "alexa-devices/echo-dot/white/1.jpg": b"x",
            "alexa-devices/echo/2.png": b"x",
            "alexa-devices/3.jpg": b"x",
            "alexa-devices/echo/": b"",  # a console "folder"
            "other/4.jpg": b"x",
        },
    )
    source = Source("s3://photos/alexa-devices/")
    context = ReadContext()
    name, reader = resolve(source, context)
    items = list(reader.read(source, context))
    assert name == "folders"
    assert labels_by_image(items) == {
        "s3://photos/alexa-devices/3.jpg": [],
        "s3://photos/alexa-devices/echo-dot/white/1.jpg": ["echo-dot"],
        "s3://photos/alexa-devices/echo/2.png": ["echo"],
    }
    label = items[1].image.labels[0]  # type: ignore[union-attr]
    assert label.creation_date[:4] == str(datetime.now(timezone.utc).year)  # the object's own


def test_coco_on_s3_reads_tables_then_streams_images(s3: Any) -> None:
    put_objects(s3, "exports", {"coco/instances.json": json.dumps(COCO).encode()})
    source = Source("s3://exports/coco/instances.json")
    context = ReadContext(image_root="s3://photos/")
    name, reader = resolve(source, context)
    items = list(reader.read(source, context))
    assert name == "coco"
    assert [
        len(item.image.box_sets[0].boxes) if item.image.box_sets else 0
        for item in items
        if isinstance(item, Parsed)
    ] == [1, 2, 0]


# --- home-made JSON, documented in docs/mappings.md -----------------------------------------


def test_home_made_export_mapped_by_a_yaml_file_only() -> None:
    _, items = read(DATA / "acme-export.json", str(DATA / "acme-export.yaml"), root=None)
    assert items[0] == Parsed(
        1,
        items[0].image,  # type: ignore[union-attr]
    )
    image = items[0].image  # type: ignore[union-attr]
    assert image.key == "s3://acme-datasets/photos-2024/kitchen 01.jpg"
    assert image.labels == (
        Label("Echo", 1.0, True, "2024-04-30T10:11:12", "acme-tagger/ana", "acme-export", True),
        Label("indoor", 1.0, True, "2024-04-30T10:11:12", "acme-tagger/ana", "acme-export", True),
    )
    assert image.box_sets == (
        BoxSet(
            ImageSize(1000, 500),
            (Box("Echo Dot", 100.0, 100.0, 400.0, 200.0, 0.9),),
            True,
            "2024-04-30T10:11:12",
            "acme-tagger/ana",
            "acme-export",
        ),
    )
    second = items[1]
    assert isinstance(second, Parsed)
    assert (second.image.key, second.image.labels) == (
        "s3://acme-datasets/photos-2024/Küche, 2.png",
        (),  # "unsure" is dropped
    )
    assert items[2] == Rejection(
        3,
        'boxes[0].y1: "n/a" is not a number (expression: corners[1])',
        items[2].raw,  # type: ignore[union-attr]
    )


def test_image_root_from_the_command_line_overrides_the_mapping() -> None:
    _, items = read(DATA / "acme-export.json", str(DATA / "acme-export.yaml"), root="s3://x/y")
    assert items[0].image.key == "s3://x/y/kitchen 01.jpg"  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["acme-export.yaml", "groundtruth-species.yaml"])
def test_docs_show_the_example_files_verbatim(name: str) -> None:
    docs = (Path(__file__).parents[1] / "docs" / "mappings.md").read_text(encoding="utf-8")
    assert (DATA / name).read_text(encoding="utf-8") in docs


def test_docs_describe_every_custom_function() -> None:
    from gtmerge.mapping.functions import CUSTOM_FUNCTIONS

    docs = (Path(__file__).parents[1] / "docs" / "mappings.md").read_text(encoding="utf-8")
    for function in CUSTOM_FUNCTIONS:
        assert f"`{function}(" in docs, function


# --- a mixed run: Ground Truth + CSV + COCO into one manifest -------------------------------


def test_mixed_format_run_merges_into_one_line_per_image(tmp_path: Path) -> None:
    gt = _write(
        tmp_path / "job1" / "output.manifest",
        manifest(
            line("a.jpg", classification("species", "dog")),
            line("b.jpg", classification("species", "cat")),
        ),
    )
    legacy = _write(tmp_path / "legacy.csv", "a.jpg,outdoor\nc.jpg,cat\n")
    coco = _write(
        tmp_path / "boxes.json",
        json.dumps(
            {
                "images": [{"id": 1, "file_name": "b.jpg", "width": 640, "height": 480}],
                "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}],
                "categories": [{"id": 1, "name": "cat"}],
            }
        ),
    )
    out = tmp_path / "merged.manifest"
    report = merge(
        [str(gt), f"csv={legacy}", str(coco)], str(out), image_root="s3://gt-bucket/images/"
    )
    assert [(i.mapping, i.parsed) for i in report.inputs] == [
        ("groundtruth", 2),
        ("csv", 2),
        ("coco", 1),
    ]
    lines = [json.loads(text) for text in out.read_text().splitlines()]
    found = {
        line["source-ref"]: sorted(
            value["class-name"]
            for key, value in line.items()
            if key.startswith("label") and key.endswith("-metadata")
        )
        + [
            f"box:{len(value['annotations'])}"
            for key, value in line.items()
            if key.startswith("bounding-box") and not key.endswith("-metadata")
        ]
        for line in lines
    }
    assert found == {
        "s3://gt-bucket/images/a.jpg": ["dog", "outdoor"],
        "s3://gt-bucket/images/b.jpg": ["cat", "box:1"],
        "s3://gt-bucket/images/c.jpg": ["cat"],
    }


def test_same_inputs_give_the_same_bytes(tmp_path: Path) -> None:
    legacy = _write(tmp_path / "legacy.csv", AWS_STYLE)
    outputs = []
    for run in range(2):
        out = tmp_path / f"run{run}.manifest"
        merge([str(legacy)], str(out), image_root=ROOT)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert f'"creation-date":"{MTIME}"' in outputs[0].decode()


# --- detection ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b'{"source-ref": "s3://b/a.jpg", "x": 1}\n{"source-ref"', "groundtruth"),
        (b'\xef\xbb\xbf{"source-ref": "s3://b/' + b"a" * 70_000, "groundtruth"),
        (b'{\n  "info": {"year": 2021},\n  "licenses": [],\n  "images": [{"id": 1', "coco"),
        (b'{"categories": [], "images": [], "annotations": []}', "coco"),
        (
            b'[\n  {\n    "id": 1,\n    "annotations": [],\n    "data": {"image": "x"}',
            "labelstudio",
        ),
        (b'[{"image": "/data/upload/1/a.jpg", "id": 1, "annotator": 1', "labelstudio"),
        (b"a.jpg,cat\nb.jpg,dog\n", "csv"),
        (b"a.jpg,cat,outdoor\n", "csv"),
        (b"image,label\na.jpg,cat\n", "csv-long"),
        (b"image,cat,dog\na.jpg,1,0\nb.jpg,0,1\n", "csv-onehot"),
    ],
)
def test_detection_from_the_first_bytes(head: bytes, expected: str) -> None:
    assert detect_head("input", head) == expected


@pytest.mark.parametrize(
    ("head", "why"),
    [
        (b'{"image": "a.jpg"}\n', "JSON lines without source-ref"),
        (b'[{"file": "a.jpg"}]', "a JSON list that is not a Label Studio export"),
        (
            b"image,cat,dog\na.jpg,big,small\n",
            "a CSV with a header of 3 columns that are not 1/0 flags",
        ),
    ],
)
def test_unrecognised_input_suggests_mapping(head: bytes, why: str) -> None:
    with pytest.raises(InputError) as error:
        detect_head("exports/odd.json", head)
    assert str(error.value) == (
        f"exports/odd.json: cannot tell which format this is ({why}); name its mapping with "
        "--mapping NAME|FILE.yaml or NAME=INPUT (see `gtmerge mappings`)"
    )


def test_an_empty_input_is_an_empty_manifest(tmp_path: Path) -> None:
    name, items = read(_write(tmp_path / "output.manifest", ""))
    assert (name, items) == ("groundtruth", [])


def test_detection_reads_only_the_head(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(
        tmp_path / "big.manifest",
        manifest(*(line(f"{i}.jpg", classification("species", "dog")) for i in range(5000))),
    )
    reads: list[int] = []
    import gtmerge.mapping.detect as detect_module

    real = detect_module.open_source

    def spying(*args: Any, **kwargs: Any) -> Any:
        stream = real(*args, **kwargs)
        return _Spy(stream, reads)

    monkeypatch.setattr(detect_module, "open_source", spying)
    assert detect_module.detect(Source(str(path)), ReadContext()) == "groundtruth"
    assert sum(reads) <= detect_module.HEAD_BYTES < path.stat().st_size


class _Spy:
    def __init__(self, inner: Any, reads: list[int]) -> None:
        self.inner, self.reads = inner, reads

    def __enter__(self) -> Any:
        stream = self.inner.__enter__()
        reads = self.reads

        class Counting:
            def read(self, n: int = -1) -> bytes:
                data: bytes = stream.read(n)
                reads.append(len(data))
                return data

        return Counting()

    def __exit__(self, *exc: object) -> None:
        self.inner.__exit__(*exc)


# --- bad input ------------------------------------------------------------------------------


def test_jsonl_mapping_rejects_bad_lines_with_the_failing_expression(tmp_path: Path) -> None:
    config = _write(
        tmp_path / "lines.yaml",
        (
            "records: {format: jsonl}\n"
            "image: path\n"
            "labels: {name: label, confidence: score}\n"
            "defaults: {date: '2024-05-01T00:00:00', job: legacy}\n"
        ),
    )
    data = _write(
        tmp_path / "labels.jsonl",
        (
            '{"path": "a.jpg", "label": "cat", "score": "0.5"}\n'
            "\n"
            '{"path": "b.jpg", "label": "cat", "score": 1.5}\n'
            '{"label": "cat"}\n'
            '{"path": "c.jpg", "label": 7}\n'
            '{"path": "d.jpg", "label": "dog", "score": "high"}\n'
            "{not json\n"
        ),
    )
    _, items = read(data, str(config))
    assert items[0] == Parsed(1, items[0].image)  # type: ignore[union-attr]
    assert items[0].image.labels == (  # type: ignore[union-attr]
        Label("cat", 0.5, True, "2024-05-01T00:00:00", "legacy", "lines"),
    )
    assert items[1] == Skipped(2)
    assert [(item.line, item.reason) for item in items[2:]] == [  # type: ignore[union-attr]
        (3, "labels.confidence: confidence 1.5 is not between 0 and 1 (expression: score)"),
        (4, "image: no value (expression: path)"),
        (5, "labels.name: expected text, got 7 (expression: label)"),
        (6, 'labels.confidence: "high" is not a number (expression: score)'),
        (7, "invalid JSON: unexpected character, expected a string key at byte 2"),
    ]
    assert items[6].raw == "{not json"  # type: ignore[union-attr]


def test_a_document_that_breaks_off_is_an_input_error(tmp_path: Path) -> None:
    data = _write(tmp_path / "cut.json", json.dumps(LS_JSON)[:-40])
    with pytest.raises(InputError, match=r"cut\.json: invalid JSON after record 2 of the top"):
        read(data, "labelstudio")
