"""Issue 7 §1 and §3 over the real HTTPS port: bodies that arrive in many small pieces are read
whole (Content-Length and chunked; JSON, YAML and protobuf; 1 KB to 3 MB), oversized and
hostile bodies are refused with upstream's Status, and the server's memory stays bounded."""

from __future__ import annotations

import http.client
import json
import os
import ssl
import threading
import time
from typing import Any, Iterator

import pytest
import yaml

from .conftest import Cluster

MiB = 1024 * 1024


def _vint(x: int) -> bytes:
    out = bytearray()
    while True:
        b, x = x & 0x7F, x >> 7
        out.append(b | 0x80 if x else b)
        if not x:
            return bytes(out)


def _ld(num: int, payload: bytes) -> bytes:
    return _vint(num << 3 | 2) + _vint(len(payload)) + payload


def protobuf_configmap(name: str, data: dict[str, str]) -> bytes:
    """runtime.Unknown{TypeMeta{v1, ConfigMap}, raw: ConfigMap{1 metadata{1 name}, 2 data entries}}."""
    raw = _ld(1, _ld(1, name.encode())) + b"".join(_ld(2, _ld(1, k.encode()) + _ld(2, v.encode())) for k, v in data.items())
    return b"k8s\x00" + _ld(1, _ld(1, b"v1") + _ld(2, b"ConfigMap")) + _ld(2, raw)


def encode(fmt: str, name: str, data: dict[str, str]) -> tuple[bytes, str]:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    if fmt == "json":
        return json.dumps(obj).encode(), "application/json"
    if fmt == "yaml":
        return yaml.dump(obj, Dumper=yaml.CSafeDumper, width=1 << 30).encode(), "application/yaml"
    return protobuf_configmap(name, data), "application/vnd.kubernetes.protobuf"


