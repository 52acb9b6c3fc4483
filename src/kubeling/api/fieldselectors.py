"""Field selectors: parsing (k8s.io/apimachinery pkg/fields/selector.go: term splitting, value
escaping), each kind's field label conversion (the `AddFieldLabelConversionFunc` registrations:
which labels a *version* of a kind accepts, and the error text for the others) and matching
against the values each kind's strategy record selects (`Strategy.selectable_fields`, from
selectable.py: the registries' `GetAttrs`).

Matching runs once per object per list/watch event: a selector converted for a kind holds its
compiled (getter, equal, value) terms. Parsing is cached by string; errors are 400 `StatusError`s
with upstream's messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping

from . import selectable, strategy
from .errors import bad_request
from .selectable import Getter
from .validation.field import go_quote


class _SyntaxError(Exception):
    pass


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
                raise _SyntaxError(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c in ",=":
            # upstream prints the rune with %v, i.e. its code point
            raise _SyntaxError(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if in_slash:
        raise _SyntaxError("invalid field selector: invalid escape sequence: \\")
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
                raise _SyntaxError(f"invalid selector: '{s}'; can't understand '{part}'")
            lhs, op, rhs = split
            reqs.append(FieldRequirement(lhs, op, _unescape_field_value(rhs)))
    except _SyntaxError as e:
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


def _missing(obj: Mapping[str, Any]) -> str:
    return ""


@lru_cache(maxsize=1024)
def _compile_field_terms(reqs: tuple[FieldRequirement, ...], group: str, kind: str
                         ) -> tuple[tuple[Getter, bool, str], ...]:
    specific = strategy.of(group, kind).selectable_fields
    return tuple((specific.get(r.field) or selectable.META.get(r.field) or _missing, r.operator != "!=", r.value)
                 for r in reqs)


def selectable_fields(obj: Mapping[str, Any], group: str, kind: str) -> dict[str, str]:
    """The whole fields.Set upstream computes for an object (for debugging and tests)."""
    out = {name: get(obj) for name, get in selectable.META.items()}
    out.update({name: get(obj) for name, get in strategy.of(group, kind).selectable_fields.items()})
    return out
