"""One S3 client per run, and the per-call settings every S3 read and write carries.

smart-open is given this client explicitly: its fallback, ``boto3.client("s3")`` on the default
session, is not thread-safe and ignores ``--endpoint-url``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

#: Bounded retries: a dead endpoint must fail in seconds, not minutes (botocore Config).
_CLIENT_CONFIG: dict[str, Any] = {
    "retries": {"mode": "standard", "max_attempts": 4},
    "connect_timeout": 5,
    "read_timeout": 30,
    "max_pool_connections": 32,
}


def _new_client(endpoint_url: str | None) -> Any:
    """An S3 client configured by :data:`_CLIENT_CONFIG`.

    boto3 and smart-open (whose S3 layer imports boto3) are imported here, on first use: they
    take a fifth of a second to import, which a run that touches no S3 should not pay.
    """
    import boto3
    import smart_open.s3
    from botocore.config import Config

    # botocore's standard retry mode is the one retry layer for S3 requests. smart-open's own
    # loop around create/upload/complete (6 attempts, 10 s apart, on EndpointConnectionError
    # and NoSuchUpload) made a dead endpoint take over a minute and end in a traceback. Its
    # ranged resume of an interrupted body read (1+2+4+8+16 s of back-off) is separate and stays.
    smart_open.s3.RETRY.exceptions = []
    smart_open.s3.RETRY.client_error_codes = []
    config = Config(**_CLIENT_CONFIG)
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)


@dataclass(frozen=True)
class S3Settings:
    """How to reach S3 and what every request must say. Picklable, so worker processes can
    build their own client from it."""

    endpoint_url: str | None = None
    sse: str | None = None
    sse_kms_key_id: str | None = None
    expected_bucket_owner: str | None = None

    def resolved_endpoint(self) -> str | None:
        return (
            self.endpoint_url
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
        )


@dataclass
class S3:
    """A lazily created, shared client plus the request parameters derived from settings."""

    settings: S3Settings = field(default_factory=S3Settings)
    _client: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = _new_client(self.settings.resolved_endpoint())
            return self._client

    def owner_params(self) -> dict[str, str]:
        owner = self.settings.expected_bucket_owner
        return {"ExpectedBucketOwner": owner} if owner else {}

    def read_params(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "client_kwargs": {"S3.Client.get_object": self.owner_params()},
        }

    def put_params(self, content_type: str) -> dict[str, str]:
        """What every object creation carries (CreateMultipartUpload, PutObject)."""
        put: dict[str, str] = {"ContentType": content_type, **self.owner_params()}
        if self.settings.sse:
            put["ServerSideEncryption"] = self.settings.sse
        if self.settings.sse_kms_key_id:
            put["SSEKMSKeyId"] = self.settings.sse_kms_key_id
        return put


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` → ``("bucket", "key")``."""
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def describe_error(exc: BaseException) -> str:
    """A one-line reason for an S3 failure, without request ids, URLs or credentials."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        code = error.get("Code", "")
        message = error.get("Message", "")
        return f"{code}: {message}".strip(": ") or type(exc).__name__
    backend = getattr(exc, "backend_error", None)
    if backend is not None and backend is not exc:
        return describe_error(backend)
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text
