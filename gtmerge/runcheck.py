"""The check of a merge's output, run partition by partition on the workers.

When the merged manifest has no more lines than the validator checks (Rekognition's line
quota), each partition's run of rendered lines is checked where it was written, in parallel,
and the main process only writes the lines in order: it numbers the lines the checks name as
it writes them, and folds the checks together (:meth:`ManifestValidator.absorb_parts`). The
result is the one validator reading the whole manifest would give. Past the quota, only the
first lines are checked, which a partition cannot tell: the main process checks the lines as it
writes them (gtmerge.api).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from gtmerge.ingest import ORDER_WIDTH
from gtmerge.spool import ordered_lines
from gtmerge.validate import ManifestValidator

_FILE_BUFFER = 1 << 16


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
    numbers: dict[bytes, int] = {}
    written = 0
    for line in ordered_lines(runs):
        written += 1
        key = line[:ORDER_WIDTH]
        if key in wanted:
            numbers[key] = written
        out.write(line[ORDER_WIDTH:])
    validator.absorb_parts(
        [
            (check.validator, {line: numbers[key] for line, key in check.keys.items()})
            for check in checked
        ],
        written,
    )
