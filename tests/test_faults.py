"""S3 faults injected by a real proxy between gtmerge and the moto server (tests/faultproxy.py).

Reads must retry (botocore's standard mode) or resume (smart-open's ranged GET) and give the
bytes of a clean run; writes that cannot complete must fail with one line, abort the multipart
upload and leave the previous object; a dead endpoint must fail fast.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from builders import boxes, classification, line, manifest
from conftest import FAKE_CREDENTIALS, put_objects, read_object
from faultproxy import FaultProxy, Request
from procs import record_figures, run_gtmerge, time_limit

import gtmerge.s3
from gtmerge import merge
from gtmerge.cli import main

BUCKET = "fault-bucket"
KEY = "jobs/species/output.manifest"
#: About 2.6 MB: several smart-open read buffers, so a fault can land mid-body.
INPUT = manifest(
    *(
        line(f"img{i:05d}.jpg", classification("species", f"class{i % 7}"))
        if i % 5
        else line(f"img{i // 2:05d}.jpg", boxes("bb", [("cat", i % 50, 2, 30, 40)]))
        for i in range(12_000)
    )
).encode()
OUT = "out/train.manifest"
PREVIOUS = b"previous manifest\n"
#: The reader's GET of the whole object: smart-open asks for "bytes=0-", and the first such GET
#: is format detection's (it reads a 64 KiB head and closes), so it is skipped.
READER = {"range": "bytes=0-", "skip": 1}
#: A ranged GET that resumes a broken body.
RESUME = {"range": "bytes=[1-9][0-9]*-"}


@pytest.fixture
def proxy(s3: Any, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """A fault proxy in front of a reset moto server; gtmerge is pointed at the proxy."""
    put_objects(s3, BUCKET, {KEY: INPUT, OUT: PREVIOUS})
    with FaultProxy(s3_endpoint) as fault_proxy, time_limit(120):
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", fault_proxy.url)
        yield fault_proxy


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The output of a fault-free local run on the same input."""
    directory = tmp_path_factory.mktemp("clean")
    (directory / "in.manifest").write_bytes(INPUT)
    merge([str(directory / "in.manifest")], str(directory / "out.manifest"))
    return (directory / "out.manifest").read_bytes()


def survived(request: pytest.FixtureRequest, proxy: FaultProxy, outcome: str) -> None:
    record_figures(
        f"faults::{request.node.name}", injected=dict(proxy.injected), survived=1, outcome=outcome
    )


def resumed_from(requests: list[Request]) -> list[int]:
    """Start offsets of the ranged GETs smart-open sent to resume a body (first attempts)."""
    starts = (
        re.fullmatch(r"bytes=([1-9]\d*)-", r.header("range") or "")
        for r in requests
        if retry_attempt(r) == 1
    )
    return [int(m.group(1)) for m in starts if m]


def retry_attempt(request: Request) -> int:
    """botocore numbers each attempt of a call: ``amz-sdk-request: attempt=2; max=5``."""
    match = re.match(r"attempt=(\d+)", request.header("amz-sdk-request") or "")
    assert match, request
    return int(match.group(1))


# --- reads -------------------------------------------------------------------------------------

Fault = tuple[str, str, str, dict[str, Any]]
#: name → the faults to inject, and how many ranged GETs must resume a broken body.
READ_FAULTS: dict[str, tuple[list[Fault], int]] = {
    "reset-mid-body": ([("reset", "GET", f"/{KEY}", READER)], 1),
    # cut inside smart-open's first read: nothing was consumed, so it reopens from byte 0
    "reset-in-the-detected-head": (
        [("reset", "GET", f"/{KEY}", {"range": "bytes=0-", "cut": 999})],
        0,
    ),
    "reset-then-reset-of-the-resume": (
        [("reset", "GET", f"/{KEY}", READER), ("reset", "GET", f"/{KEY}", RESUME)],
        2,
    ),
    "truncated-body": ([("truncate", "GET", f"/{KEY}", READER)], 1),
    "slowdown-503-twice": ([("status", "GET", f"/{KEY}", {"times": 2})], 0),
    "internal-error-500-4-times": (
        [("status", "GET", f"/{KEY}", {"times": 4, "status": 500, "code": "InternalError"})],
        0,
    ),
    "slowdown-503-on-the-resume": (
        [("reset", "GET", f"/{KEY}", READER), ("status", "GET", f"/{KEY}", {**RESUME, "times": 2})],
        1,
    ),
    "dropped-head-twice": ([("drop", "HEAD", f"/{KEY}", {"times": 2})], 0),
    "slowdown-503-on-list": ([("status", "GET", r"list-type=2", {"times": 2})], 0),
}


