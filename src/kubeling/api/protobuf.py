"""Decode Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) into JSON dicts.

Why: kubectl's typed clients (`kubectl create configmap|secret|service|deployment|...`, `create
token`, evictions) POST protobuf and never retry as JSON, so the server must read it. The result
is exactly what kube-apiserver would see: protobuf -> Go struct -> JSON. That matters because
gogo-protobuf writes every non-pointer Go field on the wire (an empty `generateName`, a zero
`creationTimestamp`), and only Go's JSON rules (`omitempty`, pointer or value, `,inline`) say
which of them are visible, e.g. `metadata.creationTimestamp: null` and `status: {}` but no
`generateName: ""`, while a pointer `replicas: 0` stays.

Wire format: the 4-byte magic `k8s\\x00`, then a `runtime.Unknown` {1: TypeMeta{1 apiVersion,
2 kind}, 2: raw, 3: contentEncoding, 4: contentType}; `raw` is the object's own message.
Messages are table-driven (proto_messages.json, built by tools/proto_to_table.py from the
upstream generated.proto definitions and the Go struct tags): message -> field number ->
[json name, type, flags, map key type, map value type]. Flags: r repeated, m map, p Go pointer,
o omitempty, i inline (`json:",inline"`: the sub-message's keys go into the parent).
"""

from __future__ import annotations

import base64
import contextvars
import datetime as _dt
import functools
import json
import struct
from importlib import resources as _resources
from typing import Any, Callable

from kubeling.api.errors import StatusError, bad_request, too_large
from kubeling.api.goduration import go_duration

MAGIC = b"k8s\x00"
MAX_DEPTH = 100  # real objects nest < 20 deep; bounds recursion on hostile input
# The work one body may cost: a field parsed is 1, a message decoded 10. An empty message is 2
# bytes on the wire but a dict of its zero-valued fields here (~16 µs, ~400 bytes): a 3 MiB Pod
# of 1.5 million empty containers took ~25 s of a blocked event loop and ~1 GB; now it stops
# after 1.5 s and ~100 MB with a 413. Objects kubectl creates cost about one unit per wire byte
# and stand for 1.2-5.4 JSON bytes per unit, so an object refused here (~500 KB of dense
# protobuf) is rare; one near the store's 1.5 MiB would be refused there.
MAX_WORK = 500_000
_budget: contextvars.ContextVar[list[int]] = contextvars.ContextVar("protobuf_work_budget")


def _spend(units: int) -> None:
    """Charge decoding work to the body being decoded (a 413 once it passes MAX_WORK)."""
    budget = _budget.get(None)
    if budget is not None:
        budget[0] -= units
        if budget[0] < 0:
            raise too_large()

_META = "k8s.io.apimachinery.pkg.apis.meta.v1."
INT_OR_STRING = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "k8s.io.apimachinery.pkg.api.resource.Quantity"
TIME = _META + "Time"
MICRO_TIME = _META + "MicroTime"
DURATION = _META + "Duration"
FIELDS_V1 = _META + "FieldsV1"
RAW_EXTENSION = "k8s.io.apimachinery.pkg.runtime.RawExtension"

# Kinds every group-version accepts (metav1.AddToGroupVersion registers them everywhere).
_META_KINDS = ("DeleteOptions", "CreateOptions", "UpdateOptions", "PatchOptions", "GetOptions")

_VARINT, _I64, _LEN, _SGROUP, _EGROUP, _I32 = 0, 1, 2, 3, 4, 5
_ZERO_UNIX_SECONDS = -62135596800  # Go's zero time.Time (0001-01-01T00:00:00Z) as Unix seconds
_MAX_UNIX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z


class ProtoError(ValueError):
    """Malformed protobuf; turned into a 400 by decode_object."""


# ---------------------------------------------------------------------------------------------
# table


@functools.cache
def _table() -> dict[str, Any]:
    text = _resources.files("kubeling.api").joinpath("proto_messages.json").read_text()
    raw = json.loads(text)
    messages = {
        name: {int(num): (row[0], row[1], row[2], *(row[3:5] or (None, None)), _shape(row[1], row[2]))
               for num, row in fields.items() if row[0] != "-"}  # json:"-": never in JSON
        for name, fields in raw["messages"].items()
    }
    return {"kinds": raw["kinds"], "lists": frozenset(raw["lists"]), "messages": messages}


_MAP, _REPEATED, _SCALAR, _MESSAGE = range(4)


