"""Content negotiation: which representation the client asked for, and decoding request bodies."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import orjson
import yaml

from ..api import errors

MAX_BODY = 3 * 1024 * 1024

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
APPLY_PATCH_CBOR = "application/apply-patch+cbor"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH)


@dataclass(frozen=True, slots=True)
class Wanted:
    """The representation to answer with."""

    as_kind: str = ""  # "" (the object itself), "Table", "PartialObjectMetadata", "PartialObjectMetadataList"
    yaml: bool = False


def _media(entry: str) -> tuple[str, dict[str, str]]:
    mt, *params = [p.strip() for p in entry.split(";")]
    out: dict[str, str] = {}
    for p in params:
        k, _, v = p.partition("=")
        out[k.strip()] = v.strip()
    return mt.lower(), out


@functools.lru_cache(maxsize=256)
def negotiate(accept: str | None) -> Wanted:
    """Pick the first Accept entry we can produce; like the apiserver, prefer the client's order."""
    if not accept:
        return Wanted()
    for entry in accept.split(","):
        mt, params = _media(entry)
        if mt in ("application/json", "*/*", "application/*"):
            as_kind = params.get("as", "")
            if as_kind:
                if params.get("g") != "meta.k8s.io" or params.get("v") not in ("v1", "v1beta1"):
                    continue
                if as_kind not in ("Table", "PartialObjectMetadata", "PartialObjectMetadataList"):
                    continue
            return Wanted(as_kind)
        if mt == "application/yaml" and "as" not in params:
            return Wanted(yaml=True)
    raise errors.not_acceptable(
        "only the following media types are accepted: application/json, application/yaml, "
        "application/json;as=Table;v=v1;g=meta.k8s.io"
    )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return dict(pairs)


def decode_body(body: bytes, content_type: str | None) -> Any:
    """Request body → Python value, or a 400/415 Status error."""
    if len(body) > MAX_BODY:
        raise errors.too_large()
    mt = _media(content_type or JSON)[0]
    if mt == PROTOBUF:
        from ..api import protobuf

        return protobuf.decode_object(body)
    if mt in (JSON, JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise errors.bad_request(f"error decoding request body: {e}") from None
    if mt in (YAML, APPLY_PATCH, "application/x-yaml", "text/yaml"):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
        try:
            return yaml.safe_load(body)
        except yaml.YAMLError as e:
            raise errors.bad_request(f"error converting YAML to JSON: {e}") from None
    raise errors.unsupported_media_type(mt)


def encode_yaml(obj: Any) -> bytes:
    return yaml.safe_dump(obj, sort_keys=False).encode()
