"""OCI and Docker media types, platform selection, canonical JSON."""

from __future__ import annotations

import json
from typing import Any

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join(INDEX_TYPES + MANIFEST_TYPES)

PLATFORM_OS = "linux"
PLATFORM_ARCH = "amd64"


def guess(doc: dict[str, Any]) -> str:
    """Media type of a manifest-ish document without a mediaType field (OCI allows that)."""
    return OCI_INDEX if "manifests" in doc else OCI_MANIFEST


def is_index(media_type: str, doc: dict[str, Any] | None = None) -> bool:
    return media_type in INDEX_TYPES or (not media_type and doc is not None and "manifests" in doc)


def is_manifest(media_type: str, doc: dict[str, Any] | None = None) -> bool:
    return media_type in MANIFEST_TYPES or (not media_type and doc is not None and "config" in doc)


def pick_platform(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    """linux/amd64 from an index; an entry without a platform only if it is the sole one."""
    for m in manifests:
        p = m.get("platform") or {}
        if p.get("os") == PLATFORM_OS and p.get("architecture") == PLATFORM_ARCH:
            return m
    if len(manifests) == 1 and not manifests[0].get("platform"):
        return manifests[0]
    raise LookupError(f"no matching manifest for {PLATFORM_OS}/{PLATFORM_ARCH} in the manifest list entries")


def canonical_json(obj: Any) -> bytes:
    """Deterministic JSON bytes (sorted keys, no spaces): stable digests across builds."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
