"""PolicyRule matching and coverage: upstream's rbac/rule.go (RuleAllows) and
registry/rbac/validation (Covers, BreakdownRule, CompactRules, CompactString)."""

from __future__ import annotations

from typing import Any, Iterable

from .attributes import Attributes

Rule = dict[str, Any]  # a PolicyRule as stored: verbs, apiGroups, resources, resourceNames, nonResourceURLs


def _url_matches(rule_url: str, path: str) -> bool:
    return rule_url == "*" or rule_url == path or (rule_url.endswith("*") and path.startswith(rule_url.rstrip("*")))


def _resource_matches(rule: Rule, combined: str, sub: str) -> bool:
    for r in rule.get("resources") or ():
        if r == "*" or r == combined:
            return True
        if sub and len(r) == len(sub) + 2 and r.startswith("*/") and r.endswith(sub):
            return True
    return False


def allows(a: Attributes, rule: Rule) -> bool:
    verbs = rule.get("verbs") or ()
    if "*" not in verbs and a.verb not in verbs:
        return False
    if not a.resource_request:
        return any(_url_matches(u, a.path) for u in rule.get("nonResourceURLs") or ())
    groups = rule.get("apiGroups") or ()
    if "*" not in groups and a.api_group not in groups:
        return False
    combined = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    if not _resource_matches(rule, combined, a.subresource):
        return False
    names = rule.get("resourceNames")
    return not names or a.name in names


# ---- coverage (escalation checks) -------------------------------------------------------------

def breakdown(rule: Rule) -> list[Rule]:
    """One rule per (group, resource, verb[, name]) and per (url, verb)."""
    out: list[Rule] = []
    verbs = rule.get("verbs") or []
    for g in rule.get("apiGroups") or []:
        for r in rule.get("resources") or []:
            for v in verbs:
                names = rule.get("resourceNames") or []
                if names:
                    out += [{"verbs": [v], "apiGroups": [g], "resources": [r], "resourceNames": [n]} for n in names]
                else:
                    out.append({"verbs": [v], "apiGroups": [g], "resources": [r]})
    for u in rule.get("nonResourceURLs") or []:
        out += [{"verbs": [v], "nonResourceURLs": [u]} for v in verbs]
    return out


def _has_all(have: Iterable[str], want: Iterable[str]) -> bool:
    s = set(have)
    return all(w in s for w in want)


def _resources_cover(owner: list[str], wanted: list[str]) -> bool:
    if "*" in owner or _has_all(owner, wanted):
        return True
    for path in wanted:
        if path in owner:
            continue
        if "/" not in path or "*/" + path.split("/", 1)[1] not in owner:
            return False
    return True


def _urls_cover(owner: list[str], wanted: list[str]) -> bool:
    return all(any(o == w or (o.endswith("*") and w.startswith(o.rstrip("*"))) for o in owner) for w in wanted)


def rule_covers(owner: Rule, sub: Rule) -> bool:
    ov, og = owner.get("verbs") or [], owner.get("apiGroups") or []
    onames, snames = owner.get("resourceNames") or [], sub.get("resourceNames") or []
    names_ok = (not onames) if not snames else (not onames or _has_all(onames, snames))
    return (("*" in ov or _has_all(ov, sub.get("verbs") or []))
            and ("*" in og or _has_all(og, sub.get("apiGroups") or []))
            and _resources_cover(owner.get("resources") or [], sub.get("resources") or [])
            and names_ok
            and _urls_cover(owner.get("nonResourceURLs") or [], sub.get("nonResourceURLs") or []))


def uncovered(owner_rules: list[Rule], rules: list[Rule]) -> list[Rule]:
    """The broken-down parts of `rules` that no owner rule covers (validation.Covers)."""
    return [part for r in rules for part in breakdown(r) if not any(rule_covers(o, part) for o in owner_rules)]


def compact(rules: list[Rule]) -> list[Rule]:
    """CompactRules: simple rules differing only in verbs become one rule."""
    merged: dict[tuple, Rule] = {}
    out: list[Rule] = []
    for r in rules:
        if r.get("nonResourceURLs") or len(r.get("apiGroups") or []) != 1 or len(r.get("resources") or []) != 1 \
                or len(r.get("resourceNames") or []) > 1:
            out.append(r)
            continue
        key = (r["apiGroups"][0], r["resources"][0], tuple(r.get("resourceNames") or ()))
        if key in merged:
            merged[key]["verbs"] = merged[key]["verbs"] + [v for v in r["verbs"] if v not in merged[key]["verbs"]]
        else:
            merged[key] = {**r, "verbs": list(r["verbs"])}
            out.append(merged[key])
    return out


def go_quote_list(xs: Any) -> str:
    """fmt %q of a []string: ["a" "b"]."""
    import json

    return "[" + " ".join(json.dumps(x) for x in xs) + "]"


def compact_string(r: Rule) -> str:
    parts = []
    for key, label in (("apiGroups", "APIGroups"), ("resources", "Resources"), ("nonResourceURLs", "NonResourceURLs"),
                       ("resourceNames", "ResourceNames"), ("verbs", "Verbs")):
        if r.get(key):
            parts.append(f"{label}:{go_quote_list(r[key])}")
    return "{" + ", ".join(parts) + "}"
