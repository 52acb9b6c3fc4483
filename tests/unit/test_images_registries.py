"""registries.yaml (k3s format) and imagePullSecrets credentials."""

from __future__ import annotations

import base64
import json

import pytest
import yaml

from kubeling.kubelet.images.registries import (Auth, apply_rewrites, auth_from_secrets, load_registries,
                                                parse_registries)

YAML = """
mirrors:
  docker.io:
    endpoint:
      - "http://127.0.0.1:5000"
      - "https://mirror.example.com/prefix"
    rewrite:
      "^library/(.*)": "mirrored/$1"
  registry.example.com:
    endpoint: ["https://registry.example.com:8443"]
    fallback: true
configs:
  "127.0.0.1:5000":
    auth: {username: alice, password: s3cret}
  mirror.example.com:
    auth: {auth: Ym9iOnB3}
    tls: {insecure_skip_verify: true}
  registry.example.com:
    auth: {token: abc}
"""


def test_mirrors_and_configs() -> None:
    cfg = parse_registries(yaml.safe_load(YAML))
    eps = cfg.endpoints("docker.io")
    assert [e.url for e in eps] == ["http://127.0.0.1:5000/v2", "https://mirror.example.com/prefix/v2"]
    assert eps[0].plain_http and not eps[1].plain_http
    assert eps[0].auth == Auth(username="alice", password="s3cret")
    assert eps[1].auth == Auth(username="bob", password="pw")
    assert eps[1].tls.insecure_skip_verify
    assert apply_rewrites("library/nginx", eps[0].rewrites) == "mirrored/nginx"
    assert apply_rewrites("foo/bar", eps[0].rewrites) == "foo/bar"


def test_fallback_and_defaults() -> None:
    cfg = parse_registries(yaml.safe_load(YAML))
    # fallback: true appends the registry itself; configs keyed by the registry name apply to it
    eps = cfg.endpoints("registry.example.com")
    assert [e.url for e in eps] == ["https://registry.example.com:8443/v2", "https://registry.example.com/v2"]
    assert eps[1].auth.token == "abc"
    # no mirror: the registry itself; loopback is plain HTTP; docker.io is registry-1
    assert [e.url for e in cfg.endpoints("quay.io")] == ["https://quay.io/v2"]
    assert [e.url for e in cfg.endpoints("localhost:5000")] == ["http://localhost:5000/v2"]
    assert [e.url for e in cfg.endpoints("127.0.0.1:5001")] == ["http://127.0.0.1:5001/v2"]
    assert [e.url for e in parse_registries({}).endpoints("docker.io")] == ["https://registry-1.docker.io/v2"]


def test_wildcard_mirror() -> None:
    cfg = parse_registries({"mirrors": {"*": {"endpoint": ["http://127.0.0.1:5000"]}}})
    assert [e.url for e in cfg.endpoints("quay.io")] == ["http://127.0.0.1:5000/v2"]


@pytest.mark.parametrize("doc,msg", [
    ([1, 2], "must be a mapping"),
    ({"mirrors": []}, "must be mappings"),
    ({"mirrors": {"docker.io": {"endpoint": "http://x"}}}, "mirrors.docker.io.endpoint must be a list"),
])
def test_bad_config(doc: object, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        parse_registries(doc)  # type: ignore[arg-type]


def test_load_missing_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert load_registries(str(tmp_path / "nope.yaml")).mirrors == {}
    p = tmp_path / "registries.yaml"
    p.write_text(YAML)
    assert "docker.io" in load_registries(str(p)).mirrors


def _secret(kind: str, payload: dict) -> dict:  # type: ignore[type-arg]
    return {"type": kind, "data": {(".dockerconfigjson" if kind.endswith("json") else ".dockercfg"):
                                   base64.b64encode(json.dumps(payload).encode()).decode()}}


def test_pull_secrets() -> None:
    s1 = _secret("kubernetes.io/dockerconfigjson",
                 {"auths": {"https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:pw").decode()},
                            "127.0.0.1:5000": {"username": "u", "password": "p"}}})
    s2 = _secret("kubernetes.io/dockercfg", {"quay.io": {"username": "q", "password": "r"}})
    assert auth_from_secrets([s1, s2], "docker.io") == Auth(username="hub", password="pw")
    assert auth_from_secrets([s1, s2], "127.0.0.1:5000") == Auth(username="u", password="p")
    assert auth_from_secrets([s1, s2], "quay.io") == Auth(username="q", password="r")
    assert auth_from_secrets([s1, s2], "gcr.io") is None
    assert auth_from_secrets([{"data": {}}], "docker.io") is None
