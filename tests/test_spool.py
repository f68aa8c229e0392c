"""The out-of-core path gives exactly the bytes of the in-memory path, and cleans up."""

from __future__ import annotations

import json
import math
import os
import random
import resource
import signal
from pathlib import Path

import pytest
from builders import boxes, classification, line, multilabel
from tqdm import tqdm

from gtmerge import merge, planning, spool
from gtmerge.consolidate import Consolidation
from gtmerge.errors import MergeError
from gtmerge.readers import ReadContext
from gtmerge.s3 import S3Settings
from gtmerge.sources import Source
from gtmerge.spool import (
    MergeTask,
    SpoolTask,
    merge_partition,
    merged_lines,
    ordered_lines,
    spool_input,
)
from gtmerge.workers import runner
from gtmerge.writer import ManifestFormat


def write_jobs(directory: Path, lines_per_job: int, images: int, seed: int = 3) -> list[str]:
    """Three jobs over overlapping images, with duplicate lines and a few bad lines."""
    rng = random.Random(seed)
    paths = []
    for job in ("species", "scene", "boxes"):
        rows = []
        for number in range(lines_per_job):
            image = f"img_{rng.randrange(images):06d}.jpg"
            if number % 997 == 5:
                rows.append('{"source-ref": "s3://gt-bucket/images/x.jpg", ')
            elif job == "species":
                rows.append(line(image, classification("species", f"class{rng.randrange(9)}")))
            elif job == "scene":
                picks = {rng.randrange(5): (f"scene{k}", 0.5) for k in range(2)}
                rows.append(line(image, multilabel("scene", picks)))
            else:
                x = rng.randrange(10)
                rows.append(line(image, boxes("bb", [("dog", x, 1, 30, 40), ("cat", 2, x, 9, 9)])))
            if number % 101 == 0:
                rows.append(rows[-1])
        path = directory / f"{job}.manifest"
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        paths.append(str(path))
    return paths


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    # ~14 MB in all: far above what a 16 MB budget lets the merge hold in memory.
    return write_jobs(tmp_path_factory.mktemp("jobs"), 15_000, 20_000)


def run(jobs: list[str], out: Path, **options: object) -> tuple[bytes, dict[str, object], bytes]:
    report, rejects = out.with_suffix(".report.json"), out.with_suffix(".rejects.jsonl")
    merge(jobs, str(out), report=str(report), rejects=str(rejects), **options)  # type: ignore[arg-type]
    summary = json.loads(report.read_text())
    del summary["output"]
    return out.read_bytes(), summary, rejects.read_bytes()


def test_input_larger_than_the_budget_gives_the_in_memory_bytes(
    jobs: list[str], tmp_path: Path
) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    in_memory = run(jobs, tmp_path / "memory.manifest", memory_mb=4096, workers=1)
    for workers in (1, 2):
        spooled = run(
            jobs,
            tmp_path / f"spooled{workers}.manifest",
            memory_mb=16,
            workers=workers,
            tmp_dir=str(spool_dir),
        )
        assert spooled == in_memory
        assert list(spool_dir.iterdir()) == []  # every spool file is gone
    manifest, report, rejects = in_memory
    assert report["images_written"] == len(manifest.splitlines()) > 15_000
    assert report["totals"]["duplicates"] > 0
    assert len(rejects.splitlines()) == report["totals"]["rejected"] == 3 * 16


