"""SIGINT and SIGTERM at several moments of a real ``python -m gtmerge merge`` subprocess.

Each interrupted run must exit non-zero, leave the destination exactly as before (file or S3
object), leave no ``.gtmerge-*`` file next to it, nothing in its temp dir, no multipart upload
and no worker process; a rerun must give the bytes of a clean run. The moments are picked by
watching the run (spool files appear, the output's temp file fills) and by time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from builders import boxes, classification, line
from conftest import put_objects, read_object
from procs import gtmerge_command, record_figures, run_gtmerge

from gtmerge import merge

LINES = 100_000
PREVIOUS = b"previous manifest\n"
BUCKET = "interrupt-bucket"


@pytest.fixture(scope="module")
def big_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """100,000 Ground Truth lines (32 MB) over 60,000 images, and its clean merge next to it."""
    classified = line("IMAGE", classification("species", "CLASS"))
    boxed = line("IMAGE", boxes("bb", [("cat", 1, 2, 30, 40)]))
    text = "".join(
        (boxed if i % 4 == 0 else classified)
        .replace("IMAGE", f"img{i % 60_000:06d}.jpg")
        .replace("CLASS", f"c{i % 13}")
        + "\n"
        for i in range(LINES)
    )
    path = tmp_path_factory.mktemp("big") / "in.manifest"
    path.write_text(text)
    merge([str(path)], str(path.with_name("clean.manifest")), memory_mb=4096)
    return path


class Run:
    """One gtmerge subprocess in its own session, so SIGINT can go to the whole group (as a
    terminal's Ctrl-C does) and SIGTERM to the main process only (as ``kill`` does)."""

    def __init__(self, args: list[str], tmp: Path) -> None:
        self.tmp = tmp
        env = {**os.environ, "TMPDIR": str(tmp), "TQDM_DISABLE": "1"}
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            gtmerge_command(*args),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )

    def interrupt_when(
        self, ready: Callable[[], bool], sig: signal.Signals, *, group: bool | None = None
    ) -> bool:
        """Send ``sig`` once ``ready()``; False if the run ended first. By default SIGINT goes
        to the whole group and SIGTERM to the main process; ``group`` says otherwise."""
        while not ready():
            if self.proc.poll() is not None:
                return False
            if time.monotonic() - self.started > 120:
                raise TimeoutError("the moment to interrupt never came")
            time.sleep(0.01)
        if group if group is not None else sig == signal.SIGINT:
            os.killpg(self.proc.pid, sig)
        else:
            self.proc.send_signal(sig)
        return True

    def finish(self) -> tuple[int, str]:
        _, err = self.proc.communicate(timeout=60)
        deadline = time.monotonic() + 10
        while _group_alive(self.proc.pid):  # pool workers must go too
            assert time.monotonic() < deadline, "worker processes outlived the run"
            time.sleep(0.05)
        return self.proc.returncode, err.decode()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def after_start(tmp: Path, seconds: float) -> Callable[[], bool]:
    """``seconds`` after the run created its work directory (so past interpreter start-up)."""
    seen: list[float] = []

    def ready() -> bool:
        if not seen and any(tmp.glob("gtmerge-*")):
            seen.append(time.monotonic())
        return bool(seen) and time.monotonic() - seen[0] >= seconds

    return ready


def spooling(tmp: Path) -> Callable[[], bool]:
    """Pass 1 has written spool data."""
    return lambda: any(f.stat().st_size > 0 for f in tmp.glob("gtmerge-*/**/*") if f.is_file())


def reading(directory: Path) -> Callable[[], bool]:
    """The output's temp file is open and still empty: the inputs are being read."""
    return lambda: any(f.stat().st_size == 0 for f in directory.glob(".gtmerge-*"))


def writing(directory: Path) -> Callable[[], bool]:
    """The output's temp file has content."""
    return lambda: any(f.stat().st_size > 0 for f in directory.glob(".gtmerge-*"))


def assert_interrupted(code: int, err: str) -> None:
    """Exit 130 with the one-line message and nothing else (no traceback from any process)."""
    assert code == 130, err
    assert err == "gtmerge: interrupted; the destinations were left as they were\n"


SCENARIOS = {
    # name: (extra options, moments)
    "in-memory": (["--memory", "4096"], ["reading", "writing"]),
    "spooled-2-workers": (["--memory", "32", "--workers", "2"], ["spooling", "writing"]),
}


