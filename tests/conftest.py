"""Shared fixtures: a real S3-compatible server (moto's server mode) on 127.0.0.1.

The server runs as its own process, so gtmerge talks to it over real HTTP exactly as it would
to S3; nothing in boto3 is patched.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """URL of a moto S3 server started for this test session, bound to 127.0.0.1 only."""
    port = _free_port()
    env = {**os.environ, **FAKE_CREDENTIALS}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("moto server did not start") from None
            time.sleep(0.05)
    try:
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A boto3 client on a freshly reset server, with the environment pointing gtmerge at it.

    gtmerge finds the server through ``AWS_ENDPOINT_URL_S3``, as a user's AWS config would.
    """
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
    request = urllib.request.Request(f"{s3_endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    yield client


def put_objects(client: object, bucket: str, objects: dict[str, bytes]) -> None:
    """Create ``bucket`` (if needed) and upload ``{key: body}``."""
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):  # type: ignore[attr-defined]
        client.create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
    for key, body in objects.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)  # type: ignore[attr-defined]


def read_object(client: object, bucket: str, key: str) -> bytes:
    body: bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()  # type: ignore[attr-defined]
    return body


@pytest.fixture(scope="session")
def coco_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A COCO file of 20,000 images and 130,000 annotations spread over its table (31 MB),
    written by scripts/gen_coco.py."""
    path = tmp_path_factory.mktemp("coco") / "instances.json"
    script = Path(__file__).resolve().parents[1] / "scripts" / "gen_coco.py"
    subprocess.run(
        [sys.executable, str(script), "--images", "20000", "--out", str(path)], check=True
    )
    return path
