"""Limits on what a client sends, answered as kube-apiserver does:

- a body sent a byte now and then, forever, does not hold a handler: after `--request-timeout`
  (60 s by default; 2 s here) the client gets what upstream's timeout filter writes
  (server/filters/timeout.go): 504 with the bare Status, and the connection closes;
- a request line and headers past net/http's budget (MaxHeaderBytes 1 MiB + 4096), in one
  field or in many, get net/http's plain `431 Request Header Fields Too Large`; under it
  they are served, however many fields (no count limit: aiohttp's 128 was a plain 400).
"""

from __future__ import annotations

import os
import select
import socket
import ssl
import time
from typing import Iterator

import pytest

from .conftest import Cluster, free_port

TIMEOUT_BODY = (b'{"metadata":{},"status":"Failure","message":"Timeout: request did not complete within the allotted '
                b'timeout","reason":"Timeout","details":{},"code":504}\n')


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(str(tmp_path_factory.mktemp("kubeling-timeout") / "data"), free_port(),
                extra_args=("--request-timeout", "2s"))
    c.start()
    yield c
    c.stop()


def _tls(cluster: Cluster) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cafile=os.path.join(cluster.data_dir, "server", "tls", "server-ca.crt"))
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", cluster.port), timeout=60),
                           server_hostname="127.0.0.1")


def _headers(head: bytes) -> dict[str, str]:
    return {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in head.decode().split("\r\n")[1:])}


def _complete(got: bytes) -> bool:
    """A whole response: its headers and Content-Length bytes of body."""
    head, sep, body = got.partition(b"\r\n\r\n")
    return bool(sep) and len(body) >= int(_headers(head).get("content-length", "0"))


def _token(cluster: Cluster) -> bytes:
    return open(os.path.join(cluster.data_dir, "server", "token")).read().split(",")[0].encode()


def test_a_body_that_never_ends_is_a_504_timeout(cluster: Cluster) -> None:
    with _tls(cluster) as s:
        s.sendall(b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Authorization: Bearer " + _token(cluster) + b"\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100000\r\n\r\n{")
        deadline = time.monotonic() + 120
        got = b""
        while time.monotonic() < deadline and not _complete(got):
            if s.pending() or select.select([s], [], [], 0.2)[0]:  # the stimulus: one more byte every 0.2 s
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            elif not got:
                s.sendall(b" ")
    head, _, body = got.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = _headers(head)
    assert lines[0] == "HTTP/1.1 504 Gateway Timeout", got
    assert headers["content-type"] == "text/plain; charset=utf-8" and headers.get("connection") == "close", headers
    assert body == TIMEOUT_BODY
    assert cluster.session().get(f"{cluster.url}/readyz", timeout=30).status_code == 200


def test_a_body_within_the_timeout_is_read(cluster: Cluster) -> None:
    r = cluster.session().post(f"{cluster.url}/api/v1/namespaces/default/configmaps", timeout=60,
                               json={"metadata": {"name": "in-time"}, "data": {"a": "b"}})
    assert r.status_code == 201, r.text


MiB = 1 << 20
TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
             b"Connection: close\r\n\r\n431 Request Header Fields Too Large")


def _head(cluster: Cluster, fields: list[bytes]) -> bytes:
    return (b"GET /api/v1/namespaces/default HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + _token(cluster)
            + b"\r\n" + b"".join(b"X-Pad-%d: %s\r\n" % (i, f) for i, f in enumerate(fields)))


def _answer(cluster: Cluster, data: bytes) -> bytes:
    """Send data and read until the server closes the connection."""
    got = b""
    with _tls(cluster) as s:
        s.sendall(data)
        while chunk := s.recv(65536):
            got += chunk
    return got


@pytest.mark.parametrize("fields", [[b"x" * (MiB + 8192)], [b"x" * (64 * 1024)] * 17],
                         ids=["one-field", "seventeen-fields"])
def test_a_head_past_net_https_budget_is_431(cluster: Cluster, fields: list[bytes]) -> None:
    """The head is sent without its final empty line: the server answers once the budget is
    spent, having read every byte sent (so no reset loses the answer)."""
    head = _head(cluster, fields)
    assert len(head) > MiB + 4096
    assert _answer(cluster, head) == TOO_LARGE
    assert cluster.session().get(f"{cluster.url}/readyz", timeout=30).status_code == 200


def test_a_head_within_the_budget_is_served(cluster: Cluster) -> None:
    for fields in ([b"x" * (MiB - 4096)], [b"x" * (60 * 1024)] * 16):
        got = _answer(cluster, _head(cluster, fields) + b"Connection: close\r\n\r\n")
        assert got.startswith(b"HTTP/1.1 200 OK\r\n"), got[:300]


def test_many_small_fields_within_the_budget_are_served(cluster: Cluster) -> None:
    """net/http bounds only the head's bytes, not its fields: kubectl with 130 --as-group flags
    is answered by impersonation, not aiohttp's 400 'Too many headers received'."""
    got = _answer(cluster, _head(cluster, [b"y"] * 200) + b"Connection: close\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 200 OK\r\n"), got[:300]
    groups = b"".join(b"Impersonate-Group: g%d\r\n" % i for i in range(130))
    got = _answer(cluster, _head(cluster, []) + b"Impersonate-User: alice\r\n" + groups + b"Connection: close\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 403 Forbidden\r\n"), got[:300]
    assert b'"reason":"Forbidden"' in got and b'User \\"alice\\" cannot get resource \\"namespaces\\"' in got, got[-400:]