def test_an_oversized_partition_is_split_without_changing_the_result(
    jobs: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fmt = ManifestFormat()
    splits: list[int] = []
    split = spool._split

    def counted_split(task: MergeTask, paths: list[str]) -> spool.MergeResult:
        splits.append(task.bits)
        return split(task, paths)

    monkeypatch.setattr(spool, "_split", counted_split)
    results = {}
    # ~14 MB of spool: whole, split once into 16, or split twice (1 + 16 splits).
    for max_bytes in (1 << 40, 2_000_000, 200_000):
        directory = tmp_path / str(max_bytes)
        directory.mkdir()
        parts = []
        for index, path in enumerate(jobs):
            source = Source(path, None, "groundtruth")
            task = SpoolTask(index, source, S3Settings(), None, str(directory), 0, False)
            parts.append(spool_input(task)[1])
        splits.clear()
        task = MergeTask(str(directory), tuple(parts), 0, 0, fmt, max_bytes, Consolidation())
        merged = merge_partition(task)
        lines = list(merged_lines([merged.run]))
        rejected = Path(merged.rejects).read_bytes()
        counts = [(s.parsed, s.duplicates, sum(s.rejected.values())) for s in merged.stats]
        results[max_bytes] = (len(splits), lines, counts, rejected)
        # however often it was split, a partition leaves one run of each kind and no spool
        left = sorted(p.name for p in directory.iterdir() if not p.name.startswith("rejects"))
        assert left == sorted(Path(run).name for run in merged.runs)
    assert [result[0] for result in results.values()] == [0, 1, 17]
    whole = results[1 << 40][1:]
    assert results[2_000_000][1:] == whole
    assert results[200_000][1:] == whole


def test_strict_reports_the_first_bad_record_in_input_order(
    jobs: list[str], tmp_path: Path
) -> None:
    with pytest.raises(Exception, match=rf"^{jobs[0]}:7: invalid JSON"):
        merge(jobs, str(tmp_path / "out.manifest"), strict=True, memory_mb=16, workers=2)
    assert list(tmp_path.iterdir()) == []


def test_read_context_is_picklable_free_of_clients() -> None:
    # Tasks cross process boundaries: they carry S3 settings, never a live client.
    task = SpoolTask(0, Source("x"), S3Settings("http://127.0.0.1:1"), None, "/tmp", 0, False)
    assert "client" not in repr(task)
    assert ReadContext().image_root is None


def test_one_large_input_is_read_in_line_aligned_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(planning, "SPLIT_MIN_BYTES", 1 << 20)
    monkeypatch.setattr(planning, "SPLIT_PART_BYTES", 1 << 20)
    path = tmp_path / "consolidated.manifest"
    # Every 7th line is not JSON, so some parts start with a line that detection alone would
    # not take for Ground Truth.
    lines = "".join(Path(job).read_text() for job in write_jobs(tmp_path, 4_000, 5_000))
    path.write_text(
        "".join(
            f"oops, not json\n{text}" if number % 7 == 3 else text
            for number, text in enumerate(lines.splitlines(keepends=True))
        ),
        encoding="utf-8",
    )
    source = Source(str(path), path.stat().st_size)
    parts = planning.split_inputs([source], ReadContext(), workers=2, strict=False)
    assert len(parts) == math.ceil(path.stat().st_size / (1 << 20))  # one per MiB
    # every part is read as Ground Truth, whatever line happens to start it
    assert {part.source.mapping for part in parts} == {"groundtruth"}
    spans = [part.source.span for part in parts]
    assert spans[0][0] == 0 and spans[-1][1] == path.stat().st_size  # type: ignore[index]
    data = path.read_bytes()
    assert all(data[end - 1 : end] == b"\n" for _, end in spans)  # type: ignore[misc]

    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    in_memory = run([str(path)], tmp_path / "memory.manifest", memory_mb=4096, workers=1)
    in_parts = run(
        [str(path)], tmp_path / "parts.manifest", memory_mb=16, workers=2, tmp_dir=str(spool_dir)
    )
    assert in_parts == in_memory
    assert in_memory[1]["inputs"][0]["rejected"] == 3 * 5 + len(
        range(3, len(lines.splitlines()), 7)
    )  # type: ignore[index]
    assert list(spool_dir.iterdir()) == []


def _kill_own_process(task: int) -> int:
    os.kill(os.getpid(), signal.SIGKILL)
    return task


def test_a_worker_that_dies_fails_the_run_instead_of_hanging() -> None:
    with (
        pytest.raises(MergeError, match="a worker process ended unexpectedly"),
        runner(2, tqdm(disable=True)) as work,
    ):
        list(work.map(_kill_own_process, [1, 2]))


def test_ordered_lines_keeps_open_files_bounded_whatever_their_number(tmp_path: Path) -> None:
    """One rejects file per input part: thousands of inputs must not hit ``ulimit -n``."""
    paths = []
    for n in range(300):
        path = tmp_path / f"rejects-{n:06d}"
        path.write_bytes(b"".join(b"%08d %d\n" % (k * 300 + n, n) for k in range(3)))
        paths.append(str(path))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # room for 100 more files, whatever the test runner holds open already (and slack for
    # what its threads open meanwhile): still a third of the 300 files
    resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 100, hard))
    try:
        lines = list(ordered_lines(paths))
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert lines == sorted(lines)
    assert len(lines) == 900
    assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(p) for p in paths)
