"""A deterministic synthetic COCO instances file, to measure memory and time on large ones.

``generate(path, images, seed)`` writes ``images`` images (three sizes, every 20th without an
annotation) with 1 to 12 annotations each (6.5 on average), each with a bounding box, an area
and a 16-point segmentation polygon, as real COCO files have: about 280 bytes an annotation,
so 500,000 images make about 900 MB. The annotations come in rounds (the first annotation of
every image, then the second, ...), so the annotations of one image are spread over the whole
table: the worst order for a reader that groups them by image. Usage::

    python scripts/gen_coco.py --images 500000 --out /tmp/coco/instances.json [--seed 1]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

_SIZES = ((640, 480), (1024, 768), (1920, 1080))
_CATEGORIES = ("person", "bicycle", "car", "dog", "cat", "chair", "bottle", "cup")
_MAX_BOXES = 12


def _annotation(number: int, image: int, size: tuple[int, int], rng: random.Random) -> str:
    width, height = size
    x, y = rng.randrange(width - 20), rng.randrange(height - 20)
    w, h = rng.randrange(1, width - x) + 0.25, rng.randrange(1, height - y) + 0.5
    points = ",".join(f"{x + w * rng.random():.2f},{y + h * rng.random():.2f}" for _ in range(8))
    return (
        f'{{"id":{number},"image_id":{image},"category_id":{rng.randrange(len(_CATEGORIES)) + 1},'
        f'"bbox":[{x},{y},{w},{h}],"area":{w * h:.2f},"iscrowd":0,"segmentation":[[{points}]]}}'
    )


def generate(path: Path, images: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    sizes = [_SIZES[image % len(_SIZES)] for image in range(images)]
    boxes = [0 if image % 20 == 19 else rng.randint(1, _MAX_BOXES) for image in range(images)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        out.write('{"info":{"description":"gtmerge synthetic COCO"},"images":[')
        out.write(
            ",".join(
                f'{{"id":{image + 1},"file_name":"img-{image + 1:08d}.jpg",'
                f'"width":{sizes[image][0]},"height":{sizes[image][1]},'
                f'"date_captured":"2024-05-01 10:{image // 60 % 60:02d}:{image % 60:02d}"}}'
                for image in range(images)
            )
        )
        out.write('],"categories":[')
        out.write(
            ",".join(
                f'{{"id":{number},"name":"{name}","supercategory":"thing"}}'
                for number, name in enumerate(_CATEGORIES, 1)
            )
        )
        out.write('],"annotations":[')
        number = 0
        for round_ in range(_MAX_BOXES):
            batch = []
            for image in range(images):
                if boxes[image] > round_:
                    number += 1
                    batch.append(_annotation(number, image + 1, sizes[image], rng))
            if batch:
                out.write(("," if round_ else "") + ",".join(batch))
        out.write("]}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    generate(args.out, args.images, args.seed)


if __name__ == "__main__":
    main()
