"""``split()``: one manifest → a training and a test manifest, committed together."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from gtmerge.destination import check_writable, open_destination, same_target, work_directory
from gtmerge.errors import MergeError
from gtmerge.keys import bucket_of
from gtmerge.rekognition import MAX_TEST_IMAGES_PER_LABEL
from gtmerge.report import count_lines
from gtmerge.s3 import S3
from gtmerge.sources import InputError, expand
from gtmerge.split.pair import open_pair
from gtmerge.split.place import METHODS, STRATIFIED, TEST, TRAIN, place
from gtmerge.split.reach import nearest_reachable
from gtmerge.split.read import (
    Dataset,
    SplitError,
    grouper,
    line_digest,
    lines_of,
    read_dataset,
    read_keys,
)
from gtmerge.split.stratify import tolerance
from gtmerge.validate import Finding, ManifestValidator
from gtmerge.validate.run import _compare

#: Classes on fewer images have no accuracy target (one image is 20 % of five).
MIN_TARGETED_IMAGES = 5
#: Group sizes a warning lists, largest first.
_SIZES_SHOWN = 6
#: Rekognition's most test images per label (formats.md §3.2).
_FINDINGS_KEPT = 100


@dataclass(frozen=True)
class ClassSplit:
    """One class: its images on each side, and how far the test side is from the fraction."""

    name: str
    train: int
    test: int
    deviation: float  # test images minus fraction * images

    @property
    def images(self) -> int:
        return self.train + self.test


@dataclass
class SplitResult:
    """What a split did: counts per side and per class, and every rule the pair breaks."""

    input: str
    outputs: tuple[str, str]
    fraction: float
    method: str
    seed: int
    train_images: int = 0
    test_images: int = 0
    groups: int = 0
    kept: tuple[int, int] = (0, 0)
    classes: list[ClassSplit] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "training": self.outputs[0],
            "test": self.outputs[1],
            "method": self.method,
            "test_fraction": self.fraction,
            "seed": self.seed,
            "images": {"training": self.train_images, "test": self.test_images},
            "groups": self.groups,
            "kept": {"training": self.kept[0], "test": self.kept[1]},
            "classes": {
                c.name: {
                    "images": c.images,
                    "training": c.train,
                    "test": c.test,
                    "deviation": round(c.deviation, 3),
                }
                for c in self.classes
            },
            "warnings": self.warnings,
            "rekognition": [finding.as_dict() for finding in self.findings],
        }

    def summary(self) -> str:
        """The lines printed on stderr: totals, a table of classes, then every warning."""
        total = self.train_images + self.test_images
        lines = [
            f"gtmerge split: {total} images → {self.train_images} training "
            f"({self.outputs[0]}), {self.test_images} test ({self.outputs[1]}); {self.method}, "
            f"test fraction {self.fraction:g}, seed {self.seed}"
        ]
        if self.groups != total:
            lines.append(f"  {self.groups} groups, each on one side")
        if any(self.kept):
            lines.append(
                f"  kept from the earlier split: {self.kept[0]} training, {self.kept[1]} test"
            )
        width = max([5, *(len(c.name) for c in self.classes)])
        lines.append(f"  {'class':<{width}}  images  train   test  test %  off by")
        for c in self.classes:
            lines.append(
                f"  {c.name:<{width}}  {c.images:>6}  {c.train:>5}  {c.test:>5}  "
                f"{c.test / c.images:>6.1%}  {c.deviation:>+6.1f}"
            )
        lines.extend(f"  warning: {text}" for text in self.warnings)
        by_code: dict[str, list[Finding]] = {}
        for finding in self.findings:
            by_code.setdefault(finding.code, []).append(finding)
        for code, group in by_code.items():
            where = (
                f" ({group[0].manifest}, {count_lines(len(group))})" if group[0].manifest else ""
            )
            lines.append(f"  Rekognition: {code}{where}: {group[0].message}")
        return "\n".join(lines)


def split(
    manifest: str,
    output: str,
    test_output: str,
    *,
    fraction: float = 0.2,
    method: str = STRATIFIED,
    seed: int = 0,
    keep: str | None = None,
    keep_training: str | None = None,
    group: str | None = None,
    group_path: str | None = None,
    report: str | None = None,
    s3: S3 | None = None,
    tmp_dir: str | None = None,
) -> SplitResult:
    """Split the manifest(s) ``manifest`` names into ``output`` (training) and ``test_output``.

    ``fraction`` of the images go to test. ``method`` is ``"stratified"`` (every class in
    close to that proportion on each side) or ``"hash"`` (an image goes to test when its
    salted hash falls under the fraction). ``keep`` and ``keep_training`` are the test and
    training manifests of an earlier split, whose images stay where they were. ``group`` (a
    regex over the image key) or ``group_path`` (a JMESPath over the line) names groups of
    images that must share a side. Raises :class:`SplitError` for bad input and
    :class:`~gtmerge.errors.MergeError` for an output that cannot be written, with a one-line
    message; nothing is written then.
    """
    check_split_options(fraction, method)
    s3 = s3 or S3()
    # an empty name is given, not left out: check_writable refuses it in one line
    targets = [target for target in (output, test_output, report) if target is not None]
    for number, target in enumerate(targets):
        if target == "-" and number < 2:
            raise SplitError("the training and test outputs must be files or S3 objects, not -")
        if same_target(target, manifest) or any(
            same_target(target, other) for other in targets[number + 1 :]
        ):
            raise SplitError(f"{target}: the input, outputs and report need distinct files")
        try:
            check_writable(target, s3)
        except MergeError as exc:
            raise SplitError(str(exc)) from exc
    groups = grouper(group, group_path)
    with work_directory("gtmerge-split-", tmp_dir) as spool_dir:
        dataset = read_dataset(manifest, s3, groups, spool_dir)
        if not dataset.keys:
            raise SplitError(f"{dataset.name}: the manifest has no images")
        notes: list[str] = []
        kept = _kept(dataset, keep, keep_training, output, s3, notes)
        sides = place(dataset, fraction, method, seed, kept)
        _check_both_sides(dataset, sides, method)
        result = SplitResult(dataset.name, (output, test_output), fraction, method, seed)
        result.groups = len(dataset.group_names)
        result.kept = (
            sum(1 for key in dataset.keys if kept.get(key) == TRAIN),
            sum(1 for key in dataset.keys if kept.get(key) == TEST),
        )
        result.warnings.extend(notes)
        _count(dataset, sides, result)
        _warn_off_target(dataset, sides, kept, result)
        result.findings = _write(dataset, sides, (output, test_output), s3)
    if report is not None:
        with open_destination(report, s3) as report_out:
            report_out.write(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2))
    return result


def check_split_options(fraction: float, method: str) -> None:
    """Refuse a fraction outside (0, 1) and an unknown method."""
    if not 0 < fraction < 1:
        raise SplitError(f"test fraction {fraction:g}: must be between 0 and 1, both excluded")
    if method not in METHODS:
        raise SplitError(f"method {method!r}: must be one of {', '.join(METHODS)}")


def _kept(
    dataset: Dataset,
    keep: str | None,
    keep_training: str | None,
    output: str,
    s3: S3,
    warnings: list[str],
) -> dict[str, int]:
    """Image key → the side an earlier split put it on.

    ``--keep`` alone names the earlier test manifest only. Its training manifest is then the
    one ``output`` still holds (a split grown in place), or, without one, unknown: earlier
    training images cannot be told from new images, so every image not in the earlier test
    stays in training, and no earlier image moves.
    """
    if keep is not None and keep_training is None and _exists(output, s3):
        keep_training = output
        warnings.append(f"earlier training images: those in {output}, as it was")
    kept: dict[str, int] = {}
    for spec, side in ((keep_training, TRAIN), (keep, TEST)):
        if spec is None:
            continue
        for key, (name, line) in read_keys(spec, s3).items():
            if bucket_of(key) not in dataset.buckets:
                raise SplitError(
                    f"{name}:{line}: {key} is in bucket {bucket_of(key)}, not in the "
                    f"manifest's ({', '.join(dataset.buckets)}): an earlier split of another "
                    "dataset?"
                )
            if kept.setdefault(key, side) != side:
                raise SplitError(f"{name}:{line}: {key} is in both earlier manifests")
    if keep is not None and keep_training is None:
        kept.update((key, TRAIN) for key in dataset.keys if key not in kept)
        warnings.append(
            f"--keep without --keep-training: every image not in {keep} stays in training "
            "(new images cannot be told from earlier training images); give --keep-training "
            "to place new images by the fraction"
        )
    return kept


def _exists(target: str, s3: S3) -> bool:
    try:
        return bool(expand(target, s3))
    except InputError:
        return False


def _check_both_sides(dataset: Dataset, sides: list[int], method: str) -> None:
    if TEST in sides and TRAIN in sides:
        return
    if len(dataset.keys) == 1:
        reason = "it has one image"
    elif len(dataset.group_names) == 1:
        reason = f"all its {len(dataset.keys)} images are in one group"
    else:
        side = "training" if TRAIN in sides else "test"
        reason = f"every image falls on the {side} side ({method}); try another --seed"
    raise SplitError(f"{dataset.name}: cannot be split: {reason}")


def _count(dataset: Dataset, sides: list[int], result: SplitResult) -> None:
    per_class = [[0, 0] for _ in dataset.class_names]
    for classes, side in zip(dataset.classes, sides, strict=True):
        for index in classes:
            per_class[index][side] += 1
    result.train_images = sides.count(TRAIN)
    result.test_images = sides.count(TEST)
    for name, (train, test) in zip(dataset.class_names, per_class, strict=True):
        result.classes.append(
            ClassSplit(name, train, test, test - result.fraction * (train + test))
        )
    result.classes.sort(key=lambda c: (-c.images, c.name))
    for c in result.classes:
        if c.images == 1 and c.train:
            result.warnings.append(
                f"class {c.name!r} is on one image only: it is in training, none in test"
            )
        elif not c.train:
            result.warnings.append(
                f"class {c.name!r} has no training image ({c.test} in test): Rekognition "
                "needs at least one per label"
            )
        elif not c.test:
            result.warnings.append(f"class {c.name!r} has no test image ({c.train} in training)")
        if c.test > MAX_TEST_IMAGES_PER_LABEL:
            result.warnings.append(
                f"class {c.name!r} has {c.test} test images; Rekognition takes at most "
                f"{MAX_TEST_IMAGES_PER_LABEL} per label"
            )


def _warn_off_target(
    dataset: Dataset, sides: list[int], kept: dict[str, int], result: SplitResult
) -> None:
    """Name each class on MIN_TARGETED_IMAGES or more that is outside its tolerance, and say
    whether any choice of its groups (those of ``kept`` images stay) gets within it."""
    off = {
        c.name: c
        for c in result.classes
        if c.images >= MIN_TARGETED_IMAGES and abs(c.deviation) > tolerance(c.images)
    }
    if not off:
        return
    per_group: dict[int, dict[int, int]] = {
        index: {} for index, name in enumerate(dataset.class_names) if name in off
    }
    fixed: dict[int, int] = {}
    for image, classes in enumerate(dataset.classes):
        group = dataset.groups[image]
        if dataset.keys[image] in kept:
            fixed[group] = sides[image]
        for index in classes:
            if index in per_group:
                per_group[index][group] = per_group[index].get(group, 0) + 1
    index_of = {name: index for index, name in enumerate(dataset.class_names)}
    for c in off.values():
        counts = per_group[index_of[c.name]]
        share, spread = result.fraction * c.images, tolerance(c.images)
        in_test = sum(n for group, n in counts.items() if fixed.get(group) == TEST)
        free = sorted((n for group, n in counts.items() if group not in fixed), reverse=True)
        closest = nearest_reachable(in_test, free, share, 0, c.images - 1)
        where = (
            f"class {c.name!r} is {c.deviation:+.1f} test images off its share, beyond ±{spread:g}"
        )
        if closest is not None and abs(closest - share) <= spread:
            result.warnings.append(
                f"{where}: its groups allow a count within it, but the split found none that "
                "keeps the other classes within theirs"
            )
            continue
        if not free:
            result.warnings.append(f"{where}: all its groups are kept from the earlier split")
            continue
        shown = ", ".join(map(str, free[:_SIZES_SHOWN])) + (
            ", ..." if len(free) > _SIZES_SHOWN else ""
        )
        nearest = "" if closest is None else f"; the closest is {closest - share:+.1f}"
        result.warnings.append(
            f"{where}: no choice of its groups ({shown} images) gets within it{nearest}"
        )


def _write(dataset: Dataset, sides: list[int], outputs: tuple[str, str], s3: S3) -> list[Finding]:
    """Write both outputs, check that they hold every input line exactly once, commit them
    together; return what Rekognition would say of the pair."""
    validators = [ManifestValidator(manifest=name, max_findings=_FINDINGS_KEPT) for name in outputs]
    written = [0, 0]
    checksum = 0
    with open_pair(*outputs, s3) as streams:
        for line, side in zip(lines_of(dataset.lines_path), sides, strict=False):
            streams[side].write(line)
            validators[side].feed(line)
            written[side] += 1
            checksum += line_digest(line)
        if sum(written) != len(sides) or checksum % (1 << 64) != dataset.checksum:
            raise SplitError(
                f"{dataset.name}: training ({written[TRAIN]}) + test ({written[TEST]}) lines "
                f"do not add up to the {len(sides)} of the input (did it change while it was "
                "read?); nothing was written"
            )
    results = [validator.finish() for validator in validators]
    findings = [f for result in results for f in result.errors + result.warnings]
    return findings + _compare(validators[TRAIN], validators[TEST])