class Sender:
    """Raw HTTPS requests whose body goes out in `pieces` writes with a pause between them, so
    the server gets it in several TCP reads (as kubectl's larger bodies arrive)."""

    def __init__(self, cluster: Cluster) -> None:
        self.port = cluster.port
        self.ctx = ssl.create_default_context(cafile=os.path.join(cluster.data_dir, "server", "tls", "server-ca.crt"))
        self.token = open(os.path.join(cluster.data_dir, "server", "token")).read().split(",")[0]

    def get(self, path: str) -> tuple[int, bytes]:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=60)
        try:
            conn.request("GET", path, headers={"Authorization": f"Bearer {self.token}"})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def send(self, method: str, path: str, body: bytes, ctype: str, *, chunked: bool, pieces: int = 6,
             pause: float = 0.02, headers: dict[str, str] | None = None,
             sent: threading.Event | None = None, ports: list[int] | None = None) -> tuple[int, Any]:
        """`sent` is set once the last piece of the body is out; `ports` gets the client's port."""
        step = max(1, -(-len(body) // pieces))

        def trickle() -> Iterator[bytes]:
            for i in range(0, len(body), step):
                if i:
                    time.sleep(pause)  # the stimulus: the next piece comes in a later TCP read
                yield body[i:i + step]
            if sent is not None:
                sent.set()

        h = {"Authorization": f"Bearer {self.token}", "Content-Type": ctype, **(headers or {})}
        if not chunked:
            h["Content-Length"] = str(len(body))
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=60)
        try:
            if ports is not None:
                conn.connect()
                ports.append(conn.sock.getsockname()[1])
            conn.request(method, path, body=trickle(), headers=h, encode_chunked=chunked)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()


@pytest.fixture(scope="module")
def sender(cluster: Cluster) -> Sender:
    return Sender(cluster)


def rss(cluster: Cluster) -> int:
    assert cluster.proc is not None
    for line in open(f"/proc/{cluster.proc.pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize("fmt", ["json", "yaml", "protobuf"])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_trickle(cluster: Cluster, sender: Sender, ns: str, fmt: str, chunked: bool) -> None:
    """Bodies in 8 pieces with pauses, 1 KB to 3 MB (the ns fixture needs this short name)."""
    path = f"/api/v1/namespaces/{ns}/configmaps"
    for size in (1000, 200 * 1024, 1000 * 1024):
        data = {"a": "".join(chr(97 + i % 26) for i in range(size))}
        body, ctype = encode(fmt, f"c{size}", data)
        status, obj = sender.send("POST", path, body, ctype, chunked=chunked, pieces=8)
        assert status == 201, obj
        assert obj["data"] == data
    # 3 MB: read whole, so it is the ConfigMap's own 1 MiB limit that refuses it, not a decode error
    body, ctype = encode(fmt, "c3m", {"a": "x" * (3 * MiB - 200)})
    assert len(body) <= 3 * MiB
    status, obj = sender.send("POST", path, body, ctype, chunked=chunked, pieces=8)
    assert (status, obj["reason"]) == (422, "Invalid"), obj
    assert "Too long: may not be more than 1048576 bytes" in obj["message"]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_over_3mib(cluster: Cluster, sender: Sender, ns: str, chunked: bool) -> None:
    before = rss(cluster)
    body = json.dumps({"metadata": {"name": "big"}, "data": {"a": "x" * (3 * MiB)}}).encode()
    status, obj = sender.send("POST", f"/api/v1/namespaces/{ns}/configmaps", body, "application/json",
                              chunked=chunked, pieces=4)
    assert (status, obj) == (413, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                   "message": "Request entity too large: limit is 3145728",
                                   "reason": "RequestEntityTooLarge", "code": 413})
    print(f"RSS around a refused 3 MiB body ({'chunked' if chunked else 'Content-Length'}): "
          f"{before / MiB:.0f} -> {rss(cluster) / MiB:.0f} MiB")


def test_kubectl_create_configmap_from_a_200_kib_file(cluster: Cluster, ns: str, tmp_path: Any) -> None:
    """kubectl sends protobuf; 5 of 5 of these failed with "unexpected EOF" when bodies were read once."""
    f = tmp_path / "blob.txt"
    f.write_text("0123456789abcdef\n" * (200 * 1024 // 17))
    for i in range(3):
        cluster.kubectl("create", "configmap", f"from-file-{i}", "-n", ns, f"--from-file={f}")
    got = cluster.json("get", "configmap", "from-file-2", "-n", ns)
    assert got["data"]["blob.txt"] == f.read_text()


def laughs(levels: int, fanout: int = 10) -> str:
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: lol}",
             f"a0: &a0 [{', '.join(['lol'] * fanout)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fanout)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\ndata: {a: *a" + str(levels) + "}\n"


def test_yaml_alias_bomb_is_refused_and_memory_stays_bounded(cluster: Cluster, sender: Sender, ns: str) -> None:
    before = rss(cluster)
    path = f"/api/v1/namespaces/{ns}/configmaps"
    for levels in (5, 9):
        status, obj = sender.send("POST", path, laughs(levels).encode(), "application/yaml", chunked=False, pieces=1)
        assert (status, obj["reason"]) == (400, "BadRequest")
        assert obj["message"] == "error converting YAML to JSON: yaml: document contains excessive aliasing"
    apply = f"/api/v1/namespaces/{ns}/configmaps/lol?fieldManager=t"
    status, obj = sender.send("PATCH", apply, laughs(9).encode(), "application/apply-patch+yaml", chunked=True)
    assert status == 400 and "excessive aliasing" in obj["message"]
    after = rss(cluster)
    print(f"RSS around YAML alias bombs: {before / MiB:.0f} -> {after / MiB:.0f} MiB")
    assert after - before < 50 * MiB


def nested(depth: int) -> str:
    """JSON text of `depth` nested arrays (json.dumps itself cannot go 1,000 deep)."""
    return "[" * depth + '"x"' + "]" * depth


@pytest.mark.parametrize("depth", [101, 1000])
def test_deep(cluster: Cluster, sender: Sender, ns: str, depth: int) -> None:
    """Too deep: 400 on every write path (JSON, YAML, 3 patch types, apply, DELETE options)."""
    s = cluster.session()
    base = f"{cluster.url}/api/v1/namespaces/{ns}/configmaps"
    assert s.post(base, json={"metadata": {"name": "n"}}).status_code == 201
    deep = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n"}, "x": ' + nested(depth) + "}"
    cases = [
        ("POST", base, "application/json", deep),
        ("POST", base, "application/yaml", "- " * depth + "x"),
        ("PUT", base + "/n", "application/json", deep),
        ("PATCH", base + "/n", "application/merge-patch+json", deep),
        ("PATCH", base + "/n", "application/strategic-merge-patch+json", deep),
        ("PATCH", base + "/n", "application/json-patch+json",
         '[{"op": "add", "path": "/metadata/annotations", "value": ' + nested(depth) + "}]"),
        ("PATCH", base + "/n?fieldManager=t", "application/apply-patch+yaml", deep),
        ("DELETE", base + "/n", "application/json", '{"x": ' + nested(depth) + "}"),
    ]
    for method, url, ctype, body in cases:
        r = s.request(method, url, data=body.encode(), headers={"Content-Type": ctype})
        assert (r.status_code, r.json()["reason"]) == (400, "BadRequest"), (method, ctype, r.text[:300])
        assert "exceeded max" in r.json()["message"]  # libyaml may stop a block sequence first (its own limit)
    # a JSON patch whose values are shallow but land deep: the patched object is checked too
    ops = [{"op": "add", "path": "/metadata/annotations", "value": {}},
           {"op": "add", "path": "/data", "value": {"k": json.loads(nested(60))}},
           {"op": "copy", "from": "/data/k", "path": "/data/k" + "/0" * 59 + "/-"}]
    r = s.patch(base + "/n", data=json.dumps(ops), headers={"Content-Type": "application/json-patch+json"})
    assert r.status_code == 400 and r.json()["message"] == "exceeded max depth of 100", r.text[:300]
    assert s.get(base + "/n").status_code == 200  # the server still answers


def test_object_past_etcds_limit_is_refused_as_upstream(cluster: Cluster, ns: str) -> None:
    s = cluster.session()
    event = {"metadata": {"name": "big"}, "involvedObject": {"kind": "Pod", "name": "p", "namespace": ns},
             "reason": "R", "type": "Normal", "message": "x" * (1600 * 1024)}  # valid, but past etcd's 1.5 MiB
    r = s.post(f"{cluster.url}/api/v1/namespaces/{ns}/events", json=event)
    assert (r.status_code, r.json()) == (500, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                               "message": "etcdserver: request is too large", "code": 500})
    assert s.get(f"{cluster.url}/api/v1/namespaces/{ns}/events/big").status_code == 404


