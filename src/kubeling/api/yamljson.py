"""YAML request bodies → JSON values, as the apiserver's `sigs.k8s.io/yaml` (go-yaml v2) does, bounded.

Why not `yaml.safe_load`: it expands nothing but shares one Python object per anchor, so a
400-byte "billion laughs" body became a 17 MB object once encoded; its recursive composer
overflows on deep nesting; and it builds values JSON has no place for (sets, datetimes, bytes,
non-string keys, integers past 64 bits). Here libyaml only produces events; this module builds
the value with an explicit stack and applies upstream's rules:

- go-yaml v2's CVE-2019-11253 fix: count decode operations and those that come from alias
  expansion; a document past `allowedAliasRatio` fails with "document contains excessive
  aliasing". An alias costs what its anchor cost to decode (memoized), not its expansion.
- nesting beyond `bounds.MAX_DEPTH` fails ("exceeded max depth", go-yaml stops at 10,000);
- the JSON the value stands for may not pass `max_size` bytes (the request body limit);
- go-yaml v2 scalar resolution (YAML 1.1: `y`, `on`, `0755` octal, `1_000`), only the first
  document, `<<` merge keys; timestamps stay strings; `!!binary` is decoded; unknown tags
  (`!!set`, `!!python/...`, `!foo`) change nothing; then sigs.k8s.io/yaml's JSON conversion:
  map keys become strings, NaN/Inf are refused, and an integral float is the integer Go's
  encoder would write (`replicas: 3.0` is `3`).

Failures raise `YAMLToJSONError` carrying go-yaml's message (`yaml: ...`).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from typing import Any

import yaml

from .bounds import MAX_DEPTH

try:
    _Loader: Any = yaml.CSafeLoader  # libyaml: the events come from C
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


class YAMLToJSONError(ValueError):
    """A YAML body that has no JSON value; the message is go-yaml's or sigs.k8s.io/yaml's."""


# go-yaml v2 decode.go: allowedAliasRatio
_ALIAS_LOW, _ALIAS_HIGH = 400_000, 4_000_000


def _allowed_alias_ratio(decodes: int) -> float:
    if decodes <= _ALIAS_LOW:
        return 0.99  # small-to-medium documents may come mostly from aliases
    if decodes >= _ALIAS_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decodes - _ALIAS_LOW) / (_ALIAS_HIGH - _ALIAS_LOW)


# go-yaml v2 resolve.go
_TAG = "tag:yaml.org,2002:"
_STR, _BOOL, _INT, _FLOAT, _NULL = _TAG + "str", _TAG + "bool", _TAG + "int", _TAG + "float", _TAG + "null"
_TIMESTAMP, _BINARY, _MERGE = _TAG + "timestamp", _TAG + "binary", _TAG + "merge"
_RESOLVABLE = frozenset({"", _STR, _BOOL, _INT, _FLOAT, _NULL, _TIMESTAMP})
_SHORT = {_STR: "!!str", _BOOL: "!!bool", _INT: "!!int", _FLOAT: "!!float", _NULL: "!!null",
          _TIMESTAMP: "!!timestamp", _BINARY: "!!binary", _MERGE: "!!merge"}
_MAP: dict[str, tuple[str, Any]] = {}
for _vals, _tag, _v in ((("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), _BOOL, True),
                        (("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), _BOOL, False),
                        (("", "~", "null", "Null", "NULL"), _NULL, None),
                        ((".nan", ".NaN", ".NAN"), _FLOAT, math.nan),
                        ((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), _FLOAT, math.inf),
                        (("-.inf", "-.Inf", "-.INF"), _FLOAT, -math.inf)):
    for _s in _vals:
        _MAP[_s] = (_tag, _v)
_HINTED = frozenset("+-0123456789yYnNtTfFoO~.")
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?\Z")
_TIMESTAMP_RE = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
                           r"([Tt ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]*)?(Z|[-+][0-9]{1,2}(:[0-9]{2})?)?)?\Z")
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)\Z")  # the common case of ParseInt(s, 0, 64)
_DIGITS = {16: "0123456789abcdefABCDEF", 8: "01234567", 2: "01", 10: "0123456789"}
_I64_MIN, _U64_MAX = -(1 << 63), (1 << 64) - 1


def _go_parse_int(s: str) -> int | None:
    """strconv.ParseInt(s, 0, 64), falling back to ParseUint: sign, 0x/0o/0b/0 prefixes (the
    0b forms go-yaml also tries by hand)."""
    neg = s[:1] == "-"
    body = s[1:] if s[:1] in "+-" else s
    base = 10
    if body[:2] in ("0x", "0X"):
        base, body = 16, body[2:]
    elif body[:2] in ("0o", "0O"):
        base, body = 8, body[2:]
    elif body[:2] in ("0b", "0B"):
        base, body = 2, body[2:]
    elif len(body) > 1 and body[0] == "0":
        base, body = 8, body[1:]
    if not body or any(c not in _DIGITS[base] for c in body):
        return None
    v = -int(body, base) if neg else int(body, base)
    if _I64_MIN <= v <= _U64_MAX and not (s[:1] == "+" and v > (1 << 63) - 1):
        return v
    return None


def _resolve_plain(tag: str, value: str) -> tuple[str, Any]:
    """go-yaml v2 `resolve(tag, in)` for a resolvable tag: the resolved tag and value."""
    if value[:1] in _HINTED or not value:
        if value in _MAP:
            return _MAP[value]
        c = value[0]
        if c == ".":
            if _DOT_FLOAT.match(value):
                return _FLOAT, float(value)
        elif c in "+-0123456789":
            if tag in ("", _TIMESTAMP) and _TIMESTAMP_RE.match(value):
                return _TIMESTAMP, value  # into interface{}, v2 keeps a timestamp's text
            if _DECIMAL.match(value):
                iv = int(value)
                if _I64_MIN <= iv <= _U64_MAX:
                    return _INT, iv
            plain = value.replace("_", "")
            iv = _go_parse_int(plain)
            if iv is not None:
                return _INT, iv
            if _YAML_FLOAT.match(plain):
                fv = float(plain)
                if not math.isinf(fv):  # ParseFloat's ErrRange: not a float, a string
                    return _FLOAT, fv
    return _STR, value


def _scalar(tag: str | None, plain: bool, value: str) -> Any:
    """A scalar's value as go-yaml v2 decodes it into interface{}."""
    if tag is None or tag == "!":
        if not plain:
            return value
        tag = ""
    if tag == _BINARY:
        try:
            data = base64.b64decode(value.replace("\n", "").replace(" ", ""), validate=True)
        except (binascii.Error, ValueError):
            raise YAMLToJSONError("yaml: !!binary value contains invalid base64 data") from None
        return data.decode("utf-8", errors="replace")  # Go's string(data), as JSON writes it
    if tag not in _RESOLVABLE:
        return value  # an unknown tag: the text as it is
    if tag == _STR:
        return value
    rtag, out = _resolve_plain(tag, value)
    if tag not in ("", rtag):
        if tag == _FLOAT and rtag == _INT:
            return float(out)
        raise YAMLToJSONError(f"yaml: cannot decode {_SHORT.get(rtag, rtag)} `{value}` as a {_SHORT.get(tag, tag)}")
    return out


