"""A fault-injecting HTTP proxy between gtmerge and the moto S3 server, for the fault tests.

It listens on 127.0.0.1 (port 0), forwards every request to the upstream endpoint over a fresh
connection, and applies a scripted plan of faults to the requests that match a rule:

- ``reset``: send the response headers and half of the body (or ``cut`` bytes), then reset the
  connection (RST, ``SO_LINGER`` 0);
- ``truncate``: declare the full Content-Length, send half of the body, then close (FIN);
- ``status``: answer with an S3 error (503 SlowDown by default) without forwarding;
- ``stall``: send the headers and half of the body, then go silent for ``seconds``
  (``at="start"``: go silent before sending anything);
- ``drop``: close the connection without answering.

Every request is recorded (method, target, headers, the fault applied) so tests can assert
that retries happened and which headers each request carried.
"""

from __future__ import annotations

import http.client
import re
import socket
import struct
import threading
from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType
from typing import BinaryIO
from urllib.parse import urlsplit

KINDS = ("reset", "truncate", "status", "stall", "drop")
_DRAIN_SECONDS = 0.5
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection", "te"}
)
_ERROR_BODY = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<Error><Code>{code}</Code><Message>{message}</Message>"
    "<RequestId>FAULTPROXY</RequestId></Error>"
)
_MESSAGES = {
    "SlowDown": "Please reduce your request rate.",
    "InternalError": "We encountered an internal error. Please try again.",
}


@dataclass
class Rule:
    """Apply ``kind`` to matching requests number ``skip + 1`` to ``skip + times``.

    ``range``, when set, must fully match the request's Range header ("" when it has none),
    so a rule can tell a whole-object GET from a ranged one.
    """

    kind: str
    method: str
    target: re.Pattern[str]
    times: int = 1
    skip: int = 0
    status: int = 503
    code: str = "SlowDown"
    seconds: float = 0.0
    at: str = "body"
    range: str | None = None
    cut: int | None = None
    matched: int = 0

    def applies(self, method: str, target: str, range_header: str) -> bool:
        if method != self.method or not self.target.search(target):
            return False
        if self.range is not None and not re.fullmatch(self.range, range_header):
            return False
        self.matched += 1
        return self.skip < self.matched <= self.skip + self.times


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    fault: str | None

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class FaultProxy:
    """``with FaultProxy(upstream) as proxy:`` → point gtmerge at ``proxy.url``."""

    upstream: str
    rules: list[Rule] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    injected: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _server: socket.socket | None = None

    def add(self, kind: str, method: str, target: str, **options: object) -> Rule:
        """Add a rule; ``target`` is a regular expression searched in ``path?query``."""
        assert kind in KINDS, kind
        rule = Rule(kind, method, re.compile(target), **options)  # type: ignore[arg-type]
        with self._lock:
            self.rules.append(rule)
        return rule

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.getsockname()
        return f"http://{host}:{port}"

    def seen(self, method: str, target: str = "") -> list[Request]:
        """Recorded requests with this method whose target matches ``target``."""
        pattern = re.compile(target)
        return [r for r in self.requests if r.method == method and pattern.search(r.target)]

    def __enter__(self) -> FaultProxy:
        server = socket.create_server(("127.0.0.1", 0))
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.close()

    def _accept(self, server: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as reader:
            try:
                while not self._stop.is_set() and self._exchange(conn, reader):
                    pass
            except (OSError, ValueError):
                pass  # the client went away, or we reset the connection on purpose

    def _exchange(self, conn: socket.socket, reader: BinaryIO) -> bool:
        """Serve one request; return whether the connection stays open."""
        request_line = reader.readline(65536)
        if not request_line.strip():
            return False
        method, target, _ = request_line.decode("latin-1").split(" ", 2)
        headers = _read_headers(reader)
        names = {name.lower(): value for name, value in headers}
        if names.get("expect", "").lower() == "100-continue":
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = _read_body(reader, names)
        with self._lock:
            rule = next(
                (r for r in self.rules if r.applies(method, target, names.get("range", ""))), None
            )
            self.requests.append(Request(method, target, tuple(headers), rule and rule.kind))
            if rule is not None:
                self.injected[rule.kind] += 1
        if rule is not None and rule.kind == "status":
            xml = _ERROR_BODY.format(code=rule.code, message=_MESSAGES.get(rule.code, rule.code))
            _send(conn, rule.status, [("Content-Type", "application/xml")], xml.encode(), method)
            return True
        if rule is not None and rule.kind == "drop":
            return False
        if rule is not None and rule.kind == "stall" and rule.at == "start":
            self._stop.wait(rule.seconds)
            return False
        status, reply_headers, data = self._forward(method, target, headers, body)
        if rule is None:
            _send(conn, status, reply_headers, data, method)
            return True
        if data:  # an empty body (UploadPart's answer) is cut before its headers
            cut = len(data) // 2 if rule.cut is None else rule.cut
            _send(conn, status, reply_headers, data[:cut], method, declared=len(data))
        if rule.kind == "reset":
            # A RST makes the client's kernel drop what it has not read yet: give it time to
            # read the part that was sent, so the fault lands where it was meant to.
            self._stop.wait(_DRAIN_SECONDS)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif rule.kind == "stall":
            self._stop.wait(rule.seconds)
        return False

    def _forward(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        parts = urlsplit(self.upstream)
        upstream = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        try:
            upstream.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                    upstream.putheader(name, value)
            if body or method in ("PUT", "POST"):
                upstream.putheader("Content-Length", str(len(body)))
            upstream.endheaders(body)
            response = upstream.getresponse()
            data = response.read()
            reply = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
            return response.status, reply, data
        finally:
            upstream.close()


def _read_headers(reader: BinaryIO) -> list[tuple[str, str]]:
    headers = []
    while True:
        line = reader.readline(65536).decode("latin-1").rstrip("\r\n")
        if not line:
            return headers
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))


def _read_body(reader: BinaryIO, names: dict[str, str]) -> bytes:
    if names.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(reader.readline(1024).split(b";")[0], 16)
            chunk = reader.read(size + 2)[:size]
            if not size:
                _read_headers(reader)  # trailers
                return b"".join(chunks)
            chunks.append(chunk)
    return reader.read(int(names.get("content-length", "0")))


def _send(
    conn: socket.socket,
    status: int,
    headers: list[tuple[str, str]],
    data: bytes,
    method: str,
    declared: int | None = None,
) -> None:
    """Send a response; ``declared`` is the Content-Length to announce (default: ``len(data)``)."""
    reason = http.client.responses.get(status, "Unknown")
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{k}: {v}" for k, v in headers if method == "HEAD" or k.lower() != "content-length"]
    if method != "HEAD":
        lines.append(f"Content-Length: {len(data) if declared is None else declared}")
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)
