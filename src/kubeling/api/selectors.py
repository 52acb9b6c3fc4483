"""Label selectors, parsed once and matched with plain dict lookups (field selectors:
fieldselectors.py).

Ported from k8s.io/apimachinery pkg/labels/selector.go (lexer, parser, Requirement semantics) and
pkg/apis/meta/v1/helpers.go (LabelSelectorAsSelector, FormatLabelSelector).

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
from typing import Any, Iterable, Mapping

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
    """metav1.FormatLabelSelector: `app=nginx`, `<none>` when it selects nothing/everything,
    `<error>` when it is invalid (the Table printers' Selector columns).

    The scale subresource's `status.selector` is the raw form instead
    (`str(from_label_selector_object(sel))`, which is "" for an empty selector).
    """
    s = label_selector_string(sel)
    if s is None:
        return "<error>"
    return s or "<none>"


def label_selector_string(sel: Mapping[str, Any] | None) -> str | None:
    """LabelSelectorAsSelector(sel).String(), None when the selector is invalid. Memoised by the
    selector's content: tables print the same selectors over and over (every list and watch)."""
    try:
        key = (None if sel is None else
               (tuple((sel.get("matchLabels") or {}).items()),
                tuple((e.get("key", ""), e.get("operator", ""), tuple(e.get("values") or ()))
                      for e in sel.get("matchExpressions") or ())))
        hash(key)
    except (AttributeError, TypeError):  # not the shape of a selector: validate it as given
        return _selector_string(sel)
    return _memo_selector_string(key)


@lru_cache(maxsize=4096)
def _memo_selector_string(key: Any) -> str | None:
    if key is None:
        return _selector_string(None)
    labels, exprs = key
    return _selector_string({"matchLabels": dict(labels),
                             "matchExpressions": [{"key": k, "operator": op, "values": list(vs)} for k, op, vs in exprs]})


def _selector_string(sel: Any) -> str | None:
    try:
        return str(from_label_selector_object(sel))
    except (StatusError, AttributeError, TypeError):
        return None