"""RBAC PolicyRule literals, written the short way: `r(verbs, groups, resources)` takes
space-separated words, and in `groups` `-` is the core group "".

Pure data builders, so both the API server's bootstrap policy (apiserver/auth/policy_data.py) and
the add-on manifests every side reads (kubeling/addons.py) write their rules with them.
"""

from __future__ import annotations

from typing import Any

Rule = dict[str, Any]


def r(verbs: str, groups: str, resources: str, names: str = "") -> Rule:
    rule: Rule = {"verbs": verbs.split(), "apiGroups": ["" if g == "-" else g for g in groups.split()],
                  "resources": resources.split()}
    if names:
        rule["resourceNames"] = names.split()
    return rule


def urls(verbs: str, paths: str) -> Rule:
    return {"verbs": verbs.split(), "nonResourceURLs": paths.split()}