def _go_float32_key(f: float) -> str:
    """strconv.FormatFloat(f, 'g', -1, 32), what sigs.k8s.io/yaml makes of a float map key."""
    if math.isnan(f):
        return ".nan"
    if math.isinf(f):
        return ".inf" if f > 0 else "-.inf"
    f32 = struct.unpack("f", struct.pack("f", f))[0]
    for prec in range(1, 10):
        text = f"{f32:.{prec - 1}e}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == f32:
            break
    mant, _, exp_s = text.partition("e")
    exp = int(exp_s)
    digits = mant.replace(".", "").lstrip("-").rstrip("0") or "0"
    sign = "-" if mant.startswith("-") else ""
    if exp < -4 or exp >= 6:  # 'g' with the shortest precision decides with precision 6
        frac = digits[1:]
        return f"{sign}{digits[0]}{'.' + frac if frac else ''}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp >= 0:
        whole = digits[:exp + 1].ljust(exp + 1, "0")
        frac = digits[exp + 1:]
        return f"{sign}{whole}{'.' + frac if frac else ''}"
    return f"{sign}0.{'0' * (-exp - 1)}{digits}"


def _go_repr(v: Any) -> str:
    """%#v of a decoded value, for go-yaml's and sigs.k8s.io/yaml's error texts (approximate)."""
    if isinstance(v, list):
        return "[]interface {}{" + ", ".join(_go_repr(x) for x in v) + "}"
    if isinstance(v, dict):
        return "map[interface {}]interface {}{" + ", ".join(f"{_go_repr(k)}:{_go_repr(x)}" for k, x in v.items()) + "}"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _key(k: Any, v: Any) -> str:
    """sigs.k8s.io/yaml convertToJSONableObject: a map key as a JSON object key."""
    if isinstance(k, str):
        return k
    if isinstance(k, bool):
        return "true" if k else "false"
    if isinstance(k, int):
        return str(k)
    if isinstance(k, float):
        return _go_float32_key(k)
    if isinstance(k, (list, dict)):
        raise YAMLToJSONError(f"yaml: invalid map key: {_go_repr(k)}")
    raise YAMLToJSONError(f"unsupported map key of type: %!s(<nil>), key: <nil>, value: {_go_repr(v)}")


