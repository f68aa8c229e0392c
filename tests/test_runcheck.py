"""The output check run per partition on the workers (gtmerge.runcheck) against one validator
reading the whole merged manifest: the same counts, findings, kept samples and line numbers."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from builders import boxes, classification, line

from gtmerge import api, planning, runcheck
from gtmerge.validate import ManifestValidator


def _inputs(tmp_path: Path) -> list[str]:
    rng = random.Random(5)
    lines = []
    for number in range(9000):  # some 3 MB: four partitions at 16 MB
        bucket = "s3://gt-bucket/images/" if number % 7 else "s3://other-bucket/x/"
        image = f"{bucket}img{rng.randrange(4000)}.jpg"
        answer = (
            classification("species", rng.choice(["deer", "elk", "fox"]))
            if number % 3
            # boxes past the image's edge: an error on the line in the merged manifest
            else boxes("bb", [("car", rng.randrange(700), 10, 50, 50)], size=(640, 480))
        )
        lines.append(line(image, answer))
    path = tmp_path / "in.manifest"
    path.write_text("".join(text + "\n" for text in lines))
    return [str(path)]


class _Guessing(runcheck.CheckPlan):
    """A plan that cannot tell from the records read that the manifest is within the quota:
    it guesses from the partitions merged so far, and the first are checked after the merge."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.within_quota = False


@pytest.mark.parametrize(("kept", "guessing"), [(1000, False), (3, False), (1000, True)])
def test_the_check_per_partition_is_the_check_of_the_whole_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kept: int, guessing: bool
) -> None:
    monkeypatch.setattr(api, "_FINDINGS_KEPT_PER_CODE", kept)
    if guessing:
        monkeypatch.setattr(api, "CheckPlan", _Guessing)
    monkeypatch.setattr(planning, "MEMORY_PER_INPUT_BYTE", 1000)  # spooled, on workers
    checked: list[int] = []
    write_checked = runcheck.write_checked

    def counted(runs: list[str], done: list[runcheck.CheckedRun], *args: Any) -> None:
        checked.append(len(done))
        write_checked(runs, done, *args)

    monkeypatch.setattr(api, "write_checked", counted)
    out = tmp_path / "merged.manifest"
    # --keep-class leaves some images unlabeled: a warning on their lines
    inputs = _inputs(tmp_path)
    report = api.merge(inputs, str(out), workers=2, memory_mb=16, keep_classes=["deer", "car"])
    whole = ManifestValidator(remember_refs=False, max_findings=kept)
    for text in out.read_bytes().splitlines(keepends=True):
        whole.feed(text)
    expected = whole.finish().summary_dict()
    assert checked and checked[0] > 1  # the runs were checked where they were merged
    assert report.validation == expected
    summary = expected["summary"]
    assert summary["invalid_json_lines"] > 10 and len(summary["buckets"]) == 2
    assert len(expected["warnings"]) > 10 if kept == 1000 else len(expected["warnings"]) <= 4
