"""Content negotiation: which representation the client asked for, and decoding request bodies."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import yaml

from ..api import bounds, errors, yamljson

MAX_BODY = 3 * 1024 * 1024  # the apiserver's MaxRequestBodyBytes: twice etcd's 1.5 MiB request limit
# bodies past this decode in a worker thread: a dense 3 MB YAML takes seconds, during which the
# event loop must go on serving other requests and watches (orjson takes ~1 ms per 256 KiB, so
# smaller bodies are cheaper decoded in place than handed to a thread)
THREAD_DECODE_BYTES = 256 * 1024

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


class _Stream(Protocol):
    async def read(self, n: int = -1) -> bytes: ...


async def read_body(content: _Stream, content_length: int | None, limit: int = MAX_BODY) -> bytes:
    """The whole request body (Content-Length or chunked), or 413 once it passes `limit`.

    Upstream's limitedReadBody. `read(n)` returns only what has arrived so far, so a body that
    comes in several TCP reads (a 4 KB ConfigMap often does) is read until the end of the stream.
    """
    if content_length is not None and content_length > limit:
        raise errors.too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await content.read(limit + 1 - size)
        if not chunk:
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise errors.too_large(limit)
        chunks.append(chunk)


def decode_body(body: bytes, content_type: str | None) -> Any:
    """Request body → a JSON value (dict, list, str, int, float, bool, None), or a Status error:
    400 for what does not decode or nests deeper than bounds.MAX_DEPTH, 413 past MAX_BODY (also
    for the JSON a YAML document expands to), 415 for an unknown media type."""
    if len(body) > MAX_BODY:
        raise errors.too_large(MAX_BODY)
    mt = _media(content_type or JSON)[0]
    if mt == PROTOBUF:
        from ..api import protobuf

        obj = protobuf.decode_object(body)
        if bounds.depth_exceeds(obj):
            raise errors.bad_request(f"error decoding request body: {bounds.too_deep_message()}")
        return obj
    if mt in (JSON, JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH):
        return _decode_json(body, "error decoding request body: ")
    if mt in (YAML, APPLY_PATCH, "application/x-yaml", "text/yaml"):
        if body.lstrip()[:1] in (b"{", b"["):
            try:
                return _decode_json(body, "error converting YAML to JSON: yaml: ")
            except errors.StatusError:
                pass  # YAML flow style that is not JSON
        try:
            return yamljson.loads(body, max_size=MAX_BODY)
        except yamljson.YAMLToJSONError as e:
            raise errors.bad_request(f"error converting YAML to JSON: {e}") from None
        except OverflowError:
            raise errors.too_large(MAX_BODY) from None
    raise errors.unsupported_media_type(mt)


async def decode_body_async(body: bytes, content_type: str | None) -> Any:
    """decode_body, in a worker thread for a body past THREAD_DECODE_BYTES."""
    if len(body) > THREAD_DECODE_BYTES:
        return await asyncio.to_thread(decode_body, body, content_type)
    return decode_body(body, content_type)


def _decode_json(body: bytes, prefix: str) -> Any:
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        if str(e).startswith("depth limit exceeded"):  # orjson stops at 1024 levels
            raise errors.bad_request(prefix + bounds.too_deep_message()) from None
        raise errors.bad_request(f"{prefix}{e}") from None
    if bounds.depth_exceeds(obj, raw=body):
        raise errors.bad_request(prefix + bounds.too_deep_message())
    return obj


def encode_yaml(obj: Any) -> bytes:
    return yaml.safe_dump(obj, sort_keys=False).encode()
