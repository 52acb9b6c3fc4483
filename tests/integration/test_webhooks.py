"""Admission webhooks with the real kubectl: a small HTTPS server started by the test mutates
(a JSONPatch adding a label) and denies (a ConfigMap carrying key `deny`)."""

from __future__ import annotations

import base64
import http.server
import json
import ssl
import threading
from typing import Iterator

import pytest

from kubeling.pki import ensure_pki, issue_cert

from .conftest import Cluster


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        req = review["request"]
        obj = req["object"]
        response: dict = {"uid": req["uid"], "allowed": True}
        if self.path.startswith("/mutate"):
            patch = [{"op": "add", "path": "/metadata/labels", "value": {
                **(obj["metadata"].get("labels") or {}), "mutated-by": "webhook"}}]
            response.update(patchType="JSONPatch", patch=base64.b64encode(json.dumps(patch).encode()).decode())
        elif "deny" in (obj.get("data") or {}):
            response.update(allowed=False, status={"code": 403, "reason": "Forbidden",
                                                   "message": f"user {req['userInfo']['username']} may not"})
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook_server(tmp_path) -> Iterator[tuple[int, str]]:
    pki = ensure_pki(str(tmp_path / "pki"), "127.0.0.1", "10.96.0.1")
    cert, key = str(tmp_path / "hook.crt"), str(tmp_path / "hook.key")
    issue_cert(pki, cert, key, "webhook", server=True, hosts=["127.0.0.1"])
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1], base64.b64encode(open(pki.ca_cert, "rb").read()).decode()
    srv.shutdown()
    srv.server_close()


def _config(kind: str, port: int, ca: str, path: str, ns: str, policy: str = "Fail") -> str:
    return json.dumps({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": kind, "metadata": {"name": f"{ns}-{path}"},
        "webhooks": [{"name": f"{path}.example.com", "admissionReviewVersions": ["v1"], "sideEffects": "None",
                      "failurePolicy": policy, "timeoutSeconds": 5,
                      "clientConfig": {"url": f"https://127.0.0.1:{port}/{path}", "caBundle": ca},
                      "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
                      "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": [""], "apiVersions": ["v1"],
                                 "resources": ["configmaps"]}]}]})


def test_webhooks_mutate_and_deny(cluster: Cluster, ns: str, webhook_server) -> None:
    port, ca = webhook_server
    cluster.kubectl("label", "namespace", ns, f"kubernetes.io/metadata.name={ns}", "--overwrite")
    cluster.kubectl("create", "-f", "-", input=_config("MutatingWebhookConfiguration", port, ca, "mutate", ns))
    cluster.kubectl("create", "-f", "-", input=_config("ValidatingWebhookConfiguration", port, ca, "validate", ns))
    cluster.kubectl("-n", ns, "create", "configmap", "ok", "--from-literal=a=b")
    assert cluster.json("-n", ns, "get", "configmap", "ok")["metadata"]["labels"] == {"mutated-by": "webhook"}
    p = cluster.kubectl("-n", ns, "create", "configmap", "bad", "--from-literal=deny=1", check=False)
    assert 'admission webhook "validate.example.com" denied the request: user kubernetes-admin may not' in p.stderr
    r = cluster.session().post(f"{cluster.url}/api/v1/namespaces/{ns}/configmaps",
                               json={"metadata": {"name": "bad"}, "data": {"deny": "1"}})
    assert (r.status_code, r.json()["reason"]) == (403, "Forbidden")
    cluster.kubectl("create", "configmap", "elsewhere", "--from-literal=deny=1", "-n", "default")  # not selected
    cluster.kubectl("delete", "configmap", "elsewhere", "-n", "default")


def test_unreachable_webhook_fails_closed_or_is_ignored(cluster: Cluster, ns: str) -> None:
    from .conftest import free_port

    cluster.kubectl("label", "namespace", ns, f"kubernetes.io/metadata.name={ns}", "--overwrite")
    dead = free_port()
    cluster.kubectl("create", "-f", "-", input=_config("ValidatingWebhookConfiguration", dead, "", "validate", ns))
    p = cluster.kubectl("-n", ns, "create", "configmap", "c", "--from-literal=a=b", check=False)
    assert 'Internal error occurred: failed calling webhook "validate.example.com": failed to call webhook:' in p.stderr
    cluster.kubectl("delete", "validatingwebhookconfiguration", f"{ns}-validate")
    cluster.kubectl("create", "-f", "-", input=_config("ValidatingWebhookConfiguration", dead, "", "validate", ns,
                                                       policy="Ignore"))
    cluster.kubectl("-n", ns, "create", "configmap", "c", "--from-literal=a=b")
    cluster.kubectl("delete", "validatingwebhookconfiguration", f"{ns}-validate")


def test_match_conditions_decide_whether_the_webhook_is_called(cluster: Cluster, ns: str) -> None:
    from .conftest import free_port

    cluster.kubectl("label", "namespace", ns, f"kubernetes.io/metadata.name={ns}", "--overwrite")
    config = json.loads(_config("ValidatingWebhookConfiguration", free_port(), "", "validate", ns))
    config["webhooks"][0]["matchConditions"] = [
        {"name": "not-skipped", "expression": "!object.metadata.name.startsWith('skip-')"},
        {"name": "not-admin", "expression": "request.userInfo.username != 'nobody-at-all'"}]
    cluster.kubectl("create", "-f", "-", input=json.dumps(config))
    cluster.kubectl("-n", ns, "create", "configmap", "skip-me", "--from-literal=a=b")  # the dead hook is not called
    p = cluster.kubectl("-n", ns, "create", "configmap", "called", "--from-literal=a=b", check=False)
    assert 'failed calling webhook "validate.example.com": failed to call webhook:' in p.stderr
    config["webhooks"][0]["matchConditions"] = [{"name": "broken", "expression": "object.data.nosuch == 'x'"}]
    cluster.kubectl("replace", "-f", "-", input=json.dumps(config))
    p = cluster.kubectl("-n", ns, "create", "configmap", "skip-2", "--from-literal=a=b", check=False)
    assert ('configmaps "skip-2" is forbidden: expression \'object.data.nosuch == \'x\'\' resulted in error: '
            "no such key: nosuch") in p.stderr
    p = cluster.kubectl("create", "-f", "-", check=False, input=json.dumps(
        {**config, "metadata": {"name": f"{ns}-bad"}, "webhooks": [
            {**config["webhooks"][0], "matchConditions": [{"name": "x", "expression": "nosuch == 1"}]}]}))
    assert "webhooks[0].matchConditions[0].expression: Invalid value: \"nosuch == 1\": compilation failed" in p.stderr
    cluster.kubectl("delete", "validatingwebhookconfiguration", f"{ns}-validate")
