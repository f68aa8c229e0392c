"""Streaming validation of one manifest: line checks as lines arrive, manifest checks at the end.

State kept per manifest: the first line of every source-ref (duplicates, images, train/test
overlap), the lines that hold boxes, per-label image counts and per-bucket line counts. Nothing
else of a line outlives :meth:`ManifestValidator.feed`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

import orjson

from gtmerge.errors import quoted
from gtmerge.keys import bucket_of, control_character_problem
from gtmerge.rekognition import (
    DEFAULT_MAX_LINES,
    INVALID_LINE_RATIO,
    MAX_LABELS_PER_MANIFEST,
    MAX_LINE_CHARS,
    MAX_MANIFEST_BYTES,
    MIN_CLASSIFICATION_LABELS,
    MIN_DETECTION_LABELS,
)
from gtmerge.sources import MAX_LINE_BYTES, BlankLines, read_lines
from gtmerge.validate import codes, lines
from gtmerge.validate.findings import Finding, ValidationResult, sort_key
from gtmerge.validate.images import ImageProblem
from gtmerge.validate.lines import (
    BOX_LABELS,
    CLASS_LABELS,
    INVALID,
    VALID,
    LineError,
    Pairs,
    check_pairs,
    count_names,
    line_pairs,
)

IMAGE_LEVEL_LABELS, OBJECT_LOCALIZATION, NOT_DETERMINED = (
    "IMAGE_LEVEL_LABELS",
    "OBJECT_LOCALIZATION",
    "NOT_DETERMINED",
)
#: API shape S3Object.Bucket (formats.md §3.5).
_BUCKET_NAME = re.compile(r"[0-9A-Za-z.\-_]{3,255}")
_MAX_KEY_CHARS = 1024
_MISSING: Any = object()
_loads = orjson.loads  # one global read per line, not two
#: Lines :meth:`ManifestValidator.feed_stream` feeds at once.
_FEED_BATCH = 1000


class ManifestValidator:
    """Feed it the lines of one manifest, then :meth:`finish` it.

    ``manifest`` names the manifest in findings; ``max_lines`` is the line quota (lines past it
    are counted, not validated, as Rekognition does).

    For a manifest of any size (the merge validates what it writes), ``remember_refs=False``
    keeps no per-image state (a writer that makes each source-ref once needs no duplicate
    check, and nothing reads ``first_lines``), and ``max_findings`` keeps at most that many
    findings of each code; ``ValidationResult.summary["findings_by_code"]`` still counts all.
    """

    def __init__(
        self,
        max_lines: int = DEFAULT_MAX_LINES,
        *,
        manifest: str | None = None,
        remember_refs: bool = True,
        max_findings: int | None = None,
    ) -> None:
        self.manifest = manifest
        self.max_lines = max_lines
        self.remember_refs = remember_refs
        self.max_findings = max_findings
        self._findings_by_code: dict[str, int] = {}
        self._images = 0
        self._line = 0
        self._bytes = 0
        self._counts = [0, 0, 0]  # indexed by VALID, INVALID, IGNORED
        self._errors: list[Finding] = []
        self._warnings: list[Finding] = []
        self._error_lines: set[int] = set()
        #: source-ref → its first line, for every line whose source-ref is well formed.
        self.first_lines: dict[str, int] = {}
        #: Lines in ``first_lines`` that Rekognition would not import.
        self._unused_lines: set[int] = set()
        self._boxed_lines: set[int] = set()
        #: bucket → the first line with an image in it.
        self._buckets: dict[str, int] = {}
        #: ``s3://bucket/`` of the last bucket seen: most manifests have one, so most lines
        #: are recognised by one startswith.
        self._bucket_prefix = "\0"
        self._longest_ref = 0  # len(_bucket_prefix) + the longest key S3 takes
        self._pairing: dict[tuple[str, ...], Pairs] = {}
        self._count_clean_labels = lines.count_clean_labels
        # one switch for both: tests and benchmarks turn the C checks off through the first
        self._feed_lines = lines.feed_lines if lines.count_clean_labels is not None else None
        self._class_label_images: dict[str, int] = {}
        self._object_label_images: dict[str, int] = {}
        self._class_lines = 0
        self._object_lines = 0

    # ---- per line -------------------------------------------------------------------------

    def feed_overlong(self, size: int) -> None:
        """Count a line of ``size`` bytes that was too long to read (it is not held)."""
        line = self._line = self._line + 1
        self._bytes += size
        if line <= self.max_lines:
            self._line_error(
                codes.LINE_TOO_LONG,
                f"It has {size:,} bytes, over the {MAX_LINE_BYTES >> 20} MiB gtmerge reads.",
            )

    def feed_stream(self, stream: BinaryIO) -> Iterator[bytes]:
        """Validate every line of ``stream``, read through the shared line reader (a line over
        its limit is counted, not held; a run of blank lines is one step, not millions), and
        yield each line that may hold an image, once it has been fed."""
        # Lines are fed a batch at a time (one C call for a run of clean lines), each batch
        # before what follows it: an overlong line is counted when its None comes, not when
        # the reader measures it.
        batch: list[bytes] = []
        overlong: list[int] = []
        for raw_line in read_lines(stream, on_overlong=overlong.append):
            if isinstance(raw_line, bytes):
                batch.append(raw_line)
                if len(batch) < _FEED_BATCH:
                    continue
            self.feed_lines(batch)
            yield from batch
            batch = []
            if isinstance(raw_line, BlankLines):
                self.feed_blank(raw_line.lines, raw_line.line)
            elif raw_line is None:
                self.feed_overlong(overlong.pop())
        self.feed_lines(batch)
        yield from batch

    def feed_blank(self, lines: int, raw_line: bytes = b"\n") -> None:
        """Validate a run of ``lines`` blank lines, each ``raw_line``: those past the lines
        checked are only counted."""
        checked = max(min(lines, self.max_lines - self._line), 0)
        for _ in range(checked):
            self.feed(raw_line)
        self._line += lines - checked
        self._bytes += (lines - checked) * len(raw_line)

    def feed(self, raw_line: bytes) -> None:
        """Validate one physical line, with or without its line break."""
        self.feed_lines([raw_line])

    def feed_lines(self, raw_lines: list[bytes]) -> None:
        """Validate physical lines, in order, each with or without its line break."""
        fast = self._feed_lines
        start = 0
        while start < len(raw_lines):
            parsed = None
            if fast is not None:  # the clean lines from ``start`` on, in one C call
                done, size, class_lines, object_lines, parsed = fast(
                    raw_lines,
                    start,
                    self._bucket_prefix,
                    self._longest_ref,
                    self._pairing,
                    self._class_label_images,
                    self._object_label_images,
                    self.first_lines if self.remember_refs else None,
                    self._boxed_lines if self.remember_refs else None,
                    self._line,
                    self.max_lines,
                    MAX_LINE_CHARS,
                )
                self._line += done
                self._bytes += size
                self._images += done
                self._counts[VALID] += done
                self._class_lines += class_lines
                self._object_lines += object_lines
                start += done
                if start == len(raw_lines):
                    return
            self._feed_one(raw_lines[start], parsed)
            start += 1

    def _feed_one(self, raw_line: bytes, parsed: Any) -> None:
        """Validate one line by the rules (``parsed``: the line parsed, or None)."""
        # This runs once per line without the C fast path: every attribute read and call
        # saved here is measurable against parsing alone (scripts/bench_validate.py).
        line = self._line = self._line + 1
        size = len(raw_line)
        self._bytes += size if raw_line.endswith(b"\n") else size + 1
        if line > self.max_lines:
            return
        if size > MAX_LINE_CHARS:
            chars = len(raw_line.decode("utf-8", "replace").rstrip("\r\n"))
            if chars > MAX_LINE_CHARS:
                self._line_error(codes.LINE_TOO_LONG, f"It has {chars:,}.")
                return
        try:
            record = _loads(raw_line) if parsed is None else parsed
        except orjson.JSONDecodeError as exc:
            self._line_error(codes.INVALID_JSON_LINE, _json_error(raw_line, exc))
            return
        if type(record) is not dict:
            self._line_error(
                codes.INVALID_JSON_LINE,
                f"The line is a JSON {type(record).__name__}, not an object.",
            )
            return
        source_ref = record.get("source-ref", _MISSING)
        prefix = self._bucket_prefix
        if not (
            type(source_ref) is str
            and source_ref.startswith(prefix)
            and len(prefix) < len(source_ref) <= self._longest_ref
            and source_ref.isprintable()
        ) and not self._new_bucket(source_ref):
            return
        self._images += 1
        if self.remember_refs:
            first = self.first_lines.setdefault(source_ref, line)
            if first != line:
                self._images -= 1
                self._line_error(codes.DUPLICATE_SOURCE_REF, f"It is first on line {first}.")
                return
        pairs = line_pairs(record, self._pairing)
        fast = self._count_clean_labels
        kinds = (
            fast(record, pairs, self._class_label_images, self._object_label_images)
            if fast is not None
            else 0
        )
        if kinds:
            self._counts[VALID] += 1
        else:
            kinds = self._check_by_rules(record, pairs, line)
        self._counted(kinds, line)

    def _counted(self, kinds: int, line: int) -> None:
        """Count a line that has ``kinds`` of labels (0 for an invalid line)."""
        if kinds & CLASS_LABELS:
            self._class_lines += 1
        if kinds & BOX_LABELS:
            self._object_lines += 1
            if self.remember_refs:
                self._boxed_lines.add(line)

    def _check_by_rules(self, record: dict[str, Any], pairs: Pairs, line: int) -> int:
        """The line checks for a line the fast path did not take: its findings are reported,
        its names counted if it is valid; returns what it has (0 unless it is valid)."""
        try:
            status, class_names, object_names, found = check_pairs(record, pairs)
        except LineError as error:
            self._add(error.finding(line, self.manifest))
            status, found = INVALID, []
        self._counts[status] += 1
        for code, detail, attribute, annotation in found:
            message = codes.message(code, detail)
            self._add(Finding(code, line, message, attribute, annotation, self.manifest))
        if status != VALID:
            if self.remember_refs:
                self._unused_lines.add(line)
            return 0
        return count_names(
            class_names, object_names, self._class_label_images, self._object_label_images
        )

    def _new_bucket(self, source_ref: Any) -> bool:
        """Check a source-ref that is not in the last bucket seen: report it if it is not a
        well-formed ``s3://bucket/key``, else remember its bucket."""
        if source_ref is _MISSING:
            self._line_error(codes.MISSING_SOURCE_REF)
            return False
        control = control_character_problem(source_ref) if type(source_ref) is str else None
        if control is not None:
            detail = f"{quoted(source_ref)} {control}."
        elif type(source_ref) is str and source_ref.startswith("s3://"):
            slash = source_ref.find("/", 5)
            if 5 < slash < len(source_ref) - 1:
                bucket = source_ref[5:slash]
                if _BUCKET_NAME.fullmatch(bucket) and len(source_ref) - slash - 1 <= _MAX_KEY_CHARS:
                    self._buckets.setdefault(bucket, self._line)
                    self._bucket_prefix = source_ref[: slash + 1]
                    self._longest_ref = slash + 1 + _MAX_KEY_CHARS
                    return True
            detail = (
                f"{quoted(source_ref)} needs a valid bucket name and an object key of 1 to "
                f"{_MAX_KEY_CHARS} characters."
            )
        elif type(source_ref) is str and source_ref[:5].lower() == "s3://":
            detail = (
                f"{quoted(source_ref)}: write the scheme in lower case, s3:// (whether Rekognition "
                "accepts other cases is not documented)."
            )
        elif type(source_ref) is str:
            detail = f"{quoted(source_ref)} is not an s3://bucket/key URI."
        else:
            detail = f"source-ref must be a string, not {_json_type(source_ref)}."
        self._line_error(codes.INVALID_SOURCE_REF_FORMAT, detail)
        return False

    @property
    def valid_images(self) -> dict[str, int]:
        """source-ref → line, for the lines Rekognition would import."""
        unused = self._unused_lines
        return {ref: line for ref, line in self.first_lines.items() if line not in unused}

    def _line_error(self, code: str, detail: str | None = None) -> None:
        self._add(Finding(code, self._line, codes.message(code, detail), manifest=self.manifest))
        self._counts[1] += 1

    def _add(self, finding: Finding) -> None:
        count = self._findings_by_code.get(finding.code, 0) + 1
        self._findings_by_code[finding.code] = count
        if self.max_findings is not None and count > self.max_findings:
            if not finding.is_warning and finding.line is not None:
                self._error_lines.add(finding.line)
            return
        if finding.is_warning:
            self._warnings.append(finding)
        else:
            self._errors.append(finding)
            if finding.line is not None:
                self._error_lines.add(finding.line)

    # ---- chunks ---------------------------------------------------------------------------

    def absorb(self, later: ManifestValidator) -> None:
        """Fold in what ``later`` found in the lines that follow this validator's own (see
        :func:`check_chunk`), so that processes can share the line checks of one manifest.

        Only for validators that keep no per-image state (``remember_refs=False``): a source-ref
        repeated across chunks would go unnoticed.
        """
        assert not self.remember_refs and not later.remember_refs
        kept = Counter(finding.code for finding in later._errors + later._warnings)
        for finding in later._errors + later._warnings:  # each list is in line order
            self._add(finding)
        for code, count in later._findings_by_code.items():  # those past later's own limit
            self._findings_by_code[code] = self._findings_by_code.get(code, 0) + count - kept[code]
        self._error_lines |= later._error_lines
        self._line = later._line
        for bucket, line in later._buckets.items():
            self._buckets.setdefault(bucket, line)
        self._add_counts(later)

    def _add_counts(self, other: ManifestValidator) -> None:
        """Add the line, image and label counts of another validator's lines."""
        self._images += other._images
        self._bytes += other._bytes
        for status, count in enumerate(other._counts):
            self._counts[status] += count
        for ours, theirs in (
            (self._class_label_images, other._class_label_images),
            (self._object_label_images, other._object_label_images),
        ):
            for name, count in theirs.items():
                ours[name] = ours.get(name, 0) + count
        self._class_lines += other._class_lines
        self._object_lines += other._object_lines

    def referenced_lines(self) -> set[int]:
        """Every line number this validator holds: its findings', error lines', buckets'."""
        found = {f.line for f in self._errors + self._warnings if f.line is not None}
        return found | self._error_lines | set(self._buckets.values())

    def absorb_parts(
        self, parts: Sequence[tuple[ManifestValidator, Mapping[int, int]]], lines: int
    ) -> None:
        """Fold in validators that each checked some of the lines of a manifest of ``lines``
        lines, in any order (the partitions of a merge), each with the map from its own line
        numbers to the manifest's (:meth:`referenced_lines` are enough). The findings kept
        are the first of each code in the whole manifest, as when one validator reads it."""
        assert not self.remember_refs and all(not part.remember_refs for part, _ in parts)
        found = []
        past_limits: Counter[str] = Counter()  # findings each part counted but did not keep
        for part, numbers in parts:
            kept = Counter(finding.code for finding in part._errors + part._warnings)
            for code, count in part._findings_by_code.items():
                past_limits[code] += count - kept[code]
            found += [
                finding if finding.line is None else replace(finding, line=numbers[finding.line])
                for finding in part._errors + part._warnings
            ]
            self._error_lines.update(numbers[line] for line in part._error_lines)
            self._add_counts(part)
        # a line is one part's: sorted by line alone, its findings keep the order they were met
        for finding in sorted(found, key=lambda finding: finding.line or 0):
            self._add(finding)
        for code, count in past_limits.items():
            self._findings_by_code[code] = self._findings_by_code.get(code, 0) + count
        # in the order of their first lines, as one validator meets them
        firsts = [
            (numbers[line], bucket)
            for part, numbers in parts
            for bucket, line in part._buckets.items()
        ]
        for line, bucket in sorted(firsts):
            self._buckets.setdefault(bucket, line)
        self._line += lines

    # ---- images ---------------------------------------------------------------------------

    def reject_image(self, source_ref: str, problem: ImageProblem) -> None:
        """Record what ``--check-images`` found wrong with the image of a valid line; the line
        becomes invalid (it counts toward the 20% rule, §3.1)."""
        line = self.first_lines[source_ref]
        self._unused_lines.add(line)
        # §4.4: dimensions out of range get their own code on lines with boxes.
        code = (
            codes.INVALID_IMAGE_DIMENSION
            if problem.dimension and line in self._boxed_lines
            else codes.INVALID_IMAGE
        )
        self._add(Finding(code, line, codes.message(code, problem.reason), manifest=self.manifest))
        self._counts[VALID] -= 1
        self._counts[1] += 1

    # ---- manifest -------------------------------------------------------------------------

    @property
    def use_case(self) -> str:
        """The use case Rekognition would pick: the one with more valid lines (a tie goes to
        object localization, whose lines carry more information)."""
        if not self._class_lines and not self._object_lines:
            return NOT_DETERMINED
        if self._object_lines >= self._class_lines:
            return OBJECT_LOCALIZATION
        return IMAGE_LEVEL_LABELS

    @property
    def labels(self) -> set[str]:
        """Every label of the lines Rekognition would import."""
        return self._class_label_images.keys() | self._object_label_images.keys()

    def finish(self, total_bytes: int | None = None) -> ValidationResult:
        """Run the manifest-level checks. ``total_bytes`` overrides the byte count of the lines
        fed (pass the file size when lines were fed without their line breaks)."""
        size = self._bytes if total_bytes is None else total_bytes
        if not self._line:
            self._manifest_error(codes.EMPTY_MANIFEST, "It has no lines.")
        if size > MAX_MANIFEST_BYTES:
            self._manifest_error(
                codes.MANIFEST_SIZE_TOO_LARGE, f"It has {size:,} bytes; the limit is 1 GiB."
            )
        if self._line > self.max_lines:
            self._manifest_error(
                codes.MANIFEST_ROWS_EXCEEDS_MAXIMUM,
                f"It has {self._line:,} lines; the quota is {self.max_lines:,} (use --max-lines "
                "for a raised quota). Lines past the quota were not validated.",
            )
        if len(self._buckets) > 1:
            lines_per_bucket = Counter(bucket_of(ref) for ref in self.first_lines)
            self._manifest_error(
                codes.IMAGES_IN_MULTIPLE_S3_BUCKETS,
                "Buckets: "
                + ", ".join(
                    f"{bucket} ({lines_per_bucket[bucket]} lines, first on line {first})"
                    if self.remember_refs
                    else f"{bucket} (first on line {first})"
                    for bucket, first in self._buckets.items()
                )
                + ".",
            )
        self._check_label_counts()
        validated = min(self._line, self.max_lines)
        invalid = self._counts[1]
        if validated and invalid > INVALID_LINE_RATIO * validated:
            self._manifest_error(
                codes.TOO_MANY_INVALID_ROWS_IN_MANIFEST,
                f"{invalid:,} of {validated:,} lines ({invalid / validated:.1%}) are invalid; "
                f"Rekognition fails the import above {INVALID_LINE_RATIO:.0%}.",
            )
        return ValidationResult(
            sorted(self._errors, key=sort_key), sorted(self._warnings, key=sort_key), self.summary()
        )

    def _check_label_counts(self) -> None:
        labels = self.labels
        if len(labels) > MAX_LABELS_PER_MANIFEST:
            self._manifest_error(
                codes.MANIFEST_TOO_MANY_LABELS,
                f"It has {len(labels)}; the limit is {MAX_LABELS_PER_MANIFEST}.",
            )
        use_case = self.use_case
        if not self._line or use_case == NOT_DETERMINED:
            if self._line:
                self._manifest_error(codes.MANIFEST_TOO_FEW_LABELS, "No line has a usable label.")
            return
        if use_case == IMAGE_LEVEL_LABELS:
            found, needed, kind = (
                len(self._class_label_images),
                MIN_CLASSIFICATION_LABELS,
                ("image-level classification"),
            )
        else:
            found, needed, kind = (
                len(self._object_label_images),
                MIN_DETECTION_LABELS,
                ("object localization"),
            )
        if found < needed:
            self._manifest_error(
                codes.MANIFEST_TOO_FEW_LABELS,
                f"It has {found} {kind} label{'s' if found != 1 else ''}; {kind} needs at least "
                f"{needed}. (gtmerge follows Rekognition's quotas page: 2 for classification, 1 "
                "for localization. Its validation table says 2 for both, and the "
                "ERROR_MANIFEST_TOO_FEW_USABLE_LABELS text says the reverse.)",
            )

    def _manifest_error(self, code: str, detail: str) -> None:
        self._add(Finding(code, None, codes.message(code, detail), manifest=self.manifest))

    def summary(self) -> dict[str, Any]:
        """Statistics named as in ``manifest_summary.json``; line indices are 1-based."""
        valid, invalid, ignored = self._counts
        label_images = dict(self._class_label_images)
        for name, count in self._object_label_images.items():
            label_images[name] = label_images.get(name, 0) + count
        return {
            "manifest": self.manifest,
            "use_case": self.use_case,
            "total_json_lines": self._line,
            "valid_json_lines": valid,
            "invalid_json_lines": invalid,
            "ignored_json_lines": ignored,
            "error_json_line_indices": sorted(self._error_lines),
            "bytes": self._bytes,
            "images": self._images,
            "labels": dict(sorted(label_images.items())),
            "buckets": sorted(self._buckets),
            "findings_by_code": dict(sorted(self._findings_by_code.items())),
        }


def _json_error(raw_line: bytes, exc: orjson.JSONDecodeError) -> str:
    """orjson's reason without its position, which counts the line break as a line."""
    if not raw_line.strip():
        return "The line is blank."
    reason = str(exc).partition(": line ")[0]
    return f"{reason[:1].upper()}{reason[1:]} (at character {exc.pos + 1})."


def _json_type(value: object) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


@dataclass(frozen=True)
class LineChunk:
    """Consecutive lines of a manifest, for :func:`check_chunk` in another process."""

    lines_before: int
    lines: list[bytes]
    max_lines: int = DEFAULT_MAX_LINES
    max_findings: int | None = None


def check_chunk(chunk: LineChunk) -> ManifestValidator:
    """The line checks of one chunk, numbered as in the whole manifest; fold the result into
    the validator of the lines before with :meth:`ManifestValidator.absorb`."""
    validator = ManifestValidator(
        chunk.max_lines, remember_refs=False, max_findings=chunk.max_findings
    )
    validator._line = chunk.lines_before
    validator.feed_lines(chunk.lines)
    return validator