@pytest.mark.parametrize("name", sorted(READ_FAULTS))
def test_reads_survive_faults_with_the_bytes_of_a_clean_run(
    name: str, proxy: FaultProxy, clean: bytes, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    faults, resumes = READ_FAULTS[name]
    for kind, method, target, options in faults:
        proxy.add(kind, method, target, **options)
    source = f"s3://{BUCKET}/jobs/*/output.manifest" if "list" in name else f"s3://{BUCKET}/{KEY}"
    out = tmp_path / "out.manifest"
    assert main(["merge", source, "-o", str(out), "--no-progress"]) == 0
    assert out.read_bytes() == clean
    assert sum(proxy.injected.values()) == sum(o.get("times", 1) for *_, o in faults)
    # smart-open resumed each broken body where it stopped, not from the start
    assert len(resumed_from(proxy.seen("GET", f"/{KEY}"))) == resumes
    # botocore retried each refused request: the retry says which attempt it is
    refused = sum(o.get("times", 1) for kind, *_, o in faults if kind in ("status", "drop"))
    assert len([r for r in proxy.requests if retry_attempt(r) > 1]) == refused
    survived(request, proxy, "same bytes as a clean run")


def test_a_stalled_body_times_out_after_30_s_and_resumes(
    proxy: FaultProxy, clean: bytes, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The real client settings: read_timeout=30 fires, smart-open resumes with a Range GET."""
    proxy.add("stall", "GET", f"/{KEY}", seconds=60, **READER)
    out = tmp_path / "out.manifest"
    started = time.monotonic()
    merge([f"s3://{BUCKET}/{KEY}"], str(out))
    elapsed = time.monotonic() - started
    assert out.read_bytes() == clean
    assert 30 <= elapsed < 40
    assert len(resumed_from(proxy.seen("GET", f"/{KEY}"))) == 1
    survived(request, proxy, f"same bytes; resumed after {elapsed:.0f} s")


def test_a_request_with_no_answer_is_retried_after_the_read_timeout(
    proxy: FaultProxy,
    clean: bytes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """The server accepts the GET and never answers: botocore times out and retries (with a
    2 s read timeout here, to keep the suite fast; the 30 s one is proven above)."""
    monkeypatch.setitem(gtmerge.s3._CLIENT_CONFIG, "read_timeout", 2)
    proxy.add("stall", "GET", f"/{KEY}", seconds=60, at="start", **READER)
    out = tmp_path / "out.manifest"
    merge([f"s3://{BUCKET}/{KEY}"], str(out))
    assert out.read_bytes() == clean
    assert proxy.injected["stall"] == 1
    assert [retry_attempt(r) for r in proxy.requests if r.fault is None][-1] == 2
    survived(request, proxy, "same bytes as a clean run")


# --- writes ------------------------------------------------------------------------------------


def test_write_retries_a_failing_part_and_completes(
    s3: Any, proxy: FaultProxy, clean: bytes, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    (tmp_path / "in.manifest").write_bytes(INPUT)
    proxy.add("status", "PUT", r"partNumber=", times=2, status=500, code="InternalError")
    proxy.add("reset", "POST", r"uploadId=", times=1)  # CompleteMultipartUpload's answer is lost
    assert main(["merge", str(tmp_path / "in.manifest"), "-o", f"s3://{BUCKET}/{OUT}"]) == 0
    assert read_object(s3, BUCKET, OUT) == clean
    assert len(proxy.seen("PUT", "partNumber=1")) == 3
    survived(request, proxy, "same bytes as a clean run")


WRITE_FAILURES = {
    "part-slowdown-forever": (
        ("status", "PUT", r"partNumber=", {"times": 99}),
        "SlowDown: Please reduce your request rate.",
    ),
    "part-reset-forever": (
        ("reset", "PUT", r"partNumber=", {"times": 99}),
        "Connection was closed before we received a valid response from endpoint URL",
    ),
    "complete-500-forever": (
        ("status", "POST", r"uploadId=", {"times": 99, "status": 500, "code": "InternalError"}),
        "InternalError: We encountered an internal error. Please try again.",
    ),
    "create-500-forever": (
        ("status", "POST", r"\?uploads", {"times": 99, "status": 500, "code": "InternalError"}),
        "InternalError: We encountered an internal error. Please try again.",
    ),
}


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("name", sorted(WRITE_FAILURES))
def test_a_write_that_cannot_complete_fails_in_one_line_and_keeps_the_previous_object(
    name: str,
    suffix: str,
    s3: Any,
    proxy: FaultProxy,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    (kind, method, target, options), message = WRITE_FAILURES[name]
    out = OUT + suffix
    put_objects(s3, BUCKET, {out: PREVIOUS})
    (tmp_path / "in.manifest").write_bytes(INPUT)
    proxy.add(kind, method, target, **options)
    code = main(["merge", str(tmp_path / "in.manifest"), "-o", f"s3://{BUCKET}/{out}"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"gtmerge merge: s3://{BUCKET}/{out}: write failed: ")
    assert message in err
    assert err.count("\n") == 1
    assert read_object(s3, BUCKET, out) == PREVIOUS
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    attempts = [r for r in proxy.requests if r.method == method and re.search(target, r.target)]
    assert len(attempts) == 5  # botocore's standard mode: 1 + max_attempts 4, no other layer
    if "create" not in name:
        assert len(proxy.seen("DELETE", r"uploadId=")) == 1  # AbortMultipartUpload
    survived(request, proxy, "clean failure, previous object kept")


def test_a_failed_output_leaves_no_report_behind(
    proxy: FaultProxy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "in.manifest").write_bytes(INPUT)
    proxy.add("status", "PUT", r"partNumber=", times=99)
    report = tmp_path / "report.json"
    args = ["merge", str(tmp_path / "in.manifest"), "-o", f"s3://{BUCKET}/{OUT}"]
    assert main([*args, "--report", str(report)]) == 2
    assert not report.exists()


def test_a_report_whose_upload_fails_leaves_the_output_as_it_was(
    proxy: FaultProxy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every output is complete (its last part uploaded) before the first one is committed."""
    (tmp_path / "in.manifest").write_bytes(INPUT)
    out = tmp_path / "out.manifest"
    out.write_bytes(PREVIOUS)
    proxy.add("status", "PUT", r"partNumber=", times=99)
    args = ["merge", str(tmp_path / "in.manifest"), "-o", str(out)]
    assert main([*args, "--report", f"s3://{BUCKET}/report.json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"gtmerge merge: s3://{BUCKET}/report.json: write failed: SlowDown")
    assert err.count("\n") == 1
    assert out.read_bytes() == PREVIOUS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.manifest", "out.manifest"]


# --- a dead endpoint ---------------------------------------------------------------------------


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize("direction", ["read", "write"])
def test_a_dead_endpoint_fails_fast_with_one_line(
    direction: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    endpoint = _closed_port()
    local = tmp_path / "in.manifest"
    local.write_bytes(INPUT)
    source, out = (
        (f"s3://{BUCKET}/{KEY}", str(tmp_path / "out.manifest"))
        if direction == "read"
        else (str(local), f"s3://{BUCKET}/{OUT}")
    )
    started = time.monotonic()
    args = ["merge", source, "-o", out, "--endpoint-url", endpoint]
    done = run_gtmerge(*args, env=FAKE_CREDENTIALS, timeout=60)
    elapsed = time.monotonic() - started
    target = source if direction == "read" else f"{out}: write failed"
    assert done.returncode == 2
    assert done.stderr == (
        f'gtmerge merge: {target}: Could not connect to the endpoint URL: "{endpoint}/'
        f'{BUCKET}/{KEY if direction == "read" else OUT + "?uploads"}"\n'
    )
    assert elapsed < 15
    assert not (tmp_path / "out.manifest").exists()
    record_figures(f"faults::{request.node.name}", seconds=round(elapsed, 1), survived=1)


def test_a_reset_in_the_planners_sniff_is_survived(
    proxy: FaultProxy, clean: bytes, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    proxy.add("reset", "GET", f"/{KEY}", range="bytes=0-5")
    out = tmp_path / "out.manifest"
    assert main(["merge", f"s3://{BUCKET}/{KEY}", "-o", str(out), "--no-progress"]) == 0
    assert out.read_bytes() == clean
    assert proxy.injected["reset"] == 1
    survived(request, proxy, "same bytes as a clean run")
