"""Service-account JWTs: signing, claims, TokenRequest rules and authentication."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kubeling.api import errors, typed
from kubeling.apiserver import tokens
from kubeling.store.base import Entry

NOW = 1_700_000_000


class FakeStore:
    def __init__(self) -> None:
        self.objs: dict[str, dict] = {}

    def put(self, res, obj: dict) -> dict:
        self.objs[res.key(obj["metadata"].get("namespace"), obj["metadata"]["name"])] = obj
        return obj

    def get(self, key: str):
        o = self.objs.get(key)
        return None if o is None else Entry(key, json.dumps(o).encode(), 1, 1, o)


def meta(name, uid, ns="default"):
    return {"name": name, "uid": uid, **({"namespace": ns} if ns else {})}


@pytest.fixture
def env(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "sa.key"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    store = FakeStore()
    clock = [float(NOW)]
    issuer = tokens.TokenIssuer(str(path), store, clock=lambda: clock[0])
    store.put(tokens.SERVICE_ACCOUNTS, {"metadata": meta("default", "sa-uid")})
    return issuer, store, clock


def payload(token: str) -> dict:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def header(token: str) -> dict:
    h = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))


def test_token_request_defaults_and_claims(env):
    issuer, _, _ = env
    body = {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "metadata": {"creationTimestamp": None},
            "spec": {"audiences": None, "expirationSeconds": None}}  # what kubectl create token sends
    typed.decode("authentication.k8s.io", "v1", "TokenRequest", body)  # as the handler does first
    tr = issuer.token_request("default", "default", body)
    assert tr["spec"]["expirationSeconds"] == 3600
    assert tr["spec"]["audiences"] == ["https://kubernetes.default.svc.cluster.local"]
    assert tr["metadata"] == {"creationTimestamp": None, "name": "default", "namespace": "default"}
    assert tr["status"]["expirationTimestamp"] == "2023-11-14T23:13:20Z"
    tok = tr["status"]["token"]
    assert header(tok) == {"alg": "ES256", "kid": issuer.kid}
    p = payload(tok)
    assert list(p) == sorted(p)  # go-jose marshals the merged claims with sorted keys
    assert p["iss"] == "https://kubernetes.default.svc.cluster.local"
    assert p["sub"] == "system:serviceaccount:default:default"
    assert p["exp"] == NOW + 3600 and p["iat"] == NOW and p["nbf"] == NOW and p["jti"]
    assert p["kubernetes.io"] == {"namespace": "default", "serviceaccount": {"name": "default", "uid": "sa-uid"}}


def test_authenticates_and_rejects_tampering(env):
    issuer, store, clock = env
    tok = issuer.token_request("default", "default", {"spec": {}})["status"]["token"]
    ident = issuer.authenticate(tok)
    assert ident is not None and ident.name == "system:serviceaccount:default:default"
    assert ident.groups == ("system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated")
    h, b, s = tok.split(".")
    forged = dict(payload(tok), sub="system:serviceaccount:kube-system:default")
    fb = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    assert issuer.authenticate(f"{h}.{fb}.{s}") is None
    assert issuer.authenticate(f"{h}.{b}.{s[:-4]}AAAA") is None
    assert issuer.authenticate("not-a-jwt") is None
    clock[0] = NOW + 3600  # expired
    assert issuer.authenticate(tok) is None


def test_deleted_or_recreated_account_invalidates(env):
    issuer, store, _ = env
    tok = issuer.token_request("default", "default", {"spec": {}})["status"]["token"]
    store.put(tokens.SERVICE_ACCOUNTS, {"metadata": meta("default", "other-uid")})
    assert issuer.authenticate(tok) is None


def test_other_key_and_audience_rejected(env, tmp_path):
    issuer, store, clock = env
    key2 = tmp_path / "other.key"
    key2.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    other = tokens.TokenIssuer(str(key2), store, clock=lambda: clock[0])
    assert issuer.authenticate(other.token_request("default", "default", {"spec": {}})["status"]["token"]) is None
    tok = issuer.token_request("default", "default", {"spec": {"audiences": ["vault"]}})["status"]["token"]
    assert payload(tok)["aud"] == ["vault"] and issuer.authenticate(tok) is None


@pytest.mark.parametrize("secs,msg", [
    (100, "spec.expirationSeconds: Invalid value: 100: may not specify a duration less than 10 minutes"),
    ((1 << 32) + 1, "spec.expirationSeconds: Invalid value: 4294967297: may not specify a duration larger than 2^32 seconds"),
])
def test_expiration_bounds(env, secs, msg):
    issuer, _, _ = env
    with pytest.raises(errors.StatusError) as e:
        issuer.token_request("default", "default", {"spec": {"expirationSeconds": secs}})
    assert e.value.code == 422
    assert e.value.message == f'TokenRequest.authentication.k8s.io "default" is invalid: {msg}'


def test_missing_account_is_404(env):
    issuer, _, _ = env
    with pytest.raises(errors.StatusError) as e:
        issuer.token_request("default", "nope", {"spec": {}})
    assert e.value.code == 404 and e.value.message == 'serviceaccounts "nope" not found'


def test_pod_bound_token(env):
    issuer, store, clock = env
    store.put(tokens.NODES, {"metadata": meta("node-1", "node-uid", None)})
    pod = store.put(tokens.PODS, {"metadata": meta("web", "pod-uid"),
                                  "spec": {"serviceAccountName": "default", "nodeName": "node-1"}})
    ref = {"kind": "Pod", "apiVersion": "v1", "name": "web", "uid": "pod-uid"}
    tr = issuer.token_request("default", "default", {"spec": {"boundObjectRef": ref, "expirationSeconds": 3607}})
    p = payload(tr["status"]["token"])
    assert p["kubernetes.io"]["pod"] == {"name": "web", "uid": "pod-uid"}
    assert p["kubernetes.io"]["node"] == {"name": "node-1", "uid": "node-uid"}
    # the kube-api-access token is extended to a year, with a warning after the requested hour
    assert p["exp"] == NOW + 365 * 24 * 3600 and p["kubernetes.io"]["warnafter"] == NOW + 3607
    ident = issuer.authenticate(tr["status"]["token"])
    assert ident is not None and ident.extra["authentication.kubernetes.io/pod-name"] == ["web"]
    with pytest.raises(errors.StatusError) as e:
        issuer.token_request("default", "default", {"spec": {"boundObjectRef": {**ref, "uid": "stale"}}})
    assert e.value.code == 409
    pod["metadata"]["uid"] = "recreated"
    assert issuer.authenticate(tr["status"]["token"]) is None
    with pytest.raises(errors.StatusError) as e:
        issuer.token_request("default", "default", {"spec": {"boundObjectRef": {"kind": "ConfigMap", "apiVersion": "v1", "name": "x"}}})
    assert e.value.code == 400 and e.value.message == "cannot bind token to object of type /v1, Kind=ConfigMap"
