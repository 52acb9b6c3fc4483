"""Strict field validation (sigs.k8s.io/json strict errors) and the Status errors and warnings
the apiserver builds from it."""

from __future__ import annotations

import json
import re
from typing import Any

from kubeling.api import errors
from .field import duplicate, go_quote


# ---------------------------------------------------------------------------------------------
# strict field validation (sigs.k8s.io/json strict errors, apiserver handlers)

_KEY_TOKEN = re.compile(rb'"\s*:')
_SPACED_KEY_TOKEN = re.compile(rb'"\s+:')


def _count_keys(v: Any) -> int:
    n = 0
    if isinstance(v, dict):
        n = len(v)
        v = v.values()
    elif not isinstance(v, list):
        return 0
    for x in v:
        if isinstance(x, (dict, list)):
            n += _count_keys(x)
    return n


def _count_key_tokens(raw_json: bytes) -> int:
    """How many `"` + optional whitespace + `:` the text has (compact JSON: just count `":`)."""
    if _SPACED_KEY_TOKEN.search(raw_json) is None:
        return raw_json.count(b'":')
    return len(_KEY_TOKEN.findall(raw_json))


def may_have_duplicates(raw_json: bytes, parsed: Any) -> bool:
    """Cheap pre-check for `duplicate_fields`: every key in JSON text is followed by `"` and a
    colon, so if the text has no more `":` tokens than the decoded document has keys, no key
    repeats. (String values containing `":` only make this say "maybe".)"""
    return _count_key_tokens(raw_json) != _count_keys(parsed)


def duplicate_fields(raw_json: bytes | str) -> list[str]:
    """`duplicate field "spec.replicas"` for each repeated key in a JSON document (any depth)."""
    found: list[str] = []
    marker = "\x00dup"

    def hook(pairs: list[tuple[str, Any]]) -> dict:
        d: dict = {}
        for k, v in pairs:
            if k in d:
                d.setdefault(marker, []).append(k)
            d[k] = v
        return d

    try:
        doc = json.loads(raw_json, object_pairs_hook=hook)
    except ValueError:
        return []

    def walk(v: Any, path: str) -> None:
        if isinstance(v, dict):
            for k in v.pop(marker, []):
                found.append(f'duplicate field "{path + "." + k if path else k}"')
            for k, x in v.items():
                walk(x, f"{path}.{k}" if path else k)
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, f"{path}[{i}]")

    walk(doc, "")
    return found


def strict_decoding_message(problems: list[str]) -> str:
    """runtime.strictDecodingError.Error()."""
    return "strict decoding error: " + ", ".join(problems)


def strict_apply_error(problems: list[str]) -> errors.StatusError:
    """fieldValidation=Strict on apply (duplicate fields only): `error strict decoding YAML: ...`."""
    return errors.bad_request("error strict decoding YAML: " + strict_decoding_message(problems))


TRUNCATE_AT_TOTAL_RUNES = 4 * 1024
TRUNCATE_ITEM_RUNES = 256


def warning_headers(problems: list[str]) -> list[str]:
    """`Warning` header values (`299 - "unknown field \\"x\\""`), bounded like kube-apiserver's recorder.

    filters/warning.go: duplicates are dropped; once the texts pass 4 Ki runes, every text is
    cut to 256 runes and no more are added after 4 Ki of those, so a request with thousands of
    (or huge) unknown fields still gets headers a client can read.
    """
    shown: list[str] = []
    seen: set[str] = set()
    written, truncating = 0, False
    for text in problems:
        if truncating and written >= TRUNCATE_AT_TOTAL_RUNES:
            break
        if not text or text in seen:
            continue
        seen.add(text)
        if truncating:
            text = text[:TRUNCATE_ITEM_RUNES]
        if written + len(text) <= TRUNCATE_AT_TOTAL_RUNES or truncating:
            written += len(text)
            shown.append(text)
            continue
        truncating = True
        shown = [t[:TRUNCATE_ITEM_RUNES] for t in [*shown, text]]
        written = sum(len(t) for t in shown)
    return [f"299 - {go_quote(t)}" for t in shown]
