"""Ground Truth output lines built the way the fact sheet (§5.4) shows them."""

from __future__ import annotations

import json
from typing import Any

BUCKET = "s3://gt-bucket/images/"


def classification(
    attr: str,
    class_name: str,
    value: int | str = 0,
    *,
    confidence: float = 0.9,
    human: str = "yes",
    date: str = "2018-10-18T22:18:13.527256",
    job: str | None = "labeling-job/species",
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "class-name": class_name,
        "confidence": confidence,
        "type": "groundtruth/image-classification",
        "human-annotated": human,
        "creation-date": date,
    }
    if job is not None:
        metadata["job-name"] = job
    return {attr: value, f"{attr}-metadata": metadata}


def multilabel(
    attr: str,
    classes: dict[int, tuple[str, float]],
    *,
    job: str | None = None,
    date: str = "2020-02-27T21:36:25.000201",
) -> dict[str, Any]:
    return {
        attr: list(classes),
        f"{attr}-metadata": {
            "job-name": job or f"labeling-job/{attr}",
            "class-map": {str(i): name for i, (name, _) in classes.items()},
            "human-annotated": "yes",
            "creation-date": date,
            "confidence-map": {str(i): conf for i, (name, conf) in classes.items()},
            "type": "groundtruth/image-classification-multilabel",
        },
    }


def boxes(
    attr: str,
    annotations: list[tuple[str, int, int, int, int]],
    *,
    size: tuple[int, int] = (640, 480),
    adjustment: str | None = None,
    job: str = "labeling-job/boxes",
    date: str = "2018-11-20T22:18:13.527256",
) -> dict[str, Any]:
    names = list(dict.fromkeys(a[0] for a in annotations))
    class_map = {str(i * 5): name for i, name in enumerate(names)}  # ids need not be 0..n
    ids = {name: key for key, name in class_map.items()}
    metadata: dict[str, Any] = {
        "objects": [{"confidence": 0.8} for _ in annotations],
        "class-map": class_map,
        "type": "groundtruth/object-detection",
        "human-annotated": "yes",
        "creation-date": date,
        "job-name": job,
    }
    if adjustment:
        metadata["adjustment-status"] = adjustment
    return {
        attr: {
            "image_size": [{"width": size[0], "height": size[1], "depth": 3}],
            "annotations": [
                {"class_id": int(ids[c]), "left": left, "top": top, "width": w, "height": h}
                for c, left, top, w, h in annotations
            ],
        },
        f"{attr}-metadata": metadata,
    }


def verification(
    attr: str,
    verdict: str,
    *,
    job: str = "verify-bounding-boxes",
    date: str = "2018-11-20T22:18:13.527256",
) -> dict[str, Any]:
    return {
        attr: "1" if verdict == "bad" else "0",
        f"{attr}-metadata": {
            "class-name": verdict,
            "confidence": 0.93,
            "type": "groundtruth/label-verification",
            "job-name": job,
            "human-annotated": "yes",
            "creation-date": date,
        },
    }


def line(image: str, *attributes: dict[str, Any]) -> str:
    """One manifest line: ``image`` is a file name under BUCKET or a full reference."""
    ref = image if "://" in image else BUCKET + image
    obj: dict[str, Any] = {"source-ref": ref}
    for attribute in attributes:
        obj.update(attribute)
    return json.dumps(obj)


def manifest(*lines: str) -> str:
    return "".join(text + "\n" for text in lines)
