"""Registry configuration in k3s's `registries.yaml` shape, and pull-secret credentials.

```yaml
mirrors:
  docker.io:
    endpoint: ["http://127.0.0.1:5000"]
configs:
  "127.0.0.1:5000":
    auth: {username: u, password: p}        # or token / auth (base64 user:pass)
    tls: {insecure_skip_verify: true}       # also ca_file, cert_file, key_file
```

Endpoints for a registry host are its mirror endpoints in order. The registry's own
endpoint (`https://<host>`, `https://registry-1.docker.io` for docker.io) is tried
after them only when the host has no mirror, or when the mirror entry sets
`fallback: true` — this machine cannot reach public registries, and a fallback that
can only fail would turn the "not found" of a missing tag into a connection error.
Loopback hosts (`localhost`, `127.x`, `[::1]`) default to plain HTTP, as Docker treats
them as insecure registries.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import yaml

DOCKER_HUB_ENDPOINT = "https://registry-1.docker.io"


@dataclass(frozen=True)
class Auth:
    """Credentials for one registry: basic (username/password) or a bearer token."""

    username: str = ""
    password: str = ""
    token: str = ""  # a registry token sent as `Authorization: Bearer`
    identity_token: str = ""  # OAuth2 refresh token for the token endpoint

    def __bool__(self) -> bool:
        return bool(self.username or self.password or self.token or self.identity_token)


@dataclass(frozen=True)
class TLS:
    insecure_skip_verify: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""


@dataclass(frozen=True)
class Endpoint:
    """One place to pull a registry's content from: `http://127.0.0.1:5000/v2`."""

    url: str  # scheme://host[:port]/prefix, the prefix ending in /v2
    host: str  # host[:port] of the endpoint (what `configs` are keyed by)
    auth: Auth = Auth()
    tls: TLS = TLS()
    rewrites: tuple[tuple[str, str], ...] = ()

    @property
    def plain_http(self) -> bool:
        return self.url.startswith("http://")


@dataclass
class RegistryConfig:
    mirrors: dict[str, dict[str, Any]] = field(default_factory=dict)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def endpoints(self, registry: str) -> list[Endpoint]:
        """Where to look for `registry`'s images, in order (mirrors, then maybe the registry)."""
        mirror = self.mirrors.get(registry) or self.mirrors.get("*")
        out: list[Endpoint] = []
        rewrites: tuple[tuple[str, str], ...] = ()
        if mirror:
            rewrites = tuple((mirror.get("rewrite") or {}).items())
            for ep in mirror.get("endpoint") or []:
                out.append(self._endpoint(ep, registry, rewrites))
        if not out or (mirror and mirror.get("fallback")):
            out.append(self._endpoint(default_endpoint(registry), registry, ()))
        return out

    def _endpoint(self, raw: str, registry: str, rewrites: tuple[tuple[str, str], ...]) -> Endpoint:
        url = _endpoint_url(raw)
        host = urlsplit(url).netloc
        cfg = self.configs.get(host) or self.configs.get(registry) or {}
        return Endpoint(url=url, host=host, auth=parse_auth(cfg.get("auth") or {}),
                        tls=parse_tls(cfg.get("tls") or {}), rewrites=rewrites)


