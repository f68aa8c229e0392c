"""The check of a merge's output, run partition by partition on the workers.

When the merged manifest has no more lines than the validator checks (Rekognition's line
quota), each partition's run of rendered lines is checked on a worker, and the main process
only writes the lines in order: it numbers the lines the checks name as it writes them, and
folds the checks together (:meth:`ManifestValidator.absorb_parts`). The result is the one
validator reading the whole manifest would give. Past the quota, only the first lines are
checked, which a partition cannot tell: the main process checks the lines as it writes them
(gtmerge.api).

How many lines the manifest has is known once every partition is merged. So a partition is
checked in the task that merges it when the partitions merged before it say the manifest will
be within the quota (:class:`CheckPlan`); the others are checked after the merge, when it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from gtmerge.finalmerge import write_runs
from gtmerge.ingest import ORDER_WIDTH
from gtmerge.spool import MergeResult, MergeTask, merge_partition
from gtmerge.validate import ManifestValidator

_FILE_BUFFER = 1 << 16
#: The share of the line quota below which the partitions are checked as they are merged.
_QUOTA_SHARE = 0.9


@dataclass(frozen=True)
class RunCheck:
    """Check the lines of the run file ``path`` (each behind its order key)."""

    path: str
    max_lines: int
    max_findings: int | None


@dataclass
class CheckedRun:
    """What the check of one run found, and the order key of each line it names."""

    validator: ManifestValidator
    keys: dict[int, bytes]


@dataclass(frozen=True)
class CheckLimits:
    """The validator's line quota and findings kept per code."""

    max_lines: int
    max_findings: int | None


@dataclass(frozen=True)
class MergeAndCheck:
    """Merge a partition, and with ``limits``, check its run on the same worker."""

    task: MergeTask
    limits: CheckLimits | None


def merge_and_check(job: MergeAndCheck) -> tuple[MergeResult, CheckedRun | None]:
    merged = merge_partition(job.task)
    if job.limits is None:
        return merged, None
    return merged, check_run(RunCheck(merged.run, job.limits.max_lines, job.limits.max_findings))


class CheckPlan:
    """Whether to check the next partition with its merge: when the partitions merged so far,
    scaled to all of them, hold at most :data:`_QUOTA_SHARE` of the quota's lines (the
    partitions are hash-partitioned, so they hold alike shares). A wrong guess costs only
    time: checks made past the quota are not used, and runs not checked are checked later."""

    def __init__(self, partitions: int, limits: CheckLimits, records: int) -> None:
        self.partitions = partitions
        self.limits = limits
        #: no more images than records were read
        self.within_quota = records <= limits.max_lines
        self.merged = 0
        self.images = 0

    def next_limits(self) -> CheckLimits | None:
        if self.within_quota:
            return self.limits
        if not self.merged:
            return None
        expected = self.images * self.partitions / self.merged
        return self.limits if expected <= self.limits.max_lines * _QUOTA_SHARE else None

    def saw(self, images: int) -> None:
        self.merged += 1
        self.images += images


def check_run(task: RunCheck) -> CheckedRun:
    validator = ManifestValidator(
        task.max_lines, remember_refs=False, max_findings=task.max_findings
    )
    keys = []
    with open(task.path, "rb", _FILE_BUFFER) as run:
        while lines := run.readlines(_FILE_BUFFER):
            keys += [line[:ORDER_WIDTH] for line in lines]
            validator.feed_lines([line[ORDER_WIDTH:] for line in lines])
    return CheckedRun(validator, {line: keys[line - 1] for line in validator.referenced_lines()})


def write_checked(
    runs: list[str], checked: list[CheckedRun], out: BinaryIO, validator: ManifestValidator
) -> None:
    """Write the lines of ``runs`` in order to ``out``, and fold their checks into
    ``validator``, their lines numbered as written."""
    wanted = {key for check in checked for key in check.keys.values()}
    written, numbers = write_runs(runs, out.write, wanted=wanted)
    validator.absorb_parts(
        [
            (check.validator, {line: numbers[key] for line, key in check.keys.items()})
            for check in checked
        ],
        written,
    )
