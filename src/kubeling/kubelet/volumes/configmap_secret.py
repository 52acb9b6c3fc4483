"""configMap and secret volumes: payloads (path -> FileProjection) built from the objects, as
upstream's configmap.MakePayload / secret.MakePayload, and the kubelet's not-found errors.

The kubelet's configmap/secret managers report a missing object with the singular resource name,
so the FailedMount event reads `MountVolume.SetUp failed for volume "x" : configmap "x" not found`.
"""

from __future__ import annotations

import base64
from typing import Any

from .atomic_writer import FileProjection

DEFAULT_MODE = 0o644  # 420, what API defaulting puts in defaultMode


class PayloadError(Exception):
    pass


class ObjectNotFound(PayloadError):
    """The referenced ConfigMap/Secret does not exist (message: `configmap "x" not found`)."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f'{kind} "{name}" not found')
        self.kind = kind
        self.name = name


def configmap_data(cm: dict[str, Any]) -> dict[str, bytes]:
    """data (strings) and binaryData (base64) as bytes; binaryData never shadows data."""
    out = {k: base64.b64decode(v) for k, v in (cm.get("binaryData") or {}).items()}
    out.update({k: v.encode() for k, v in (cm.get("data") or {}).items()})
    return out


def secret_data(secret: dict[str, Any]) -> dict[str, bytes]:
    """Secret `data` is base64 on the wire; `stringData` is write-only and never stored."""
    return {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}


def _payload(data: dict[str, bytes], items: list[dict[str, Any]] | None, default_mode: int | None,
             optional: bool, missing_key: str) -> dict[str, FileProjection]:
    mode = DEFAULT_MODE if default_mode is None else default_mode
    payload: dict[str, FileProjection] = {}
    if not items:
        for k, v in data.items():
            payload[k] = FileProjection(v, mode)
        return payload
    for ktp in items:
        key = ktp.get("key", "")
        if key not in data:
            if optional:
                continue
            raise PayloadError(f"{missing_key}: {key}")
        m = ktp.get("mode")
        payload[ktp.get("path", "")] = FileProjection(data[key], mode if m is None else m)
    return payload


def configmap_payload(cm: dict[str, Any], items: list[dict[str, Any]] | None, default_mode: int | None,
                      optional: bool) -> dict[str, FileProjection]:
    """configmap.MakePayload."""
    return _payload(configmap_data(cm), items, default_mode, optional, "configmap references non-existent config key")


def secret_payload(secret: dict[str, Any], items: list[dict[str, Any]] | None, default_mode: int | None,
                   optional: bool) -> dict[str, FileProjection]:
    """secret.MakePayload."""
    return _payload(secret_data(secret), items, default_mode, optional, "references non-existent secret key")
