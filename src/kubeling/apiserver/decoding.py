"""The decode step of every write: typed decode (api/typed.py) + fieldValidation, upstream's errors.

kube-apiserver's handlers decode a body (create, update, subresource bodies, DeleteOptions) or a
patch result (patch.go) into the Go type first; what fails there never reaches admission,
defaulting or validation. Each handler reports the failure its own way, chosen by `how`:

- "write"     create/update (handlers/create.go, update.go → transformDecodeError): 400
              `Deployment in version "v1" cannot be handled as a Deployment: <decode error>`;
- "patch"     JSON / merge patch (patch.go jsonPatcher): 422 ` "" is invalid: patch: Invalid
              value: "<patched JSON>": <decode error>`;
- "strategic" strategic merge patch (patch.go applyPatchToObject, unstructured converter): 422
              with the patch map printed by fmt `%+v`;
- "apply"     an apply configuration: only duplicate fields are checked here (the merge types
              it, api/apply.py); Strict: 400 `error strict decoding YAML: ...`;
- "applied"   the result of server-side apply: what the merge does not type (ranges,
              quantities, timestamps) is a 400 with the converter's error.

(DeleteOptions bodies are decoded by registry.DeleteOptions.from_body: a 400 with the
decoder's error as it is, handlers/delete.go.)
"""

from __future__ import annotations

from typing import Any, Callable

import orjson

from ..api import errors, typed
from ..api.validation import field, strict


def directive(query: Any) -> str:
    """The fieldValidation query parameter (default Warn, as kube-apiserver since 1.27); its
    value was checked with the other write options (validation.meta.validate_write_options)."""
    return query.get("fieldValidation") or "Warn"


def _mode(how: str) -> str:
    return typed.UNSTRUCTURED if how in ("strategic", "applied") else typed.JSON


def decode(gvk: tuple[str, str, str], obj: Any, *, mode: str, how: str = "write", raw: bytes = b"",
           warnings: list[str] | None = None,
           patch_repr: Callable[[], str] | None = None) -> None:
    """Type-check `obj` (changed in place: unknown fields dropped, values normalized) as `gvk`.

    A type error wins over strict-decoding problems, as in sigs.k8s.io/json. Duplicate and
    unknown fields then fail with mode Strict, become `warnings` with Warn, are ignored with Ignore.
    """
    if not isinstance(obj, dict):
        return
    group, version, kind = gvk
    unknown: list[str] = []
    if how != "apply":
        try:
            unknown = typed.decode(group, version, kind, obj, _mode(how))
        except typed.Mismatch as e:
            raise _decode_error(gvk, obj, how, e.message(), patch_repr) from None
    if mode == "Ignore" or how == "applied":
        return
    problems = []
    if raw[:1] in (b"{", b" ", b"\n", b"\t") and strict.may_have_duplicates(raw, obj):
        problems = strict.duplicate_fields(raw)
    problems += [f'unknown field "{p}"' for p in unknown]
    if not problems:
        return
    if mode == "Warn":
        if warnings is not None:
            warnings.extend(problems)
        return
    if how == "apply":
        raise strict.strict_apply_error(problems)
    raise _decode_error(gvk, obj, how, strict.strict_decoding_message(problems), patch_repr)


def _decode_error(gvk: tuple[str, str, str], obj: dict, how: str, message: str,
                  patch_repr: Callable[[], str] | None) -> errors.StatusError:
    if how in ("patch", "strategic"):
        shown = patch_repr() if patch_repr is not None else orjson.dumps(obj).decode()
        return field.invalid_error("", "", "", [field.invalid("patch", shown, message)])
    if how == "applied":
        return errors.bad_request(message)
    kind = obj.get("kind") if isinstance(obj.get("kind"), str) and obj.get("kind") else gvk[2]
    api_version = obj.get("apiVersion")
    version = api_version.rpartition("/")[2] if isinstance(api_version, str) and api_version else gvk[1]
    return errors.bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: {message}')