def test_query_parameters_are_400_not_500(cluster: Cluster, ns: str) -> None:
    import base64

    s = cluster.session()
    base = f"{cluster.url}/api/v1/namespaces/{ns}/configmaps"
    huge_rv = base64.urlsafe_b64encode(json.dumps({"v": "meta.k8s.io/v1", "rv": 10**30, "start": "x"}).encode())
    for params in ({"labelSelector": "a in ("}, {"watch": "1", "timeoutSeconds": "9" * 80},
                   {"limit": "1", "continue": "garbage"}, {"limit": "1", "continue": huge_rv.decode().rstrip("=")},
                   {"limit": "9" * 30}, {"watch": "1", "resourceVersion": "9" * 30}):
        for method in ("GET", "DELETE") if "labelSelector" in params else ("GET",):
            r = s.request(method, base, params=params, timeout=10)
            assert r.status_code == 400 and r.json()["reason"] == "BadRequest", (method, params, r.text[:300])
    # a wrongly typed object stored (if the server still accepts one) does not break a list
    s.post(base, json={"metadata": {"name": "typed", "labels": {"a": "b"}}})
    s.patch(base + "/typed", data='{"metadata":{"labels":"invalid"}}', headers={"Content-Type": "application/merge-patch+json"})
    for sel in ("a==", "a=b", "a in (b)", "!a", "a"):
        r = s.get(base, params={"labelSelector": sel})
        assert r.status_code == 200, (sel, r.text[:300])


def test_non_utf8_bearer_token_is_401(cluster: Cluster, sender: Sender) -> None:
    conn = http.client.HTTPSConnection("127.0.0.1", cluster.port, context=sender.ctx, timeout=10)
    try:
        conn.putrequest("GET", "/api/v1/namespaces")
        conn.putheader("Authorization", b"Bearer \xff\xfe\xc3(")
        conn.endheaders()
        resp = conn.getresponse()
        assert resp.status == 401 and json.loads(resp.read())["reason"] == "Unauthorized"
    finally:
        conn.close()


def _queued(local: int, remote: int) -> int | None:
    """Bytes waiting in the loopback TCP socket 127.0.0.1:local → :remote, sent and not yet read
    (tx_queue + rx_queue of /proc/net/tcp), or None without that socket."""
    want = (f"0100007F:{local:04X}", f"0100007F:{remote:04X}")
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        f = line.split()
        if (f[1], f[2]) == want:
            tx, rx = f[4].split(":")
            return int(tx, 16) + int(rx, 16)
    return None


def test_a_big_yaml_body_decodes_while_other_requests_are_served(cluster: Cluster, sender: Sender, ns: str) -> None:
    """A dense 3 MB YAML (786k one-line items) takes seconds to decode: a /readyz sent once the
    server has read the whole body is answered before it (the decode runs in a worker thread,
    not on the event loop that serves every other request and watch)."""
    head = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dense}\nitems:\n"
    body = (head + "- 1\n" * ((3 * MiB - len(head)) // 4)).encode()
    sent, done, ports = threading.Event(), [], []

    def big() -> None:
        status, _ = sender.send("POST", f"/api/v1/namespaces/{ns}/configmaps", body, "application/yaml",
                                chunked=False, pieces=1, sent=sent, ports=ports)
        done.append(("big", status))

    t = threading.Thread(target=big)
    t.start()
    try:
        assert sent.wait(120)
        port = ports[0]
        cluster.wait_for(lambda: _queued(port, cluster.port) == 0 and _queued(cluster.port, port) == 0 or done,
                         timeout=120, interval=0.01, what="the server to read the whole body")
        done.append(("readyz", sender.get("/readyz")[0]))
    finally:
        t.join(180)
    assert [name for name, _ in done] == ["readyz", "big"], done
    assert done[0][1] == 200 and done[1][1] < 500, done
