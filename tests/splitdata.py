"""Rekognition manifests for the split and stats tests: one line per image, as merge writes."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import orjson

BUCKET = "s3://bucket/images/"
_META = {
    "confidence": 1,
    "job-name": "labeling-job/scene",
    "human-annotated": "yes",
    "creation-date": "2020-03-06T17:46:39.176",
    "type": "groundtruth/image-classification",
}


def image_line(
    name: str,
    classes: list[str] = (),  # type: ignore[assignment]
    boxes: list[tuple[str, int, int]] = (),  # type: ignore[assignment]
    bucket: str = BUCKET,
) -> bytes:
    """One image with a label per class and, for ``boxes`` (class, width, height), one box set
    on a 1000 x 500 image."""
    line: dict[str, object] = {"source-ref": bucket + name}
    for number, class_name in enumerate(classes):
        line[f"label{number}"] = number
        line[f"label{number}-metadata"] = {**_META, "class-name": class_name}
    if boxes:
        names = list(dict.fromkeys(box[0] for box in boxes))
        line["bounding-box0"] = {
            "image_size": [{"width": 1000, "height": 500, "depth": 3}],
            "annotations": [
                {"class_id": names.index(c), "left": 1, "top": 1, "width": w, "height": h}
                for c, w, h in boxes
            ],
        }
        line["bounding-box0-metadata"] = {
            "objects": [{"confidence": 0.9} for _ in boxes],
            "class-map": {str(i): n for i, n in enumerate(names)},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": "2020-03-06T17:46:39.176",
            "job-name": "labeling-job/boxes",
        }
    return orjson.dumps(line) + b"\n"


def write(path: Path, lines: list[bytes]) -> str:
    path.write_bytes(b"".join(lines))
    return str(path)


def long_tailed(images: int, classes: int, seed: int, exponent: float = 1.6) -> list[list[str]]:
    """The classes of each image: 1 to 4 per image, class k drawn with weight 1/(k+1)^exponent
    (Zipf-like: a few classes on thousands of images, a long tail on a handful)."""
    rng = random.Random(seed)
    weights = [1 / (rank + 1) ** exponent for rank in range(classes)]
    names = [f"class{rank:03d}" for rank in range(classes)]
    return [
        sorted(
            {names[i] for i in rng.choices(range(classes), weights, k=rng.choice((1, 1, 2, 3, 4)))}
        )
        for _ in range(images)
    ]


def multilabel_lines(images: int, classes: int, seed: int) -> list[bytes]:
    return [
        image_line(f"img{number:06d}.jpg", labels)
        for number, labels in enumerate(long_tailed(images, classes, seed))
    ]


def class_counts(path: str | Path) -> Counter[str]:
    """Images per class of a manifest: its labels and the classes of its boxes."""
    counts: Counter[str] = Counter()
    for line in Path(path).read_bytes().splitlines():
        record = orjson.loads(line)
        names = {
            v["class-name"]
            for k, v in record.items()
            if k.endswith("-metadata") and "class-name" in v
        }
        for k, v in record.items():
            if k.endswith("-metadata") and "class-map" in v:
                names |= set(v["class-map"].values())
        counts.update(names)
    return counts