def _json_number(f: float) -> Any:
    """The value json.Marshal(float64) then a JSON decode give back: integral → int."""
    if math.isnan(f) or math.isinf(f):
        raise YAMLToJSONError("json: unsupported value: " + ("NaN" if math.isnan(f) else "+Inf" if f > 0 else "-Inf"))
    if f.is_integer() and abs(f) < 1e21:
        i = int(f)
        if _I64_MIN <= i <= _U64_MAX:
            return i
    return f


def _size(v: Any) -> int:
    """Bytes of a scalar in JSON (approximately: escapes are not counted)."""
    if isinstance(v, str):
        return len(v) + 2
    if v is None or v is True:
        return 4
    if v is False:
        return 5
    return len(repr(v))


class _Frame:
    """A mapping or sequence being built: its value, cost so far, and the pending key."""

    __slots__ = ("value", "anchor", "start_decodes", "size", "depth", "max_child_depth", "key", "has_key",
                 "merge", "merges")

    def __init__(self, value: Any, anchor: str | None, start_decodes: int, depth: int) -> None:
        self.value = value
        self.anchor = anchor
        self.start_decodes = start_decodes
        self.size = 2
        self.depth = depth
        self.max_child_depth = 0  # levels below this one
        self.key: Any = None
        self.has_key = False
        self.merge = False  # the pending key is `<<`
        self.merges: list[dict[str, Any]] = []  # merged mappings, earliest first