def _shape(typ: str, flags: str) -> int:
    if "m" in flags:
        return _MAP
    if "r" in flags:
        return _REPEATED
    if typ in ("string", "bytes", "int32", "int64", "uint32", "uint64", "sint32", "sint64", "bool",
               "fixed32", "sfixed32", "float", "fixed64", "sfixed64", "double"):
        return _SCALAR
    return _MESSAGE


def message_for(api_version: str, kind: str) -> str | None:
    """The protobuf message name for an apiVersion/kind, or None if it is not a known kind."""
    kinds = _table()["kinds"]
    name = kinds.get(f"{api_version}/{kind}")
    if name is None and kind in _META_KINDS:
        name = kinds.get(f"meta.k8s.io/v1/{kind}")
    return name


# ---------------------------------------------------------------------------------------------
# wire primitives (messages follow gogo-protobuf's generated Unmarshal)


def _varint(buf: bytes, i: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if shift >= 64:
            raise ProtoError("proto: integer overflow")
        if i >= end:
            raise ProtoError("unexpected EOF")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, i
        shift += 7


def _skip_group(buf: bytes, i: int, end: int, depth: int) -> int:
    """Skip a (deprecated) group up to its end tag, as gogo's skipGenerated does."""
    while True:
        key, i = _varint(buf, i, end)
        wt = key & 7
        if wt == _EGROUP:
            return i
        i = _skip(buf, i, end, wt, depth + 1)


def _skip(buf: bytes, i: int, end: int, wt: int, depth: int) -> int:
    if depth > MAX_DEPTH:
        raise ProtoError("proto: message nested too deeply")
    if wt == _VARINT:
        return _varint(buf, i, end)[1]
    if wt == _I64:
        i += 8
    elif wt == _I32:
        i += 4
    elif wt == _LEN:
        n, i = _varint(buf, i, end)
        i += _length(n)
    elif wt == _SGROUP:
        return _skip_group(buf, i, end, depth)
    else:
        raise ProtoError(f"proto: illegal wireType {wt}")
    if i > end:
        raise ProtoError("unexpected EOF")
    return i


def _length(n: int) -> int:
    if n >= 1 << 63:
        raise ProtoError("proto: negative length found during unmarshaling")
    return n


def _fields(buf: bytes, start: int, end: int) -> list[tuple[int, int, Any]]:
    """Split one message into (field number, wire type, value); LEN values stay (start, end)."""
    out = []
    i = start
    while i < end:
        key = buf[i]
        if key < 0x80:  # fast path: one-byte tag (field numbers < 16)
            i += 1
        else:
            key, i = _varint(buf, i, end)
        num, wt = key >> 3, key & 7
        if num <= 0 or num >= 1 << 29:
            raise ProtoError(f"proto: illegal tag {num} (wire type {wt})")
        if wt == _VARINT:
            v, i = _varint(buf, i, end)
        elif wt == _LEN:
            n = buf[i] if i < end else 0x80
            if n < 0x80:
                i += 1
            else:
                n, i = _varint(buf, i, end)
                n = _length(n)
            if i + n > end:
                raise ProtoError("unexpected EOF")
            v = (i, i + n)
            i += n
        elif wt == _I64:
            if i + 8 > end:
                raise ProtoError("unexpected EOF")
            v, i = buf[i:i + 8], i + 8
        elif wt == _I32:
            if i + 4 > end:
                raise ProtoError("unexpected EOF")
            v, i = buf[i:i + 4], i + 4
        elif wt == _SGROUP:
            i = _skip_group(buf, i, end, 0)
            continue
        else:
            raise ProtoError(f"proto: illegal wireType {wt}")
        out.append((num, wt, v))
        if not len(out) & 4095:
            _spend(4096)  # as it goes: one message of a million empty fields stops early
    _spend(len(out) & 4095)
    return out


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def _s64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _zigzag(v: int) -> int:
    return (v >> 1) ^ -(v & 1)


# scalar type -> (wire type, decode(wire value) -> JSON value, zero value)
_SCALARS: dict[str, tuple[int, Callable[[Any], Any], Any]] = {
    "int32": (_VARINT, _s32, 0),
    "int64": (_VARINT, _s64, 0),
    "uint32": (_VARINT, lambda v: v & 0xFFFFFFFF, 0),
    "uint64": (_VARINT, lambda v: v, 0),
    "sint32": (_VARINT, lambda v: _s32(_zigzag(v & 0xFFFFFFFF)), 0),
    "sint64": (_VARINT, _zigzag, 0),
    "bool": (_VARINT, lambda v: v != 0, False),
    "fixed32": (_I32, lambda b: struct.unpack("<I", b)[0], 0),
    "sfixed32": (_I32, lambda b: struct.unpack("<i", b)[0], 0),
    "float": (_I32, lambda b: _finite(struct.unpack("<f", b)[0]), 0),
    "fixed64": (_I64, lambda b: struct.unpack("<Q", b)[0], 0),
    "sfixed64": (_I64, lambda b: struct.unpack("<q", b)[0], 0),
    "double": (_I64, lambda b: _finite(struct.unpack("<d", b)[0]), 0),
}


def _finite(f: float) -> float:
    if f != f or f in (float("inf"), float("-inf")):
        raise ProtoError(f"json: unsupported value: {f}")  # what encoding/json says for NaN/Inf
    return f


def _text(buf: bytes, span: tuple[int, int]) -> str:
    # Go strings hold any bytes; encoding/json writes invalid UTF-8 as U+FFFD.
    return buf[span[0]:span[1]].decode("utf-8", "replace")


def _b64(buf: bytes, span: tuple[int, int]) -> str:
    return base64.b64encode(buf[span[0]:span[1]]).decode("ascii")


def _scalar_list(buf: bytes, typ: str, wt: int, v: Any) -> list[Any]:
    """One occurrence of a repeated scalar: a single value, or a packed run of them."""
    want, conv, _ = _SCALARS[typ]
    if wt == want:
        return [conv(v)]
    if wt != _LEN:
        raise ProtoError(f"proto: wrong wireType = {wt} for field of type {typ}")
    i, end = v
    out = []
    while i < end:
        if want == _VARINT:
            x, i = _varint(buf, i, end)
        else:
            size = 8 if want == _I64 else 4
            if i + size > end:
                raise ProtoError("unexpected EOF")
            x, i = buf[i:i + size], i + size
        out.append(conv(x))
    return out


# ---------------------------------------------------------------------------------------------
# messages


def _value(buf: bytes, typ: str, wt: int, v: Any, depth: int) -> Any:
    """A single (non-repeated-packed) value of any type."""
    if typ == "string":
        _want(wt, _LEN, typ)
        return _text(buf, v)
    if typ == "bytes":
        _want(wt, _LEN, typ)
        return _b64(buf, v)
    if typ in _SCALARS:
        _want(wt, _SCALARS[typ][0], typ)
        return _SCALARS[typ][1](v)
    _want(wt, _LEN, typ)
    return decode_message(typ, buf, v[0], v[1], depth + 1)


def _want(wt: int, want: int, typ: str) -> None:
    if wt != want:
        raise ProtoError(f"proto: wrong wireType = {wt} for field of type {typ}")


def _zero(typ: str, depth: int) -> Any:
    if typ == "string":
        return ""
    if typ in _SCALARS:
        return _SCALARS[typ][2]
    return decode_message(typ, b"", 0, 0, depth + 1)


def _map_entry(buf: bytes, span: tuple[int, int], ktyp: str, vtyp: str, depth: int) -> tuple[Any, Any]:
    key: Any = None
    val: Any = None
    vchunks: list[tuple[int, int]] = []
    for num, wt, v in _fields(buf, *span):
        if num == 1:
            key = _value(buf, ktyp, wt, v, depth)
        elif num == 2:
            if vtyp in _SCALARS or vtyp in ("string", "bytes"):
                val = _value(buf, vtyp, wt, v, depth)
            else:
                _want(wt, _LEN, vtyp)
                vchunks.append(v)
    if key is None:
        key = _zero(ktyp, depth)
    if vchunks:
        val = _message_from_chunks(vtyp, buf, vchunks, depth)
    elif val is None:
        val = "" if vtyp == "bytes" else _zero(vtyp, depth)
    if not isinstance(key, str):
        key = json.dumps(key)  # Go JSON writes integer map keys as strings
    return key, val


def _message_from_chunks(typ: str, buf: bytes, chunks: list[tuple[int, int]], depth: int) -> Any:
    """A non-repeated message seen several times merges, like parsing the concatenation."""
    if len(chunks) == 1:
        return decode_message(typ, buf, chunks[0][0], chunks[0][1], depth + 1)
    joined = b"".join(buf[a:b] for a, b in chunks)
    return decode_message(typ, joined, 0, len(joined), depth + 1)


def decode_message(name: str, buf: bytes, start: int, end: int, depth: int = 0) -> Any:
    """Decode buf[start:end] as message `name` into its JSON value (dict, or a special form)."""
    if depth > MAX_DEPTH:
        raise ProtoError("proto: message nested too deeply")
    _spend(10)
    special = _SPECIAL.get(name)
    if special is not None:
        return special(buf, start, end)
    tbl = _table()
    fields = tbl["messages"].get(name)
    if fields is None:
        raise ProtoError(f"no protobuf definition for {name}")
    if name in tbl["lists"]:
        items: list[Any] = []
        for num, wt, v in _fields(buf, start, end):
            if num == 1:
                items.append(_value(buf, fields[1][1], wt, v, depth))
        return items or None  # a nil Go slice is JSON null

    seen: dict[int, list[tuple[int, Any]]] = {}
    for num, wt, v in _fields(buf, start, end):
        if num in fields:
            seen.setdefault(num, []).append((wt, v))
        # unknown fields are skipped, as gogo's generated Unmarshal does

    out: dict[str, Any] = {}
    for num, (jname, typ, flags, ktyp, vtyp, shape) in fields.items():
        occ = seen.get(num)
        if shape == _SCALAR:
            _emit_scalar(out, buf, jname, typ, flags, occ, depth)
        elif shape == _MESSAGE:
            _emit_message(out, buf, jname, typ, flags, occ, depth)
        elif shape == _MAP:
            value: Any = None
            if occ:
                value = {}
                for wt, v in occ:
                    _want(wt, _LEN, "map entry")
                    k, val = _map_entry(buf, v, ktyp, vtyp, depth)
                    value[k] = val
            _emit_collection(out, jname, flags, value)
        else:
            value = None
            if occ:
                value = []
                for wt, v in occ:
                    if typ in _SCALARS:
                        value.extend(_scalar_list(buf, typ, wt, v))
                    else:
                        value.append(_value(buf, typ, wt, v, depth))
            _emit_collection(out, jname, flags, value)
    return out


def _emit_collection(out: dict[str, Any], jname: str, flags: str, value: Any) -> None:
    if value:
        out[jname] = value
    elif "o" not in flags:
        out[jname] = value  # nil slice/map -> null; empty-but-present -> [] / {}


def _emit_scalar(out: dict[str, Any], buf: bytes, jname: str, typ: str, flags: str,
                 occ: list[tuple[int, Any]] | None, depth: int) -> None:
    pointer, omitempty = "p" in flags, "o" in flags
    if occ:
        wt, v = occ[-1]  # last one wins
        value = _value(buf, typ, wt, v, depth)
        if pointer or not omitempty or (value != "" and value is not False and value != 0):
            out[jname] = value
        return
    if typ == "bytes" or pointer:  # nil []byte or nil pointer
        if not omitempty:
            out[jname] = None
        return
    if not omitempty:
        out[jname] = _zero(typ, depth)


def _emit_message(out: dict[str, Any], buf: bytes, jname: str, typ: str, flags: str,
                  occ: list[tuple[int, Any]] | None, depth: int) -> None:
    if occ:
        chunks = []
        for wt, v in occ:
            _want(wt, _LEN, typ)
            chunks.append(v)
        value = _message_from_chunks(typ, buf, chunks, depth)
    elif "p" in flags:
        if "o" not in flags:
            out[jname] = None
        return
    else:
        value = decode_message(typ, b"", 0, 0, depth + 1)  # a Go value field is never absent
    if "i" in flags:
        if isinstance(value, dict):
            out.update(value)
        return
    if typ in _table()["lists"] and not value and "o" in flags:
        return  # named slice types (metav1.Verbs) follow slice omitempty rules
    out[jname] = value


# ---------------------------------------------------------------------------------------------
# types with their own JSON form


def _special_fields(buf: bytes, start: int, end: int, types: dict[int, str]) -> dict[int, Any]:
    got: dict[int, Any] = {}
    for num, wt, v in _fields(buf, start, end):
        typ = types.get(num)
        if typ is None:
            continue
        if typ == "rawbytes":
            _want(wt, _LEN, typ)
            got[num] = buf[v[0]:v[1]]
        else:
            got[num] = _value(buf, typ, wt, v, 0)
    return got


def _int_or_string(buf: bytes, start: int, end: int) -> Any:
    f = _special_fields(buf, start, end, {1: "int64", 2: "int32", 3: "string"})
    kind = f.get(1, 0)
    if kind == 0:
        return f.get(2, 0)
    if kind == 1:
        return f.get(3, "")
    raise ProtoError("impossible IntOrString.Type")


def _quantity(buf: bytes, start: int, end: int) -> str:
    s = _special_fields(buf, start, end, {1: "string"}).get(1, "")
    return s or "0"  # the zero Quantity marshals as "0"


def _rfc3339(seconds: int, micros: int | None) -> str:
    if not _ZERO_UNIX_SECONDS <= seconds <= _MAX_UNIX_SECONDS:
        raise ProtoError(f"time out of range: {seconds}s")
    t = _dt.datetime(1970, 1, 1) + _dt.timedelta(seconds=seconds)
    if micros is None:
        return t.strftime("%Y-%m-%dT%H:%M:%SZ").rjust(20, "0")
    return t.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0") + f".{micros:06d}Z"


def _time(buf: bytes, start: int, end: int) -> str | None:
    if start == end:
        return None  # metav1.Time.Unmarshal: no bytes is the zero time, JSON null
    seconds = _special_fields(buf, start, end, {1: "int64", 2: "int32"}).get(1, 0)
    if seconds == _ZERO_UNIX_SECONDS:
        return None
    return _rfc3339(seconds, None)  # Time keeps whole seconds only (time_proto.go drops nanos)


def _micro_time(buf: bytes, start: int, end: int) -> str | None:
    if start == end:
        return None
    f = _special_fields(buf, start, end, {1: "int64", 2: "int32"})
    seconds, nanos = f.get(1, 0), f.get(2, 0)
    extra, nanos = divmod(nanos, 1_000_000_000)  # time.Unix normalizes nanos outside [0, 1e9)
    seconds += extra
    if seconds == _ZERO_UNIX_SECONDS and nanos == 0:
        return None
    return _rfc3339(seconds, nanos // 1000)


def _duration(buf: bytes, start: int, end: int) -> str:
    return go_duration(_special_fields(buf, start, end, {1: "int64"}).get(1, 0))


def _raw_json(buf: bytes, start: int, end: int) -> Any:
    """RawExtension / FieldsV1: the embedded bytes are JSON, emitted verbatim; nil is null."""
    raw = _special_fields(buf, start, end, {1: "rawbytes"}).get(1)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise ProtoError(f"embedded object is not valid JSON: {e}") from None


_SPECIAL: dict[str, Callable[[bytes, int, int], Any]] = {
    INT_OR_STRING: _int_or_string,
    QUANTITY: _quantity,
    TIME: _time,
    MICRO_TIME: _micro_time,
    DURATION: _duration,
    RAW_EXTENSION: _raw_json,
    FIELDS_V1: _raw_json,
}


# ---------------------------------------------------------------------------------------------
# the envelope


def _unknown(buf: bytes) -> tuple[str, str, tuple[int, int]]:
    api_version = kind = ""
    raw = (0, 0)
    for num, wt, v in _fields(buf, len(MAGIC), len(buf)):
        if num == 1:
            _want(wt, _LEN, "TypeMeta")
            for n2, wt2, v2 in _fields(buf, *v):
                if n2 == 1:
                    api_version = _value(buf, "string", wt2, v2, 0)
                elif n2 == 2:
                    kind = _value(buf, "string", wt2, v2, 0)
        elif num == 2:
            _want(wt, _LEN, "raw")
            raw = v
        elif num in (3, 4):
            _want(wt, _LEN, "string")  # contentEncoding, contentType: read, then ignored like upstream
    return api_version, kind, raw


def decode_object(body: bytes, default_api_version: str = "", default_kind: str = "") -> dict[str, Any]:
    """Decode a `k8s\\x00` protobuf body into the object's JSON dict (apiVersion and kind set).

    `default_*` fill an envelope that leaves them empty (the request URL's group-version-kind),
    like the protobuf serializer's copyKindDefaults. Raises a 400 StatusError on anything else.
    """
    body = bytes(body)
    if not body.startswith(MAGIC):
        raise bad_request("provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]")
    try:
        api_version, kind, raw = _unknown(body)
    except ProtoError as e:
        raise bad_request(f"the object provided is unrecognized: {e}") from None
    api_version = api_version or default_api_version
    kind = kind or default_kind
    if not kind:
        raise bad_request(f"Object 'Kind' is missing in '{_summary(body)}'")
    if not api_version:
        raise bad_request(f"Object 'apiVersion' is missing in '{_summary(body)}'")
    name = message_for(api_version, kind)
    if name is None:
        raise bad_request(f'no kind "{kind}" is registered for version "{api_version}"')
    token = _budget.set([MAX_WORK])
    try:
        obj = decode_message(name, body, raw[0], raw[1])
    except StatusError:
        raise
    except (ProtoError, ValueError, OverflowError, RecursionError, struct.error) as e:
        version = api_version.rpartition("/")[2]
        raise bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: {e}') from None
    finally:
        _budget.reset(token)
    return {"kind": kind, "apiVersion": api_version, **obj}


def _summary(body: bytes) -> str:
    head = body[:30]
    return head.decode("latin-1") + ("..." if len(body) > 30 else "")
