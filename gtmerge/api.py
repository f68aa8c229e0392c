"""``gtmerge.merge()``: the whole run from inputs to a manifest, a report and a rejects file.

The CLI is a thin layer over this function. A run either completes, or raises
:class:`~gtmerge.errors.MergeError` (or ``KeyboardInterrupt``) with every destination left as
it was and its temporary files removed.

Small inputs are merged in memory. Larger ones go through the two-pass spool of
:mod:`gtmerge.spool`, on ``workers`` processes; both paths give the same bytes.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from typing import Any, BinaryIO, NamedTuple

import orjson
from tqdm import tqdm

from gtmerge import interrupts
from gtmerge.aftermerge import AfterMerge, SplitOptions
from gtmerge.consolidate import OptionError, consolidation
from gtmerge.consolidate.config import (
    DEFAULT_IOU,
    DEFAULT_REJECT_VERDICTS,
    Consolidation,
    OnReject,
    Policy,
    Tie,
    VerdictMode,
)
from gtmerge.destination import Outputs, work_directory
from gtmerge.errors import BadRecord, InvalidOutput, MergeError
from gtmerge.finalmerge import write_runs
from gtmerge.ingest import ORDER_WIDTH, part_of
from gtmerge.mapping.config import builtin_names
from gtmerge.planning import Plan, plan_run, split_inputs
from gtmerge.readers import ReadContext
from gtmerge.readers.base import TableSpace
from gtmerge.report import InputStats, Report
from gtmerge.runcheck import (
    CheckedRun,
    CheckLimits,
    CheckPlan,
    MergeAndCheck,
    RunCheck,
    check_run,
    merge_and_check,
    write_checked,
)
from gtmerge.s3 import S3, S3Settings
from gtmerge.sources import InputError, Source, expand
from gtmerge.spool import (
    MergeTask,
    SpoolTask,
    merged_lines,
    ordered_lines,
    rejects_path,
    spool_input,
)
from gtmerge.validate import ManifestValidator
from gtmerge.validate.manifest import LineChunk, check_chunk
from gtmerge.workers import Runner, runner
from gtmerge.writer import DEFAULT_BOX_ATTRIBUTE, DEFAULT_LABEL_ATTRIBUTE, ManifestFormat

DEFAULT_MEMORY_MB = 128
_FINDINGS_KEPT_PER_CODE = 1000
#: Lines of the output checked per task when workers validate it (about 1 MB each).
_VALIDATION_CHUNK_LINES = 2000
__all__ = ["BadRecord", "InvalidOutput", "MergeError", "merge"]


def split_mapping(spec: str) -> tuple[str | None, str]:
    """``"csv=labels.csv"`` → ``("csv", "labels.csv")``.

    Only a built-in mapping name or a ``.yaml``/``.yml`` file counts as a prefix, so paths
    such as ``date=2024-01-01/output.manifest`` (or globs over them) stay paths.
    """
    mapping, sep, path = spec.partition("=")
    is_mapping = mapping in builtin_names() or mapping.endswith((".yaml", ".yml"))
    if not sep or not path or not is_mapping or os.path.exists(spec):
        return None, spec
    return mapping, path


def merge(
    inputs: Sequence[str],
    output: str,
    *,
    mapping: str | None = None,
    image_root: str | None = None,
    attribute: str = DEFAULT_LABEL_ATTRIBUTE,
    box_attribute: str = DEFAULT_BOX_ATTRIBUTE,
    report: str | None = None,
    rejects: str | None = None,
    strict: bool = False,
    fail_on_invalid: bool = False,
    policy: Policy = "union",
    quorum: float | None = None,
    tie: Tie = "drop",
    iou: float = DEFAULT_IOU,
    verdicts: VerdictMode = "apply",
    reject_verdicts: Sequence[str] = DEFAULT_REJECT_VERDICTS,
    verifies: Sequence[str] = (),
    on_reject: OnReject = "labels",
    questions: Sequence[str] = (),
    rename: Sequence[str] = (),
    drop_classes: Sequence[str] = (),
    keep_classes: Sequence[str] = (),
    min_confidence: float | None = None,
    human_only: bool = False,
    conflicts: str | None = None,
    relabel: str | None = None,
    endpoint_url: str | None = None,
    sse: str | None = None,
    sse_kms_key_id: str | None = None,
    expected_bucket_owner: str | None = None,
    progress: bool | None = None,
    workers: int | None = None,
    memory_mb: int = DEFAULT_MEMORY_MB,
    tmp_dir: str | None = None,
    split: float | None = None,
    test_output: str | None = None,
    split_method: str = "stratified",
    seed: int = 0,
    split_keep: str | None = None,
    split_keep_training: str | None = None,
    split_group: str | None = None,
    split_group_path: str | None = None,
    html: str | None = None,
) -> Report:
    """Merge every input into one Rekognition manifest at ``output``; return the report.

    ``inputs`` are paths, globs, ``-`` or ``s3://`` URLs (objects or globs), each optionally
    prefixed with the mapping to read it with (``"csv=legacy.csv"``); ``mapping`` is the
    default for the rest (None: detect each input's format). ``progress=None`` shows a bar
    only on a terminal. ``workers`` defaults to the number of cores; ``memory_mb`` bounds the
    merge's working memory, spilling to ``tmp_dir`` (default: the system's) beyond it.

    The consolidation options (``policy`` to ``human_only``) are those of ``gtmerge merge``
    and are explained in ``docs/merging.md``; ``conflicts`` receives one JSON line per image
    and question whose answers differ, ``relabel`` the images a verdict rejected, as a Ground
    Truth input manifest.

    ``split`` sends that fraction of the images to ``test_output`` and the rest to ``output``
    (see :func:`gtmerge.split.split`, whose ``method``, ``seed``, ``keep``, ``keep_training``,
    ``group`` and ``group_path`` are ``split_method``, ``seed`` and ``split_*`` here);
    ``html`` writes the page of
    :func:`gtmerge.stats.stats` for the outputs and this run (:mod:`gtmerge.aftermerge`).
    """
    fmt = _manifest_format(attribute, box_attribute)
    try:
        rules = consolidation(
            policy=policy,
            quorum=quorum,
            tie=tie,
            iou=iou,
            verdicts=verdicts,
            reject_verdicts=reject_verdicts,
            verifies=verifies,
            on_reject=on_reject,
            questions=questions,
            rename=rename,
            drop_classes=drop_classes,
            keep_classes=keep_classes,
            min_confidence=min_confidence,
            human_only=human_only,
        )
    except OptionError as exc:
        raise MergeError(str(exc)) from exc
    settings = S3Settings(endpoint_url, sse, sse_kms_key_id, expected_bucket_owner)
    s3 = S3(settings)
    sources = _expand_all(inputs, mapping, s3)
    after = AfterMerge(
        output,
        split,
        test_output,
        SplitOptions(
            split_method, seed, split_keep, split_keep_training, split_group, split_group_path
        ),
        html,
    )
    targets = [t for t in (output, report, rejects, conflicts, relabel) if t is not None]
    after.check(sources, targets, s3)
    result = after.report(output, rules)
    verifies_ = rules.verifies if rules.applies_verdicts else None
    # Each image is written once, so no duplicate check is needed: the validator then keeps
    # no per-image state, and only a sample of each kind of finding, whatever the size. As in
    # Rekognition, lines past the default quota are counted, not checked.
    validator = ManifestValidator(remember_refs=False, max_findings=_FINDINGS_KEPT_PER_CODE)
    with ExitStack() as stack:
        # Every destination is checked and staged before any input is read, and all are
        # committed together at the end (gtmerge/destination.py).
        outputs = stack.enter_context(Outputs(s3, [source.uri for source in sources]))
        # opened (and so committed) in this order: the manifest first, the report last
        out = outputs.open(output) if after.fraction is None else None
        rejects_out = outputs.open(rejects) if rejects is not None else None
        extra = _Extra(
            outputs.open(conflicts) if conflicts is not None else None,
            outputs.open(relabel) if relabel is not None else None,
        )
        report_out = outputs.open(report) if report is not None else None
        try:
            plan = plan_run(sources, s3, memory_mb, workers or os.cpu_count() or 1)
        except ValueError as exc:
            raise MergeError(str(exc)) from exc
        bar = stack.enter_context(_progress_bar(sources, progress))
        with interrupts.deferred():  # a directory made under a stop request would be left
            workdir = stack.enter_context(work_directory("gtmerge-", tmp_dir))
        interrupts.check()
        if out is None:
            # with --split, the merged manifest is only the split's input, kept in the workdir
            out = stack.enter_context(open(after.manifest(workdir), "wb"))
        context = ReadContext(
            s3, image_root, verifies=verifies_, tables=TableSpace(plan.table_bytes, workdir)
        )
        job = _Spooled(sources, context, settings, workdir, plan, strict, rules)
        work = stack.enter_context(runner(plan.workers, bar))
        limits = CheckLimits(validator.max_lines, _FINDINGS_KEPT_PER_CODE)
        runs, checked = job.run(work, fmt, result, rejects_out, extra, limits)
        if not work.parallel:
            write_runs(runs, out.write, validator.feed_lines)
        elif result.written.images <= validator.max_lines:  # every line is checked
            # each run on a worker: none of the lines goes down a pipe
            unchecked = [
                RunCheck(run, limits.max_lines, limits.max_findings)
                for run, check in zip(runs, checked, strict=True)
                if check is None
            ]
            late = work.map(check_run, unchecked)
            checks = [check or next(late) for check in checked]
            write_checked(runs, checks, out, validator)
        else:
            _write_and_validate(merged_lines(runs), out, validator, work)
        validation = validator.finish()
        result.validation = validation.summary_dict()
        if fail_on_invalid and validation.has_errors:
            first = validation.errors[0]
            where = "" if first.line is None else f" on line {first.line}"
            raise InvalidOutput(
                f"{output}: the merged manifest is not valid for Rekognition "
                f"({len(validation.errors)} errors, first: {first.code}{where}); "
                "nothing was written"
            )
        if after.fraction is not None:
            out.close()
            after.split_merged(result, workdir, s3)
        if report_out is not None:
            report_out.write(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2))
        outputs.commit()
    after.write_html(result, s3)
    return result


def _write_and_validate(
    lines: Iterator[bytes], out: BinaryIO, validator: ManifestValidator, work: Runner
) -> None:
    """Write the lines here and check them in the workers, chunk by chunk, in order."""

    def chunks() -> Iterator[LineChunk]:
        written = 0
        while chunk := list(itertools.islice(lines, _VALIDATION_CHUNK_LINES)):
            out.write(b"".join(chunk))
            yield LineChunk(written, chunk, max_findings=_FINDINGS_KEPT_PER_CODE)
            written += len(chunk)

    for checked in work.map_stream(check_chunk, chunks(), ahead=work.workers + 1):
        validator.absorb(checked)


def _manifest_format(attribute: str, box_attribute: str) -> ManifestFormat:
    try:
        return ManifestFormat(attribute, box_attribute)
    except ValueError as exc:
        raise MergeError(str(exc)) from exc


def _expand_all(inputs: Sequence[str], mapping: str | None, s3: S3) -> list[Source]:
    if not inputs:
        raise MergeError("no input given")
    sources: list[Source] = []
    for spec in inputs:
        own_mapping, path = split_mapping(spec)
        try:
            sources.extend(expand(path, s3, own_mapping or mapping))
        except InputError as exc:
            raise MergeError(str(exc)) from exc
    if sum(source.uri == "-" for source in sources) > 1:
        raise MergeError("-: standard input can be read only once")
    return sources


class _Extra(NamedTuple):
    """The destinations of the conflicts and the images to relabel (None: not asked for)."""

    conflicts: BinaryIO | None
    relabel: BinaryIO | None


class _Spooled:
    """The two-pass path: spool every input part, merge every partition, then k-way merge."""

    def __init__(
        self,
        sources: list[Source],
        context: ReadContext,
        settings: S3Settings,
        workdir: str,
        plan: Plan,
        strict: bool,
        rules: Consolidation,
    ) -> None:
        self.sources = sources
        self.workdir = workdir
        self.plan = plan
        self.rules = rules
        self.parts = split_inputs(sources, context, plan.workers, strict)
        self.spool_tasks = [
            SpoolTask(
                number,
                part.source,
                settings,
                context.image_root,
                workdir,
                plan.partition_bits,
                strict,
                context.verifies,
                context.tables,
            )
            for number, part in enumerate(self.parts)
        ]

    def run(
        self,
        work: Runner,
        fmt: ManifestFormat,
        report: Report,
        rejects: BinaryIO | None,
        extra: _Extra,
        limits: CheckLimits,
    ) -> tuple[list[str], list[CheckedRun | None]]:
        """Spool and merge every partition: the runs of rendered lines, one per partition,
        and the check of each run that workers checked as they merged it."""
        spooled = list(work.map_reading(spool_input, self.spool_tasks))
        part_stats = [stats for stats, _ in spooled]
        partitions = 1 << self.plan.partition_bits
        plan = CheckPlan(partitions, limits, sum(stats.lines for stats in part_stats))

        def merge_tasks() -> Iterator[MergeAndCheck]:
            for partition in range(partitions):
                task = MergeTask(
                    self.workdir,
                    tuple(part for _, part in spooled),
                    partition,
                    self.plan.partition_bits,
                    fmt,
                    self.plan.partition_bytes,
                    self.rules,
                )
                # made as the results come in: the plan goes by the partitions merged so far
                yield MergeAndCheck(task, plan.next_limits() if work.parallel else None)

        runs: list[str] = []
        checked: list[CheckedRun | None] = []
        rejected = [rejects_path(self.workdir, number) for number in range(len(self.parts))]
        conflicts: list[str] = []
        relabel: list[str] = []
        for merged, check in work.map_stream(merge_and_check, merge_tasks(), work.workers):
            plan.saw(merged.written.images)
            checked.append(check)
            runs.append(merged.run)
            rejected.append(merged.rejects)
            conflicts.append(merged.conflicts)
            relabel.append(merged.relabel)
            for stats, counted in zip(part_stats, merged.stats, strict=True):
                stats.add(counted)
            report.written.add(merged.written)
            report.consolidation.add(merged.consolidated)
        self._write_rejections(rejected, part_stats, rejects)
        for paths, out in ((conflicts, extra.conflicts), (relabel, extra.relabel)):
            if out is not None:
                for text in merged_lines(paths):
                    out.write(text)
            for path in paths:
                os.unlink(path)
        report.inputs.extend(self._fold(part_stats))  # after: folding adds up the parts' stats
        return runs, checked

    def _fold(self, part_stats: list[InputStats]) -> list[InputStats]:
        """One set of stats per input."""
        folded: list[InputStats] = []
        for part, stats in zip(self.parts, part_stats, strict=True):
            if part.source_index == len(folded):
                folded.append(stats)
            else:
                folded[-1].add(stats)
        return folded

    def _write_rejections(
        self, paths: list[str], part_stats: list[InputStats], rejects: BinaryIO | None
    ) -> None:
        """Every rejection in input order, a part's line numbers made the input's own."""
        offsets: list[int] = []
        for number, part in enumerate(self.parts):
            continued = number > 0 and self.parts[number - 1].source_index == part.source_index
            offsets.append(offsets[-1] + part_stats[number - 1].lines if continued else 0)
        if rejects is not None:
            for line in ordered_lines(paths):
                offset = offsets[part_of(line)]
                entry = line[ORDER_WIDTH:]
                if offset:
                    fields = orjson.loads(entry)
                    fields["line"] += offset
                    entry = orjson.dumps(fields, option=orjson.OPT_APPEND_NEWLINE)
                rejects.write(entry)
        for path in paths:
            os.unlink(path)


def _progress_bar(sources: list[Source], progress: bool | None) -> tqdm[Any]:
    sizes = [source.size for source in sources]
    total = sum(size for size in sizes if size is not None) if None not in sizes else None
    # disable=None lets tqdm decide (bar only on a terminal) and honours TQDM_DISABLE.
    return tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc="reading",
        mininterval=0.5,
        disable=None if progress is None else not progress,
        leave=False,
    )
