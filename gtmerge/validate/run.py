"""``validate()``: read manifests from disk or S3, validate them, check their images."""

from __future__ import annotations

import lzma
import zlib

from botocore.exceptions import BotoCoreError, ClientError
from tqdm import tqdm

from gtmerge.destination import Outputs
from gtmerge.rekognition import DEFAULT_MAX_LINES
from gtmerge.s3 import S3, describe_error
from gtmerge.sources import InputError, Source, expand, open_source
from gtmerge.validate import codes
from gtmerge.validate.annotate import write_annotated
from gtmerge.validate.findings import Finding, ValidationResult, sort_key
from gtmerge.validate.images import ImageChecker
from gtmerge.validate.manifest import ManifestValidator

#: Label overlap a test manifest needs with its training manifest (§3.1).
MIN_LABEL_OVERLAP = 0.5
#: What a stream can raise once open: S3 errors, and damaged compressed data.
_READ_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, BotoCoreError, ClientError)


def validate(
    manifests: list[str],
    *,
    test: str | None = None,
    check_images: bool = False,
    max_lines: int = DEFAULT_MAX_LINES,
    s3: S3 | None = None,
    progress: bool | None = None,
    annotate: str | None = None,
) -> ValidationResult:
    """Validate each manifest (local path, glob, ``-`` or ``s3://``) as one dataset.

    With ``test``, exactly one training manifest is allowed and the pair is also checked for
    label overlap and shared images. With ``annotate``, a copy of the one training manifest
    with its findings inside its lines is written there, whole or not at all, and never over
    an input. Raises :class:`InputError` when an input cannot be read, and
    :class:`~gtmerge.destination.OutputError` when ``annotate`` cannot be written.
    """
    s3 = s3 or S3()
    training = [source for spec in manifests for source in expand(spec, s3)]
    # an empty name is given, not left out: expand and Outputs.open refuse it in one line
    testing = expand(test, s3) if test is not None else []
    if test is not None and (len(training) != 1 or len(testing) != 1):
        raise InputError(f"{test}: --test needs exactly one training and one test manifest")
    if annotate is not None and len(training) != 1:
        raise InputError(f"{annotate}: --annotate takes exactly one MANIFEST")
    if annotate is not None and training[0].uri == "-":
        raise InputError(f"{annotate}: --annotate reads MANIFEST twice, which stdin cannot be")
    with Outputs(s3, [source.uri for source in training + testing]) as outputs:
        annotated = outputs.open(annotate) if annotate is not None else None
        result = _validate(training, testing, check_images, max_lines, s3, progress)
        if annotated is not None:
            name = training[0].name
            findings = [f for f in result.errors + result.warnings if f.manifest == name]
            try:
                write_annotated(training[0], findings, annotated, s3)
            except _READ_ERRORS as exc:
                raise InputError(f"{name}: {describe_error(exc)}") from exc
        outputs.commit()
    return result


def _validate(
    training: list[Source],
    testing: list[Source],
    check_images: bool,
    max_lines: int,
    s3: S3,
    progress: bool | None,
) -> ValidationResult:
    validators = [_read(source, max_lines, s3, progress) for source in training + testing]
    if check_images:
        checker = ImageChecker(s3, progress)
        for validator in validators:
            for source_ref, problem in checker.check(list(validator.valid_images)).items():
                validator.reject_image(source_ref, problem)
    results = [validator.finish() for validator in validators]
    cross: list[Finding] = []
    if testing:
        cross = _compare(validators[0], validators[1])
    combined = ValidationResult()
    for result, validator in zip(results, validators, strict=True):
        combined.errors += result.errors
        combined.warnings += result.warnings
        dataset = "testing" if testing and validator is validators[-1] else "training"
        combined.summary.setdefault("manifests", []).append({"dataset": dataset, **result.summary})
    combined.errors += [finding for finding in cross if not finding.is_warning]
    combined.warnings += [finding for finding in cross if finding.is_warning]
    return combined


def _read(source: Source, max_lines: int, s3: S3, progress: bool | None) -> ManifestValidator:
    validator = ManifestValidator(max_lines, manifest=source.name)
    with tqdm(
        total=source.size,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=source.name,
        mininterval=0.5,
        disable=None if progress is None else not progress,
    ) as bar:
        try:
            with open_source(source, s3, on_bytes=bar.update) as stream:
                for _ in validator.feed_stream(stream):
                    pass
        except _READ_ERRORS as exc:
            raise InputError(f"{source.name}: {describe_error(exc)}") from exc
    return validator


def _compare(training: ManifestValidator, testing: ManifestValidator) -> list[Finding]:
    """Findings about a training and test pair (§3.1): shared images, label overlap."""
    found = []
    for source_ref, line in testing.first_lines.items():
        training_line = training.first_lines.get(source_ref)
        if training_line is not None:
            found.append(
                Finding(
                    codes.IMAGE_IN_TRAINING_AND_TEST,
                    line,
                    codes.message(
                        codes.IMAGE_IN_TRAINING_AND_TEST,
                        f"{source_ref} is also on line {training_line} of {training.manifest}.",
                    ),
                    manifest=testing.manifest,
                )
            )
    training_labels = training.labels
    if training_labels:
        common = training_labels & testing.labels
        if len(common) < MIN_LABEL_OVERLAP * len(training_labels):
            missing = sorted(training_labels - common)
            shown = ", ".join(missing[:10]) + (", …" if len(missing) > 10 else "")
            found.append(
                Finding(
                    codes.INSUFFICIENT_LABEL_OVERLAP,
                    None,
                    codes.message(
                        codes.INSUFFICIENT_LABEL_OVERLAP,
                        f"{len(common)} of the {len(training_labels)} training labels are in the "
                        f"test manifest ({len(common) / len(training_labels):.0%}). Not in the "
                        f"test manifest: {shown}.",
                    ),
                )
            )
    return sorted(found, key=sort_key)