def is_loopback_host(hostport: str) -> bool:
    host = hostport
    if host.startswith("["):
        host = host[1:host.find("]")]
    elif host.count(":") == 1:
        host = host.split(":")[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_endpoint(registry: str) -> str:
    if registry == "docker.io":
        return DOCKER_HUB_ENDPOINT
    scheme = "http" if is_loopback_host(registry) else "https"
    return f"{scheme}://{registry}"


def _endpoint_url(raw: str) -> str:
    """`127.0.0.1:5000` → `https://127.0.0.1:5000/v2` (loopback: http); keeps a given path prefix."""
    if "://" not in raw:
        raw = default_endpoint(raw)
    parts = urlsplit(raw)
    path = parts.path.rstrip("/")
    if not path.endswith("/v2"):
        path += "/v2"
    return f"{parts.scheme}://{parts.netloc}{path}"


def parse_auth(d: dict[str, Any]) -> Auth:
    """k3s/containerd auth block; `auth` is base64("user:pass") as in a docker config."""
    username, password = d.get("username", "") or "", d.get("password", "") or ""
    if d.get("auth") and not username:
        username, password = decode_basic(d["auth"])
    return Auth(username=username, password=password, token=d.get("token", "") or "",
                identity_token=d.get("identitytoken", "") or d.get("identity_token", "") or "")


def parse_tls(d: dict[str, Any]) -> TLS:
    return TLS(insecure_skip_verify=bool(d.get("insecure_skip_verify", False)), ca_file=d.get("ca_file", "") or "",
               cert_file=d.get("cert_file", "") or "", key_file=d.get("key_file", "") or "")


def decode_basic(b64: str) -> tuple[str, str]:
    raw = base64.b64decode(b64).decode()
    user, _, pw = raw.partition(":")
    return user, pw


def parse_registries(data: dict[str, Any] | None) -> RegistryConfig:
    """Validate the shape of a parsed registries.yaml and build the config."""
    data = data or {}
    if not isinstance(data, dict):
        raise ValueError("registries config must be a mapping with 'mirrors' and/or 'configs'")
    mirrors = data.get("mirrors")
    configs = data.get("configs")
    mirrors = {} if mirrors is None else mirrors
    configs = {} if configs is None else configs
    if not isinstance(mirrors, dict) or not isinstance(configs, dict):
        raise ValueError("registries config: 'mirrors' and 'configs' must be mappings")
    for name, m in mirrors.items():
        eps = (m or {}).get("endpoint", [])
        if not isinstance(eps, list) or not all(isinstance(e, str) for e in eps):
            raise ValueError(f"registries config: mirrors.{name}.endpoint must be a list of URLs")
    return RegistryConfig(mirrors={k: dict(v or {}) for k, v in mirrors.items()},
                          configs={k: dict(v or {}) for k, v in configs.items()})


def load_registries(path: str) -> RegistryConfig:
    """Read registries.yaml; a missing file means no mirrors and no credentials."""
    if not path or not os.path.exists(path):
        return RegistryConfig()
    with open(path) as f:
        return parse_registries(yaml.safe_load(f))


def apply_rewrites(path: str, rewrites: tuple[tuple[str, str], ...]) -> str:
    """k3s mirror `rewrite`: the first regex that matches the repository path rewrites it."""
    import re

    for pattern, repl in rewrites:
        new, n = re.subn(pattern, re.sub(r"\$(\d+)", r"\\\1", repl), path, count=1)
        if n:
            return new
    return path


# ---- imagePullSecrets (kubernetes.io/dockerconfigjson and kubernetes.io/dockercfg) ----

def _normalize_auth_key(key: str) -> str:
    """Docker config keys are hosts or URLs (`https://index.docker.io/v1/`) → host."""
    host = urlsplit(key).netloc if "://" in key else key.split("/")[0]
    if host in ("index.docker.io", "registry-1.docker.io"):
        return "docker.io"
    return host


def auth_from_secrets(secrets: list[dict[str, Any]], registry: str) -> Auth | None:
    """First credentials in the pod's pull secrets that match `registry` (the image's host)."""
    for s in secrets:
        data = s.get("data") or {}
        if ".dockerconfigjson" in data:
            auths = json.loads(base64.b64decode(data[".dockerconfigjson"])).get("auths") or {}
        elif ".dockercfg" in data:
            auths = json.loads(base64.b64decode(data[".dockercfg"]))
        else:
            continue
        for key, entry in auths.items():
            if _normalize_auth_key(key) != registry:
                continue
            user, pw = entry.get("username", ""), entry.get("password", "")
            if entry.get("auth") and not user:
                user, pw = decode_basic(entry["auth"])
            return Auth(username=user, password=pw, token=entry.get("registrytoken", ""),
                        identity_token=entry.get("identitytoken", ""))
    return None
