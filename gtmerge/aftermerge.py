"""What ``merge --split F --test-output TEST`` and ``merge --html FILE`` do after the merge.

With a split, the merge writes its manifest to its work directory instead of ``output``, and
:func:`gtmerge.split.split` then writes the training manifest to ``output`` and the test
manifest to ``test_output``, committed together. The page is written last, from the outputs
as written and the run's report. The report (a :class:`MergeSplitReport`) carries the split.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from gtmerge.consolidate.config import Consolidation
from gtmerge.destination import check_writable, same_target
from gtmerge.errors import MergeError
from gtmerge.report import Report
from gtmerge.s3 import S3
from gtmerge.sources import InputError, Source
from gtmerge.split import SplitResult, check_split_options, split
from gtmerge.split.read import grouper
from gtmerge.stats import stats


@dataclass
class MergeSplitReport(Report):
    """The merge report, with the split of the written manifest when one was made."""

    split: SplitResult | None = None

    def to_dict(self) -> dict[str, Any]:
        document = super().to_dict()
        if self.split is not None:
            document["split"] = self.split.to_dict()
        return document

    def summary(self) -> str:
        text = super().summary()
        return text if self.split is None else f"{text}\n{self.split.summary()}"


@dataclass(frozen=True)
class SplitOptions:
    """How ``merge --split`` splits: the options of :func:`gtmerge.split.split`."""

    method: str = "stratified"
    seed: int = 0
    keep: str | None = None
    keep_training: str | None = None
    group: str | None = None
    group_path: str | None = None


@dataclass(frozen=True)
class AfterMerge:
    output: str
    fraction: float | None
    test_output: str | None
    options: SplitOptions
    html: str | None

    def check(self, sources: list[Source], targets: list[str], s3: S3) -> None:
        """Refuse inconsistent options and unwritable targets before any work is done."""
        if (self.fraction is None) != (self.test_output is None):
            raise MergeError("--split and --test-output go together")
        if self.fraction is not None:
            check_split_options(self.fraction, self.options.method)
            grouper(self.options.group, self.options.group_path)  # a bad pattern fails here
            if self.output == "-":
                raise MergeError("--split needs -o to name a file or an S3 object, not -")
        if self.html is not None and self.output == "-":
            raise MergeError("--html needs -o to name a file or an S3 object, not -")
        # an empty name is given, not left out: check_writable refuses it in one line
        extra = [target for target in (self.test_output, self.html) if target is not None]
        for number, target in enumerate(extra):
            if any(same_target(target, other) for other in targets + extra[number + 1 :]) or any(
                source.uri != "-" and same_target(target, source.uri) for source in sources
            ):
                raise MergeError(f"{target}: the inputs and every output need distinct files")
            check_writable(target, s3)

    def report(self, output: str, rules: Consolidation) -> Report:
        return MergeSplitReport(output, rules=rules)

    def manifest(self, workdir: str) -> str:
        """Where the merge writes its manifest."""
        if self.fraction is None:
            return self.output
        return os.path.join(workdir, "merged.manifest")

    def split_merged(self, report: Report, workdir: str, s3: S3) -> None:
        """Split the merged manifest in ``workdir`` into the two outputs, which are committed
        together (:mod:`gtmerge.split.pair`); the split goes into the report."""
        assert isinstance(report, MergeSplitReport)
        assert self.fraction is not None and self.test_output is not None
        report.split = split(
            self.manifest(workdir),
            self.output,
            self.test_output,
            fraction=self.fraction,
            method=self.options.method,
            seed=self.options.seed,
            keep=self.options.keep,
            keep_training=self.options.keep_training,
            group=self.options.group,
            group_path=self.options.group_path,
            s3=s3,
            tmp_dir=workdir,
        )

    def write_html(self, report: Report, s3: S3) -> None:
        """Write the page of what was written (a no-op without ``--html``)."""
        if self.html is None:
            return
        try:
            stats(
                self.output,
                test=self.test_output,
                merge_report=report.to_dict(),
                html=self.html,
                s3=s3,
            )
        except InputError as exc:
            raise MergeError(str(exc)) from exc