class _Builder:
    def __init__(self, max_depth: int, max_size: int) -> None:
        self.max_depth = max_depth
        self.max_size = max_size
        self.decodes = 0
        self.aliases = 0
        self.used_alias = False
        # anchor -> (value, decodes it cost, JSON size, levels) once complete; None while open
        self.anchors: dict[str, tuple[Any, int, int, int] | None] = {}
        self.stack: list[_Frame] = []
        self.root: Any = None

    def _count(self, decodes: int, aliased: int) -> None:
        self.decodes += decodes
        self.aliases += aliased
        if (self.aliases > 100 and self.decodes > 1000
                and self.aliases / self.decodes > _allowed_alias_ratio(self.decodes)):
            raise YAMLToJSONError("yaml: document contains excessive aliasing")

    def open(self, value: Any, anchor: str | None) -> None:
        self._count(1, 0)
        depth = len(self.stack) + 1
        if depth > self.max_depth:
            raise YAMLToJSONError(f"yaml: exceeded max depth of {self.max_depth}")
        if anchor is not None:
            self.anchors[anchor] = None
        self.stack.append(_Frame(value, anchor, self.decodes - 1, depth))

    def scalar(self, value: Any, anchor: str | None, merge_key: bool) -> None:
        self._count(1, 0)
        if anchor is not None:
            self.anchors[anchor] = (value, 1, _size(value), 0)
        self.add(value, _size(value), 0, merge_key)

    def alias(self, name: str) -> None:
        if name not in self.anchors:
            raise YAMLToJSONError(f"yaml: unknown anchor '{name}' referenced")
        entry = self.anchors[name]
        if entry is None:
            raise YAMLToJSONError(f"yaml: anchor '{name}' value contains itself")
        value, cost, size, levels = entry
        self._count(1 + cost, cost)
        self.used_alias = True
        if len(self.stack) + levels > self.max_depth:
            raise YAMLToJSONError(f"yaml: exceeded max depth of {self.max_depth}")
        self.add(value, size, levels, False)

    def close(self) -> None:
        frame = self.stack.pop()
        value = frame.value
        if isinstance(value, dict) and frame.merges:
            merged: dict[str, Any] = {}
            for m in frame.merges:
                for k, v in m.items():
                    merged.setdefault(k, v)  # earlier merge sources take precedence
            merged.update(value)  # and keys of the mapping itself over all of them
            value = frame.value = merged
        levels = frame.max_child_depth + 1
        if frame.anchor is not None:
            self.anchors[frame.anchor] = (value, self.decodes - frame.start_decodes, frame.size, levels)
        self.add(value, frame.size, levels, False)

    def add(self, value: Any, size: int, levels: int, merge_key: bool) -> None:
        """Put a finished value into the enclosing mapping or sequence."""
        if not self.stack:
            self.root = _json_number(value) if isinstance(value, float) else value
            return
        top = self.stack[-1]
        if levels > top.max_child_depth:
            top.max_child_depth = levels
        is_list = type(top.value) is list
        if type(value) is float and (top.has_key or is_list):
            value = _json_number(value)  # a value; a float key is formatted by _key
        if is_list:
            top.value.append(value)
            top.size += size + 1
        elif not top.has_key:
            top.key, top.has_key, top.merge = value, True, merge_key
            top.size += size + 2
        else:
            top.has_key = False
            top.size += size
            if top.merge:
                self._merge(top, value)
            else:
                top.value[_key(top.key, value)] = value
        if top.size > self.max_size:
            raise _TooLarge()

    def _merge(self, frame: _Frame, value: Any) -> None:
        """`<<: *base` or `<<: [*a, *b]`: mappings whose keys this one gets (go-yaml v2 d.merge)."""
        sources = value if isinstance(value, list) else [value]
        if not all(isinstance(s, dict) for s in sources):
            raise YAMLToJSONError("yaml: map merge requires map or sequence of maps as the value")
        frame.merges.extend(sources)


_SCALAR, _ALIAS = yaml.ScalarEvent, yaml.AliasEvent
_MAPPING_START, _MAPPING_END = yaml.MappingStartEvent, yaml.MappingEndEvent
_SEQUENCE_START, _SEQUENCE_END = yaml.SequenceStartEvent, yaml.SequenceEndEvent
_DOCUMENT_END, _STREAM_END = yaml.DocumentEndEvent, yaml.StreamEndEvent


class _TooLarge(Exception):
    """The JSON the document stands for is larger than the limit."""


def loads(data: bytes | str, max_depth: int = MAX_DEPTH, max_size: int = 3 * 1024 * 1024) -> Any:
    """The first YAML document of `data` as a JSON value (None when there is none).

    Raises YAMLToJSONError (a 400) or OverflowError when the JSON it stands for would pass
    `max_size` bytes (a 413).
    """
    loader = _Loader(data)
    b = _Builder(max_depth, max_size)
    try:
        while True:
            ev = loader.get_event()
            t = type(ev)
            if t is _SCALAR:
                value, tag = ev.value, ev.tag
                plain = ev.implicit[0]
                merge_key = value == "<<" and ((plain and tag is None) or tag == _MERGE)
                if not merge_key and (tag is not None or (plain and (not value or value[0] in _HINTED))):
                    value = _scalar(tag, plain, value)  # else: a string as it is (most keys and values)
                b.scalar(value, ev.anchor, merge_key)
            elif t is _MAPPING_START:
                b.open({}, ev.anchor)
            elif t is _SEQUENCE_START:
                b.open([], ev.anchor)
            elif t is _MAPPING_END or t is _SEQUENCE_END:
                b.close()
            elif t is _ALIAS:
                b.alias(ev.anchor)
            elif t is _DOCUMENT_END or t is _STREAM_END:
                break  # go-yaml's Unmarshal reads the first document only
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise YAMLToJSONError(f"yaml: {where}{e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise YAMLToJSONError(f"yaml: {e}") from None
    except _TooLarge:
        raise OverflowError(max_size) from None
    finally:
        loader.dispose()
    root = b.root
    if b.used_alias and isinstance(root, (dict, list)):
        import orjson

        root = orjson.loads(orjson.dumps(root))  # a tree: one anchor's value is not shared by its aliases
    return root
