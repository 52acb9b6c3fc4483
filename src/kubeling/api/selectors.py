"""Label and field selectors, parsed once and matched with plain dict lookups.

Ported from k8s.io/apimachinery pkg/labels/selector.go (lexer, parser, Requirement semantics),
pkg/fields/selector.go (term splitting and value escaping), pkg/apis/meta/v1/helpers.go
(LabelSelectorAsSelector, FormatLabelSelector), and from kubernetes' per-kind field selector
support: the `AddFieldLabelConversionFunc` registrations (which labels a *version* of a kind
accepts, and the error text for the others) and the registry `GetAttrs`/`ToSelectableFields`
(what value each accepted label has on an object).

Matching runs once per object per list/watch event, so a parsed selector is a tuple of
small tuples and `matches` is a loop of `dict.get` calls. Parsing is cached by string.

Errors are `StatusError`s (400 BadRequest) carrying the exact upstream message, e.g.
`unable to parse requirement: <nil>: Invalid value: "a@": name part must consist of ...`
(kubectl then prints `Unable to find "/v1, Resource=pods" that match label selector ...: <msg>`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping

from kubeling.api.errors import StatusError, bad_request
from kubeling.api.validation.field import go_quote, is_qualified_name, is_valid_label_value


def _invalid(path: str, value: Any, detail: str) -> str:
    """field.Invalid(path, value, detail).Error(); a nil path prints as `<nil>` upstream."""
    if isinstance(value, str):
        shown = go_quote(value)
    elif isinstance(value, (list, tuple)):
        shown = "[]string{" + ", ".join(go_quote(v) for v in value) + "}"
    else:
        shown = str(value)
    return f"{path}: Invalid value: {shown}: {detail}"


def _aggregate(msgs: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message bare, several de-duplicated in [..]."""
    seen: list[str] = []
    for m in msgs:
        if m not in seen:
            seen.append(m)
    if len(seen) == 1:
        return seen[0]
    return "[" + ", ".join(seen) + "]"


# ---------------------------------------------------------------------------------------------
# Label selectors
# ---------------------------------------------------------------------------------------------

# selection.Operator values (the strings upstream prints in errors).
IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "in", "notin", "=", "==", "!="
EXISTS, DOES_NOT_EXIST, GREATER_THAN, LESS_THAN = "exists", "!", "gt", "lt"
_BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)

_INT64_RE = re.compile(r"[+-]?[0-9]+\Z")


def _parse_int64(s: str) -> int | None:
    """strconv.ParseInt(s, 10, 64), or None when Go would fail."""
    if not _INT64_RE.match(s):
        return None
    v = int(s)
    return v if -(1 << 63) <= v < (1 << 63) else None


