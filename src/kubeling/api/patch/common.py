"""What the three patch flavours share: Go-style value rendering for messages, the 422 and
400 errors, and the strict decode of a patch body the handler does first."""

from __future__ import annotations

import math
from typing import Any

import orjson

from .. import errors
from ..typed import json_kind


MAX_JSON_PATCH_OPERATIONS = 10000  # apiserver handlers.maxJSONPatchOperations
JSON_PATCH_MAX_COPY_BYTES = 3 * 1024 * 1024  # the apiserver's JSONPatchMaxCopyBytes (a copy bomb's bound)


# --------------------------------------------------------------------------------------------------
# shared helpers


def deep_copy(v: Any) -> Any:
    """Copy a JSON value. orjson round-trips a Deployment ~5x faster than a Python-level walk."""
    t = type(v)
    if t is dict or t is list:
        try:
            return orjson.loads(orjson.dumps(v))
        except (TypeError, orjson.JSONEncodeError):
            return walk_copy(v)
    return v


def walk_copy(v: Any) -> Any:
    t = type(v)
    if t is dict:
        return {k: walk_copy(x) for k, x in v.items()}
    if t is list:
        return [walk_copy(x) for x in v]
    return v


def go_type(v: Any) -> str:
    """reflect.TypeOf(v).String() for a value decoded the apiserver way (ints preserved)."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "[]interface {}"
    return "map[string]interface {}"


def _go_float(f: float) -> str:
    """Go's %v of a float64 (strconv 'g' with shortest digits: exponent form when < -4 or >= 6)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "0"
    digits, exp = repr(abs(f)).lower().partition("e")[::2]
    mant = digits.replace(".", "")
    point = digits.index(".") if "." in digits else len(digits)
    lead = len(mant) - len(mant.lstrip("0"))
    mant = mant.strip("0") or "0"
    x = point - lead - 1 + (int(exp) if exp else 0)  # decimal exponent of the first digit
    sign = "-" if f < 0 else ""
    if x < -4 or x >= 6:
        frac = "." + mant[1:] if len(mant) > 1 else ""
        return f"{sign}{mant[0]}{frac}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if x >= len(mant) - 1:
        return sign + mant + "0" * (x - len(mant) + 1)
    if x >= 0:
        return f"{sign}{mant[:x + 1]}.{mant[x + 1:]}"
    return f"{sign}0.{'0' * (-x - 1)}{mant}"


def gofmt(v: Any) -> str:
    """Go's fmt %v of a decoded JSON value (maps print with sorted keys: map[a:1 b:[x y]])."""
    if v is None:
        return "<nil>"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _go_float(v)
    if isinstance(v, list):
        return "[" + " ".join(gofmt(x) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{gofmt(v[k])}" for k in sorted(v)) + "]"
    return str(v)


def go_s(v: Any) -> str:
    """Go's %s of an interface value: strings as-is, anything else as %!s(type=value)."""
    if isinstance(v, str):
        return v
    if v is None:
        return "%!s(<nil>)"
    return f"%!s({go_type(v)}={gofmt(v)})"


def unprocessable() -> errors.StatusError:
    """errors.NewGenericServerResponse(422, ..., isUnexpectedResponse=false): how the apiserver reports a
    patch that cannot apply. The library's message is not sent (details stay empty), so kubectl prints
    `The request is invalid: the server rejected our request due to an error in our request`; we chain
    it as the exception's __cause__ for logs."""
    return errors.StatusError(422, "Invalid", "the server rejected our request due to an error in our request", {})


def unknown_error(message: str) -> errors.StatusError:
    """A plain Go error reaching the apiserver's error writer: 500 with an empty (Unknown) reason."""
    return errors.StatusError(500, "", message)


def check_strict_decode(content_type: str, patch: Any) -> None:
    """What upstream's patch handler does first with fieldValidation Strict or Warn (the default):
    kjson.UnmarshalStrict of a JSON patch into []jsonPatchOp and of a merge patch into a map; a
    body of the wrong shape is a 400 `error decoding patch: json: cannot unmarshal ...`. (With
    Ignore the libraries decode it themselves: see json_patch and merge_patch.)"""
    if patch is None:
        return
    if content_type == "application/json-patch+json":
        if not isinstance(patch, list):
            raise _decode_error(f"{json_kind(patch)} into Go value of type []handlers.jsonPatchOp")
        for op in patch:
            if op is not None and not isinstance(op, dict):
                raise _decode_error(f"{json_kind(op)} into Go value of type handlers.jsonPatchOp")
            for key, value in (op or {}).items():
                if key in ("op", "path", "from") and value is not None and not isinstance(value, str):
                    raise _decode_error(f"{json_kind(value)} into Go struct field jsonPatchOp.{key} of type string")
    elif content_type == "application/merge-patch+json" and not isinstance(patch, dict):
        raise _decode_error(f"{json_kind(patch)} into Go value of type map[string]interface {{}}")


def _decode_error(what: str) -> errors.StatusError:
    return errors.bad_request(f"error decoding patch: json: cannot unmarshal {what}")
