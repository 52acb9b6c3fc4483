"""kubectl's client configuration for a plugin (kubectl passes a plugin its arguments and
environment, nothing else): `--kubeconfig` or the `KUBECONFIG` list (files merged as kubectl
merges them: the first file to name a cluster, user or context wins, and the first
current-context), `--context`, and the namespace: `-n`, else the context's, else `default`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import yaml

from ..client.rest import ClientConfig
from .rollout import PluginError

_PATH_KEYS = {"clusters": ("certificate-authority",), "users": ("client-certificate", "client-key", "tokenFile")}


@dataclass(frozen=True)
class Target:
    config: ClientConfig
    namespace: str


def _files(flag: str) -> list[str]:
    if flag:
        return [flag]
    env = os.environ.get("KUBECONFIG", "")
    if env:
        return [p for p in env.split(os.pathsep) if p]
    return [os.path.expanduser("~/.kube/config")]


def merged(paths: list[str]) -> dict[str, Any]:
    """One kubeconfig from several; relative file references resolved against their file."""
    out: dict[str, Any] = {"clusters": [], "users": [], "contexts": []}
    for path in paths:
        try:
            with open(path) as f:
                doc = yaml.safe_load(f) or {}
        except FileNotFoundError:
            if len(paths) == 1:
                raise PluginError(f"stat {path}: no such file or directory") from None
            continue
        except (OSError, yaml.YAMLError) as e:
            raise PluginError(f"error loading config file \"{path}\": {e}") from None
        base = os.path.dirname(os.path.abspath(path))
        for section in ("clusters", "users", "contexts"):
            have = {e.get("name") for e in out[section]}
            for entry in doc.get(section) or []:
                if entry.get("name") in have:
                    continue
                inner = dict(entry.get(section[:-1]) or {})
                for key in _PATH_KEYS.get(section, ()):
                    if inner.get(key) and not os.path.isabs(inner[key]):
                        inner[key] = os.path.join(base, inner[key])
                out[section].append({**entry, section[:-1]: inner})
        if not out.get("current-context"):
            out["current-context"] = doc.get("current-context") or None
    return out


def resolve(kubeconfig: str = "", context: str = "", namespace: str = "") -> Target:
    cfg = merged(_files(kubeconfig))
    name = context or cfg.get("current-context")
    if not name:
        raise PluginError("no context is set: use --context or set current-context in the kubeconfig")
    ctx = next((c.get("context") or {} for c in cfg["contexts"] if c.get("name") == name), None)
    if ctx is None:
        raise PluginError(f'context "{name}" does not exist')
    cluster = next((c["cluster"] for c in cfg["clusters"] if c.get("name") == ctx.get("cluster")), None)
    if cluster is None or not cluster.get("server"):
        raise PluginError(f'cluster "{ctx.get("cluster")}" of context "{name}" has no server')
    ctx = {**ctx, "user": ctx.get("user") or ""}
    user = next((u["user"] for u in cfg["users"] if u.get("name") == ctx["user"]), {})
    if user.get("tokenFile") and not user.get("token"):
        with open(user["tokenFile"]) as f:
            user = {**user, "token": f.read().strip()}
    one = {"current-context": name, "contexts": [{"name": name, "context": ctx}],
           "clusters": [{"name": ctx.get("cluster"), "cluster": cluster}],
           "users": [{"name": ctx["user"], "user": user}]}
    return Target(ClientConfig.from_kubeconfig_data(one, user_agent="kubectl-kubeling"),
                  namespace or ctx.get("namespace") or "default")