@pytest.mark.parametrize(
    ("scenario", "sig"),
    [
        pytest.param(scenario, sig, id=f"{scenario}-{sig.name}")
        for scenario in SCENARIOS
        for sig in (signal.SIGINT, signal.SIGTERM)
    ],
)
def test_local_merge_interrupted_leaves_everything_as_it_was(
    scenario: str,
    sig: signal.Signals,
    big_input: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    options, moments = SCENARIOS[scenario]
    out_dir, tmp = tmp_path / "out", tmp_path / "tmp"
    out_dir.mkdir()
    tmp.mkdir()
    out = out_dir / "train.manifest"
    out.write_bytes(PREVIOUS)
    args = ["merge", str(big_input), "-o", str(out), "--report", str(out_dir / "r.json"), *options]
    for moment in moments:
        run = Run(args, tmp)
        ready = {
            "reading": reading(out_dir),
            "spooling": spooling(tmp),
            "writing": writing(out_dir),
        }
        assert run.interrupt_when(ready[moment], sig), f"the run ended before {moment}"
        code, err = run.finish()
        assert_interrupted(code, err)
        assert sorted(os.listdir(out_dir)) == ["train.manifest"]
        assert out.read_bytes() == PREVIOUS
        assert os.listdir(tmp) == []
    done = run_gtmerge(*args, env={"TMPDIR": str(tmp)})
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == big_input.with_name("clean.manifest").read_bytes()
    assert os.listdir(tmp) == []
    record_figures(f"interrupts::{request.node.name}", interrupted=len(moments), records_lost=0)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_s3_to_s3_merge_killed_at_any_moment_never_changes_the_destination(
    sig: signal.Signals, s3: Any, big_input: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Signal at moments spread over a clean run's duration (default settings: spooled on
    two workers); a run that finished first must have written the clean bytes."""
    put_objects(s3, BUCKET, {"jobs/in.manifest": big_input.read_bytes()})
    clean = big_input.with_name("clean.manifest").read_bytes()
    args = ["merge", f"s3://{BUCKET}/jobs/in.manifest", "-o", f"s3://{BUCKET}/out.manifest"]
    started = time.monotonic()
    assert run_gtmerge(*args).returncode == 0
    duration = time.monotonic() - started  # an upper bound of the work after start-up
    assert read_object(s3, BUCKET, "out.manifest") == clean
    tried = completed = 0
    for fraction in (0.05, 0.25, 0.45, 0.65, 0.85, 1.1):
        put_objects(s3, BUCKET, {"out.manifest": PREVIOUS})
        run = Run(args, tmp_path)
        interrupted = run.interrupt_when(after_start(tmp_path, duration * fraction), sig)
        code, err = run.finish()
        if not interrupted or code == 0:  # it finished first: the new object is whole
            assert code == 0, err
            assert read_object(s3, BUCKET, "out.manifest") == clean
            completed += 1
            continue
        assert_interrupted(code, err)
        assert read_object(s3, BUCKET, "out.manifest") == PREVIOUS
        assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
        assert os.listdir(tmp_path) == []
        tried += 1
    assert tried >= 3
    assert run_gtmerge(*args).returncode == 0
    assert read_object(s3, BUCKET, "out.manifest") == clean
    record_figures(
        f"interrupts::{request.node.name}",
        interrupted=tried,
        completed_before_the_signal=completed,
        records_lost=0,
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_annotation_leaves_the_destination_as_it_was(
    sig: signal.Signals, big_input: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """``validate --annotate`` is written through the same destinations as ``merge``."""
    out_dir, tmp = tmp_path / "out", tmp_path / "tmp"
    out_dir.mkdir()
    tmp.mkdir()
    out = out_dir / "annotated.manifest"
    out.write_bytes(PREVIOUS)
    args = ["validate", str(big_input), "--annotate", str(out)]
    for moment in (reading(out_dir), writing(out_dir)):
        run = Run(args, tmp)
        assert run.interrupt_when(moment, sig), "the run ended before the signal"
        code, err = run.finish()
        assert_interrupted(code, err)
        assert sorted(os.listdir(out_dir)) == ["annotated.manifest"]
        assert out.read_bytes() == PREVIOUS
    done = run_gtmerge(*args)
    assert done.returncode == 1, done.stderr  # the input repeats images: findings, exit 1
    assert out.read_bytes().count(b"\n") == LINES
    record_figures(f"interrupts::{request.node.name}", interrupted=2, records_lost=0)


@pytest.mark.parametrize("repeat", [1, 2], ids=["once", "twice"])
def test_sigterm_to_the_whole_group_ends_a_spooled_run_quietly(
    repeat: int, big_input: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """What ``timeout``, ``kill -- -PGID``, systemd and container runtimes send: the workers
    get it too. It used to kill them inside the pool's locks, and the run never ended."""
    out_dir, tmp = tmp_path / "out", tmp_path / "tmp"
    out_dir.mkdir()
    tmp.mkdir()
    out = out_dir / "train.manifest"
    out.write_bytes(PREVIOUS)
    args = ["merge", str(big_input), "-o", str(out), "--memory", "32", "--workers", "2"]
    for moment in (spooling(tmp), writing(out_dir)):
        run = Run(args, tmp)
        assert run.interrupt_when(moment, signal.SIGTERM, group=True)
        for _ in range(repeat - 1):
            time.sleep(0.05)
            if run.proc.poll() is None:
                os.killpg(run.proc.pid, signal.SIGTERM)
        code, err = run.finish()  # also: no process of the group is left
        assert_interrupted(code, err)
        assert sorted(os.listdir(out_dir)) == ["train.manifest"]
        assert out.read_bytes() == PREVIOUS
        assert os.listdir(tmp) == []
    record_figures(f"interrupts::{request.node.name}", interrupted=2, records_lost=0)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_leaves_no_table_file(
    sig: signal.Signals, coco_file: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The annotations of a COCO file past their share of ``--memory`` go to a file in the
    work directory, read by a worker: an interrupted run leaves nothing of it."""
    out_dir, tmp = tmp_path / "out", tmp_path / "tmp"
    out_dir.mkdir()
    tmp.mkdir()
    out = out_dir / "train.manifest"
    out.write_bytes(PREVIOUS)
    args = [
        *("merge", f"coco={coco_file}", "-o", str(out), "--image-root", "s3://bucket/i/"),
        *("--memory", "16", "--workers", "2"),
    ]
    run = Run(args, tmp)
    assert run.interrupt_when(lambda: any(tmp.glob("gtmerge-*/table-*.sqlite")), sig)
    code, err = run.finish()
    assert_interrupted(code, err)
    assert sorted(os.listdir(out_dir)) == ["train.manifest"]
    assert out.read_bytes() == PREVIOUS
    assert os.listdir(tmp) == []
    record_figures(f"interrupts::{request.node.name}", interrupted=1, records_lost=0)