@dataclass(frozen=True)
class Requirement:
    """One `key op values` term; values keep their given order (String() sorts them)."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in (IN, EQUALS, DOUBLE_EQUALS):
            return self.key in labels and labels[self.key] in self.values
        if op in (NOT_IN, NOT_EQUALS):
            return self.key not in labels or labels[self.key] not in self.values
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        if op in (GREATER_THAN, LESS_THAN):
            if self.key not in labels or len(self.values) != 1:
                return False
            have, want = _parse_int64(labels[self.key]), _parse_int64(self.values[0])
            if have is None or want is None:
                return False
            return have > want if op == GREATER_THAN else have < want
        return False

    def __str__(self) -> str:
        op = self.operator
        if op in (EXISTS, DOES_NOT_EXIST):
            return ("!" if op == DOES_NOT_EXIST else "") + self.key
        sym = {EQUALS: "=", DOUBLE_EQUALS: "==", NOT_EQUALS: "!=", IN: " in ", NOT_IN: " notin ",
               GREATER_THAN: ">", LESS_THAN: "<"}[op]
        vals = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if op in (IN, NOT_IN):
            vals = "(" + vals + ")"
        return self.key + sym + vals


def new_requirement(key: str, op: str, values: Iterable[str]) -> Requirement:
    """labels.NewRequirement: validates key, operator arity and values (paths rooted at nil)."""
    vals = tuple(values)
    errs: list[str] = []
    key_errs = is_qualified_name(key)
    if key_errs:
        errs.append(_invalid("key", key, "; ".join(key_errs)))
    if op in (IN, NOT_IN):
        if not vals:
            errs.append(_invalid("values", vals, "for 'in', 'notin' operators, values set can't be empty"))
    elif op in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(vals) != 1:
            errs.append(_invalid("values", vals, "exact-match compatibility requires one single value"))
    elif op in (EXISTS, DOES_NOT_EXIST):
        if vals:
            errs.append(_invalid("values", vals, "values set must be empty for exists and does not exist"))
    elif op in (GREATER_THAN, LESS_THAN):
        if len(vals) != 1:
            errs.append(_invalid("values", vals, "for 'Gt', 'Lt' operators, exactly one value is required"))
        for i, v in enumerate(vals):
            if _parse_int64(v) is None:
                errs.append(_invalid(f"values[{i}]", v, "for 'Gt', 'Lt' operators, the value must be an integer"))
    else:
        supported = ", ".join(go_quote(o) for o in _BINARY_OPERATORS + (EXISTS, DOES_NOT_EXIST))
        errs.append(f"operator: Unsupported value: {go_quote(op)}: supported values: {supported}")
    for i, v in enumerate(vals):
        v_errs = is_valid_label_value(v)
        if v_errs:
            errs.append(_invalid(f"values[{i}][{key}]", v, "; ".join(v_errs)))
    if errs:
        raise _SelectorSyntaxError(_aggregate(errs))
    return Requirement(key, op, vals)


class _SelectorSyntaxError(Exception):
    """Internal: a parse error with the upstream message, turned into a 400 at the edge."""


class LabelSelector:
    """A parsed label selector: an AND of requirements, or the `nothing` selector.

    `LabelSelector(())` matches everything (empty string, or an API selector `{}`);
    `NOTHING` matches no object (an API selector that is nil/absent).
    """

    __slots__ = ("requirements", "nothing", "_terms")

    def __init__(self, requirements: Iterable[Requirement] = (), nothing: bool = False) -> None:
        reqs = tuple(sorted(requirements, key=lambda r: r.key))  # stable, like upstream's sort by key
        self.requirements: tuple[Requirement, ...] = reqs
        self.nothing = nothing
        self._terms = tuple(_compile_requirement(r) for r in reqs)

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        if not self._terms:
            return True
        ls = labels if labels is not None else {}
        for kind, key, vals in self._terms:
            if kind == 0:  # equality, one value
                if ls.get(key) != vals:
                    return False
            elif kind == 1:  # set membership
                if ls.get(key) not in vals:
                    return False
            elif kind == 2:  # != / notin: absent or not a member
                v = ls.get(key)
                if v is not None and v in vals:
                    return False
            elif kind == 3:  # exists
                if key not in ls:
                    return False
            elif kind == 4:  # does not exist
                if key in ls:
                    return False
            elif not vals.matches(ls):  # gt / lt
                return False
        return True

    def empty(self) -> bool:
        """True when the selector does not restrict anything (matches every object)."""
        return not self.nothing and not self.requirements

    def requires_exact_match(self, label: str) -> str | None:
        """The single value `label` must have (from =, ==, or a one-value `in`), if any."""
        for r in self.requirements:
            if r.key == label:
                if r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        return "LabelSelector(<nothing>)" if self.nothing else f"LabelSelector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, LabelSelector) and self.nothing == other.nothing
                and self.requirements == other.requirements)

    def __hash__(self) -> int:
        return hash((self.nothing, self.requirements))


def _compile_requirement(r: Requirement) -> tuple[int, str, Any]:
    op = r.operator
    if op in (EQUALS, DOUBLE_EQUALS, IN):
        if len(r.values) == 1:
            return (0, r.key, r.values[0])
        return (1, r.key, frozenset(r.values))
    if op in (NOT_EQUALS, NOT_IN):
        return (2, r.key, frozenset(r.values))
    if op == EXISTS:
        return (3, r.key, None)
    if op == DOES_NOT_EXIST:
        return (4, r.key, None)
    return (5, r.key, r)


EVERYTHING = LabelSelector()
NOTHING = LabelSelector(nothing=True)


# --- lexer (labels.Lexer): byte-for-byte the same tokenisation ---------------------------------

_ERROR, _EOS, _CLOSE, _COMMA, _NOT, _DEQ, _EQ, _GT, _ID, _IN, _LT, _NEQ, _NOTIN, _OPEN = range(14)
_STRING_TO_TOKEN = {")": _CLOSE, ",": _COMMA, "!": _NOT, "==": _DEQ, "=": _EQ, ">": _GT, "in": _IN,
                    "<": _LT, "!=": _NEQ, "notin": _NOTIN, "(": _OPEN}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")


def _lex(s: str) -> list[tuple[int, str]]:
    """Scan the whole selector into (token, literal) pairs ending with end-of-string."""
    items: list[tuple[int, str]] = []
    pos, n = 0, len(s)

    def read() -> str:
        nonlocal pos
        if pos < n:
            ch = s[pos]
            pos += 1
            return ch
        return "\x00"

    while True:
        ch = read()
        while ch in _WHITESPACE:
            ch = read()
        if ch == "\x00":
            items.append((_EOS, ""))
            return items
        pos -= 1
        if ch in _SPECIAL:
            buf, last = "", None
            while True:
                c = read()
                if c == "\x00":
                    break
                if c in _SPECIAL:
                    buf += c
                    tok = _STRING_TO_TOKEN.get(buf)
                    if tok is not None:
                        last = (tok, buf)
                    elif last is not None:
                        pos -= 1
                        break
                else:
                    pos -= 1
                    break
            items.append(last if last is not None else (_ERROR, f"error expected: keyword found '{buf}'"))
        else:
            start = pos
            while True:
                c = read()
                if c == "\x00":
                    break
                if c in _SPECIAL or c in _WHITESPACE:
                    pos -= 1
                    break
            lit = s[start:pos] if "\x00" not in s[start:pos] else s[start:pos].split("\x00")[0]
            items.append((_STRING_TO_TOKEN.get(lit, _ID), lit))


class _Parser:
    """labels.Parser: recursive descent over the scanned tokens, same error messages."""

    def __init__(self, s: str) -> None:
        self.items = _lex(s)
        self.pos = 0

    def lookahead(self, values_ctx: bool = True) -> tuple[int, str]:
        tok, lit = self.items[self.pos]
        if values_ctx and tok in (_IN, _NOTIN):
            tok = _ID
        return tok, lit

    def consume(self, values_ctx: bool = True) -> tuple[int, str]:
        tok, lit = self.lookahead(values_ctx)
        self.pos += 1
        return tok, lit

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self.lookahead()
            if tok in (_ID, _NOT):
                try:
                    reqs.append(self.parse_requirement())
                except _SelectorSyntaxError as e:
                    raise _SelectorSyntaxError(f"unable to parse requirement: {e}") from None
                t, l = self.consume()
                if t == _EOS:
                    return reqs
                if t == _COMMA:
                    t2, l2 = self.lookahead()
                    if t2 not in (_ID, _NOT):
                        raise _SelectorSyntaxError(f"found '{l2}', expected: identifier after ','")
                else:
                    raise _SelectorSyntaxError(f"found '{l}', expected: ',' or 'end of string'")
            elif tok == _EOS:
                return reqs
            else:
                raise _SelectorSyntaxError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def parse_requirement(self) -> Requirement:
        key, op = self.parse_key_and_infer_operator()
        if op in (EXISTS, DOES_NOT_EXIST):
            return new_requirement(key, op, ())
        op = self.parse_operator()
        if op in (IN, NOT_IN):
            values = self.parse_values()
        else:
            values = self.parse_exact_value()
        return new_requirement(key, op, sorted(values))

    def parse_key_and_infer_operator(self) -> tuple[str, str]:
        op = ""
        tok, lit = self.consume()
        if tok == _NOT:
            op = DOES_NOT_EXIST
            tok, lit = self.consume()
        if tok != _ID:
            raise _SelectorSyntaxError(f"found '{lit}', expected: identifier")
        errs = is_qualified_name(lit)
        if errs:
            raise _SelectorSyntaxError(_invalid("<nil>", lit, "; ".join(errs)))
        t, _ = self.lookahead()
        if t in (_EOS, _COMMA) and op != DOES_NOT_EXIST:
            op = EXISTS
        return lit, op

    def parse_operator(self) -> str:
        tok, lit = self.consume(values_ctx=False)
        op = {_IN: IN, _EQ: EQUALS, _DEQ: DOUBLE_EQUALS, _GT: GREATER_THAN, _LT: LESS_THAN,
              _NOTIN: NOT_IN, _NEQ: NOT_EQUALS}.get(tok)
        if op is None:
            raise _SelectorSyntaxError(f"found '{lit}', expected: {', '.join(_BINARY_OPERATORS)}")
        return op

    def parse_values(self) -> set[str]:
        tok, lit = self.consume()
        if tok != _OPEN:
            raise _SelectorSyntaxError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead()
        if tok in (_ID, _COMMA):
            s = self.parse_identifiers_list()
            tok, _ = self.consume()
            if tok != _CLOSE:
                raise _SelectorSyntaxError(f"found '{lit}', expected: ')'")
            return s
        if tok == _CLOSE:
            self.consume()
            return {""}
        raise _SelectorSyntaxError(f"found '{lit}', expected: ',', ')' or identifier")

    def parse_identifiers_list(self) -> set[str]:
        s: set[str] = set()
        while True:
            tok, lit = self.consume()
            if tok == _ID:
                s.add(lit)
                tok2, lit2 = self.lookahead()
                if tok2 == _COMMA:
                    continue
                if tok2 == _CLOSE:
                    return s
                raise _SelectorSyntaxError(f"found '{lit2}', expected: ',' or ')'")
            if tok == _COMMA:
                if not s:
                    s.add("")  # "(,"
                tok2, _ = self.lookahead()
                if tok2 == _CLOSE:
                    s.add("")  # ",)"
                    return s
                if tok2 == _COMMA:
                    self.consume()
                    s.add("")  # ",,"
            else:
                raise _SelectorSyntaxError(f"found '{lit}', expected: ',', or identifier")

    def parse_exact_value(self) -> set[str]:
        tok, _ = self.lookahead()
        if tok in (_EOS, _COMMA):
            return {""}
        tok, lit = self.consume()
        if tok == _ID:
            return {lit}
        raise _SelectorSyntaxError(f"found '{lit}', expected: identifier")


@lru_cache(maxsize=1024)
def parse_label_selector(s: str) -> LabelSelector:
    """labels.Parse: the `labelSelector` query parameter. Raises a 400 StatusError."""
    if not s:
        return EVERYTHING
    try:
        return LabelSelector(_Parser(s).parse())
    except _SelectorSyntaxError as e:
        raise bad_request(str(e)) from None


_API_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def from_label_selector_object(sel: Mapping[str, Any] | None) -> LabelSelector:
    """metav1.LabelSelectorAsSelector for `{matchLabels, matchExpressions}`.

    None (a nil selector) matches nothing; `{}` or empty lists/maps match everything.
    Invalid content raises a 400 StatusError with the upstream message.
    """
    if sel is None:
        return NOTHING
    match_labels = sel.get("matchLabels") or {}
    exprs = sel.get("matchExpressions") or []
    if not match_labels and not exprs:
        return EVERYTHING
    reqs: list[Requirement] = []
    try:
        for k, v in match_labels.items():
            reqs.append(new_requirement(k, EQUALS, (v,)))
        for expr in exprs:
            op = _API_OPERATORS.get(expr.get("operator", ""))
            if op is None:
                raise _SelectorSyntaxError(f"{go_quote(expr.get('operator', ''))} is not a valid pod selector operator")
            reqs.append(new_requirement(expr.get("key", ""), op, expr.get("values") or ()))
    except _SelectorSyntaxError as e:
        raise bad_request(str(e)) from None
    return LabelSelector(reqs)


def selector_from_set(labels: Mapping[str, str] | None) -> LabelSelector:
    """labels.SelectorFromSet (e.g. a Service's `spec.selector`): nil or empty matches everything."""
    if not labels:
        return EVERYTHING
    return LabelSelector(Requirement(k, EQUALS, (v,)) for k, v in labels.items())


def selector_to_string(sel: Mapping[str, Any] | None) -> str:
    """metav1.FormatLabelSelector: `app=nginx`, `<none>` when it selects nothing/everything.

    The scale subresource's `status.selector` is the raw form instead
    (`str(from_label_selector_object(sel))`, which is "" for an empty selector).
    """
    try:
        s = str(from_label_selector_object(sel))
    except StatusError:
        return "<error>"
    return s or "<none>"


# ---------------------------------------------------------------------------------------------
# Field selectors
# ---------------------------------------------------------------------------------------------


def escape_field_value(s: str) -> str:
    """fields.EscapeValue: backslash-escape \\ , and = in a field selector value."""
    return s.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape_field_value(s: str) -> str:
    if "\\" not in s and "," not in s and "=" not in s:
        return s
    out: list[str] = []
    in_slash = False
    for c in s:
        if in_slash:
            if c not in "\\,=":
                raise _SelectorSyntaxError(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c in ",=":
            # upstream prints the rune with %v, i.e. its code point
            raise _SelectorSyntaxError(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if in_slash:
        raise _SelectorSyntaxError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(s: str) -> list[str]:
    terms: list[str] = []
    start, in_slash = 0, False
    for i, c in enumerate(s):
        if in_slash:
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c == ",":
            terms.append(s[start:i])
            start = i + 1
    terms.append(s[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    operator: str  # "=", "==" or "!="
    value: str

    def __str__(self) -> str:
        op = "!=" if self.operator == "!=" else "="
        return f"{self.field}{op}{escape_field_value(self.value)}"


Getter = Callable[[Mapping[str, Any]], str]


class FieldSelector:
    """A parsed field selector: an AND of `field=value` / `field!=value` terms.

    A missing field reads as "" (upstream `fields.Set.Get`), so `status.podIPs=` matches every pod.
    `for_kind` validates and renames labels for one API version of a kind; `matches` then needs
    no group/kind.
    """

    __slots__ = ("requirements", "_terms", "_kind")

    def __init__(self, requirements: Iterable[FieldRequirement] = (),
                 kind: tuple[str, str] | None = None) -> None:
        self.requirements: tuple[FieldRequirement, ...] = tuple(requirements)
        self._kind = kind
        self._terms: tuple[tuple[Getter, bool, str], ...] | None = (
            _compile_field_terms(self.requirements, *kind) if kind is not None else None)

    def empty(self) -> bool:
        return not self.requirements

    def for_kind(self, group: str, version: str, kind: str) -> "FieldSelector":
        """Apply the kind's field label conversion (400 on an unsupported label)."""
        return _convert_field_selector(self, group, version, kind)

    def matches(self, obj: Mapping[str, Any], group: str | None = None, kind: str | None = None) -> bool:
        if not self.requirements:
            return True
        terms = self._terms
        if group is not None and kind is not None and (group, kind) != self._kind:
            terms = _compile_field_terms(self.requirements, group, kind)
        elif terms is None:
            terms = _compile_field_terms(self.requirements, "", "")
        for get, equal, value in terms:
            if (get(obj) == value) != equal:
                return False
        return True

    def matches_set(self, fields: Mapping[str, str]) -> bool:
        """Match against a precomputed fields.Set (missing fields read as "")."""
        for r in self.requirements:
            if (fields.get(r.field, "") == r.value) != (r.operator != "!="):
                return False
        return True

    def requires_exact_match(self, field: str) -> str | None:
        """The value `field` must equal (an = or == term), e.g. metadata.name for a single-object watch."""
        for r in self.requirements:
            if r.field == field and r.operator != "!=":
                return r.value
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        return f"FieldSelector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldSelector) and self.requirements == other.requirements

    def __hash__(self) -> int:
        return hash(self.requirements)


EVERYTHING_FIELDS = FieldSelector()


@lru_cache(maxsize=1024)
def parse_field_selector(s: str) -> FieldSelector:
    """fields.ParseSelector: the `fieldSelector` query parameter (syntax only). Raises 400."""
    if not s:
        return EVERYTHING_FIELDS
    parts = sorted(_split_terms(s))
    reqs: list[FieldRequirement] = []
    try:
        for part in parts:
            if part == "":
                continue
            split = _split_term(part)
            if split is None:
                raise _SelectorSyntaxError(f"invalid selector: '{s}'; can't understand '{part}'")
            lhs, op, rhs = split
            reqs.append(FieldRequirement(lhs, op, _unescape_field_value(rhs)))
    except _SelectorSyntaxError as e:
        raise bad_request(str(e)) from None
    return FieldSelector(reqs)


@lru_cache(maxsize=1024)
def field_selector_for(s: str, group: str, version: str, kind: str) -> FieldSelector:
    """Parse and convert in one step, the way the list/watch handler does it. Raises 400."""
    return parse_field_selector(s).for_kind(group, version, kind)


# --- per-kind field label conversion (which labels each API version accepts) -------------------

_META = ("metadata.name", "metadata.namespace")


def _default_reject(label: str) -> str:
    return f'{go_quote(label)} is not a known field selector: only "metadata.name", "metadata.namespace"'


def _not_supported(label: str) -> str:
    return f"field label not supported: {label}"


def _identity(*labels: str) -> dict[str, str]:
    return {label: label for label in labels}


# (group, version, kind) -> (accepted label -> internal label, rejection message)
_FIELD_LABEL_CONVERSIONS: dict[tuple[str, str, str], tuple[dict[str, str], Callable[[str], str]]] = {
    ("", "v1", "Pod"): ({**_identity(
        *_META, "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
        "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName"),
        "spec.host": "spec.nodeName"}, _not_supported),
    ("", "v1", "Node"): (_identity("metadata.name", "spec.unschedulable"), _not_supported),
    ("", "v1", "ReplicationController"): (_identity(*_META, "status.replicas"), _not_supported),
    ("", "v1", "Event"): (_identity(
        "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
        "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
        "reason", "reportingComponent", "source", "type", *_META), _not_supported),
    ("", "v1", "Namespace"): (_identity("status.phase", "metadata.name"), _not_supported),
    ("", "v1", "Secret"): (_identity("type", *_META), _not_supported),
    ("", "v1", "Service"): (_identity(*_META, "spec.clusterIP", "spec.type"), _not_supported),
    ("events.k8s.io", "v1", "Event"): ({
        "reason": "reason",
        "regarding.kind": "involvedObject.kind",
        "regarding.namespace": "involvedObject.namespace",
        "regarding.name": "involvedObject.name",
        "regarding.uid": "involvedObject.uid",
        "regarding.apiVersion": "involvedObject.apiVersion",
        "regarding.resourceVersion": "involvedObject.resourceVersion",
        "regarding.fieldPath": "involvedObject.fieldPath",
        "reportingController": "reportingComponent",
        "source": "source",
        "type": "type",
        **_identity(*_META)}, _not_supported),
    ("batch", "v1", "Job"): (_identity(*_META, "status.successful"),
                             lambda label: f"field label {go_quote(label)} not supported for batchv1.Job"),
    ("certificates.k8s.io", "v1", "CertificateSigningRequest"): (
        _identity("metadata.name", "spec.signerName"), _not_supported),
}
_DEFAULT_CONVERSION = (_identity(*_META), _default_reject)


def supported_field_labels(group: str, version: str, kind: str) -> tuple[str, ...]:
    """The labels a field selector may use for this API version of the kind."""
    return tuple(_FIELD_LABEL_CONVERSIONS.get((group, version, kind), _DEFAULT_CONVERSION)[0])


def _convert_field_selector(sel: FieldSelector, group: str, version: str, kind: str) -> FieldSelector:
    accepted, reject = _FIELD_LABEL_CONVERSIONS.get((group, version, kind), _DEFAULT_CONVERSION)
    out = []
    for r in sel.requirements:
        internal = accepted.get(r.field)
        if internal is None:
            raise bad_request(reject(r.field))
        out.append(r if internal == r.field else FieldRequirement(internal, r.operator, r.value))
    return FieldSelector(out, kind=(group, kind))


# --- per-kind selectable fields (registry GetAttrs), read straight from the JSON object --------


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _path(*keys: str) -> Getter:
    """A getter for a nested field; absent reads as "" (like a missing fields.Set entry)."""
    if len(keys) == 1:
        (k,) = keys

        def get1(obj: Mapping[str, Any]) -> str:
            v = obj.get(k)
            return v if type(v) is str else _fmt(v)
        return get1
    if len(keys) == 2:
        k1, k2 = keys

        def get2(obj: Mapping[str, Any]) -> str:
            sub = obj.get(k1)
            if type(sub) is not dict:
                return ""
            v = sub.get(k2)
            return v if type(v) is str else _fmt(v)
        return get2

    def get(obj: Mapping[str, Any]) -> str:
        cur: Any = obj
        for k in keys:
            if not isinstance(cur, dict):
                return ""
            cur = cur.get(k)
        return _fmt(cur)
    return get


def _ref(field: str) -> Getter:
    """involvedObject.<field> of a stored (core/v1) Event."""
    def get(obj: Mapping[str, Any]) -> str:
        ref = obj.get("involvedObject")
        if type(ref) is not dict:
            return ""
        v = ref.get(field)
        return v if type(v) is str else _fmt(v)
    return get


def _go_bool(*keys: str) -> Getter:
    inner = _path(*keys)
    return lambda obj: "true" if inner(obj) == "true" else "false"


def _go_int(*keys: str) -> Getter:
    inner = _path(*keys)
    return lambda obj: inner(obj) or "0"


def _pod_ip(obj: Mapping[str, Any]) -> str:
    status = obj.get("status") or {}
    ips = status.get("podIPs") or []
    if ips:
        return (ips[0] or {}).get("ip") or ""
    return status.get("podIP") or ""


def _first(*getters: Getter) -> Getter:
    def get(obj: Mapping[str, Any]) -> str:
        for g in getters:
            v = g(obj)
            if v:
                return v
        return ""
    return get


def _event_fields() -> dict[str, Getter]:
    """EventToSelectableFields on the stored shape: every Event is stored as a core/v1 Event
    (its storage version), and events.k8s.io field labels convert to these names."""
    fields = {f"involvedObject.{k}": _ref(k)
              for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
    reporting = _path("reportingComponent")
    fields.update({
        "reason": _path("reason"),
        "reportingComponent": reporting,
        "source": _first(_path("source", "component"), reporting),
        "type": _path("type"),
    })
    return fields


_SELECTABLE_FIELDS: dict[tuple[str, str], dict[str, Getter]] = {
    ("", "Pod"): {
        "spec.nodeName": _path("spec", "nodeName"),
        "spec.host": _path("spec", "nodeName"),  # legacy alias, for a selector matched without for_kind()
        "spec.restartPolicy": _path("spec", "restartPolicy"),
        "spec.schedulerName": _path("spec", "schedulerName"),
        "spec.serviceAccountName": _path("spec", "serviceAccountName"),
        "spec.hostNetwork": _go_bool("spec", "hostNetwork"),
        "status.phase": _path("status", "phase"),
        "status.podIP": _pod_ip,
        "status.nominatedNodeName": _path("status", "nominatedNodeName"),
    },
    ("", "Node"): {"spec.unschedulable": _go_bool("spec", "unschedulable")},
    ("", "ReplicationController"): {"status.replicas": _go_int("status", "replicas")},
    ("", "Event"): _event_fields(),
    ("events.k8s.io", "Event"): _event_fields(),
    ("", "Namespace"): {"status.phase": _path("status", "phase"), "name": _path("metadata", "name")},
    ("", "Secret"): {"type": _path("type")},
    ("", "Service"): {"spec.clusterIP": _path("spec", "clusterIP"), "spec.type": _path("spec", "type")},
    ("apps", "ReplicaSet"): {"status.replicas": _go_int("status", "replicas")},
    ("batch", "Job"): {"status.successful": _go_int("status", "succeeded")},
    ("certificates.k8s.io", "CertificateSigningRequest"): {"spec.signerName": _path("spec", "signerName")},
}
_META_GETTERS: dict[str, Getter] = {"metadata.name": _path("metadata", "name"),
                                    "metadata.namespace": _path("metadata", "namespace")}


def _missing(obj: Mapping[str, Any]) -> str:
    return ""


@lru_cache(maxsize=1024)
def _compile_field_terms(reqs: tuple[FieldRequirement, ...], group: str, kind: str
                         ) -> tuple[tuple[Getter, bool, str], ...]:
    specific = _SELECTABLE_FIELDS.get((group, kind), {})
    return tuple((specific.get(r.field) or _META_GETTERS.get(r.field) or _missing, r.operator != "!=", r.value)
                 for r in reqs)


def selectable_fields(obj: Mapping[str, Any], group: str, kind: str) -> dict[str, str]:
    """The whole fields.Set upstream computes for an object (for debugging and tests)."""
    out = {name: get(obj) for name, get in _META_GETTERS.items()}
    out.update({name: get(obj) for name, get in _SELECTABLE_FIELDS.get((group, kind), {}).items()})
    return out
