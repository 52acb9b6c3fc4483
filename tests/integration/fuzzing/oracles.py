"""What every answer must satisfy, and the tally of what did not.

A response is a finding when it is a 5xx that upstream would not give (allow-list below, each
entry citing the upstream code that answers 500), carries a traceback or "Internal error
occurred", is not a well-formed Status (errors) or object (successes), returns or stores an
object upstream's typed decode would have refused, or sends unbounded Warning headers.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# Upstream answers 500 (a non-APIStatus error: ErrorToAPIStatus's default branch, code 500, reason
# "" and the raw error as message — never "Internal error occurred") in these cases only:
ALLOWED_5XX: list[tuple[str, re.Pattern[str], str]] = [
    # k8s.io/apiserver/pkg/endpoints/handlers/patch.go interpretStrategicMergePatchError: only the
    # mergepatch.Err* sentinel values become 400/422; the fmt.Errorf errors of
    # k8s.io/apimachinery/pkg/util/mergepatch/errors.go (ErrNoMergeKey, ErrBadArgType/Kind,
    # ErrBadPatchType) and strategicpatch/patch.go fall through `default: return err`.
    ("application/strategic-merge-patch+json",
     re.compile(r"does not contain declared merge key|expected a .+?, but received a|unknown patch type|"
                r"list element types are not identical|no elements in any of the given slices|"
                r"unable to find api field|value for key .+ is not a map\.|cannot merge lists without merge key|"
                r"merging lists cannot yet be specified in the patch|fail to find unknown prefix|"
                r"The order in patch list:"),
     "strategicpatch fmt.Errorf → patch.go default branch"),
    # k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager/internal/structuredmerge.go Apply:
    # fmt.Errorf("failed to create typed patch object (%v): %v") / "... typed live object ..."
    # (a known upstream 500: kubernetes/kubernetes#122480, #139253);
    # fieldmanager.go FieldManager.Apply: fmt.Errorf("failed to decode managed fields: %v");
    # skipnonapplied.go Apply: fmt.Errorf("failed to create manager for existing fields: %v").
    ("application/apply-patch+yaml",
     re.compile(r"^failed to create typed (?:patch|live) object|^failed to decode managed fields"
                r"|^failed to create manager for existing fields"),
     "structuredmerge.go / fieldmanager.go Apply → 500"),
    # k8s.io/apiserver/pkg/registry/generic/registry/store.go Update: the error of
    # Versioner().ObjectResourceVersion (strconv.ParseUint of metadata.resourceVersion) as is.
    ("*", re.compile(r"^strconv\.ParseUint: parsing "), "store.go Update → 500"),
    # k8s.io/apiserver/pkg/storage/etcd3/store.go Create: errors.New(...) when an rv is set.
    ("*", re.compile(r"^resourceVersion should not be set on objects to be created$"), "etcd3 store.go Create → 500"),
    # etcd's ErrRequestTooLarge (object over --max-request-bytes, 1.5 MiB) reaches ErrorToAPIStatus as
    # a plain error: kubernetes/kubernetes#112152 (open).
    ("*", re.compile(r"^etcdserver: request is too large$"), "etcd error → 500"),
    # k8s.io/kubernetes/pkg/registry/core/pod/storage/eviction.go: a Status with Code 500.
    ("*", re.compile(r"^This pod has more than one PodDisruptionBudget"), "eviction.go → 500"),
]
# Finding categories (every one but ALLOWED is a failure of the guarantee it names)
ALLOWED = "5xx that upstream answers too (allow-list, not a failure)"
UNHANDLED = "unhandled error (traceback / Internal error occurred)"
UNEXPECTED_5XX = "5xx upstream would not send"
NOT_STATUS = "error answer is not a Status"
NOT_OBJECT = "success answer is not an object"
BIG_WARNINGS = "unbounded Warning headers"
TYPED_STORED = "wrongly typed object stored"
TYPED_RETURNED = "wrongly typed object returned"
VALID_QUERY_REFUSED = "valid query not answered 200"
BAD_CREDENTIALS = "bad credentials not refused with 401/403"
NO_ANSWER = "no answer (timeout or connection error)"
SERVER_DIED = "server process died"
RSS_JUMP = "server RSS jumped by > 32 MiB on one request"
BAD_WATCH_EVENT = "watch stream line is not an event"
# k8s.io/apiserver/pkg/endpoints/filters/warning.go: 4 Ki runes in total, then 256 per item
MAX_WARNING_BYTES = 4 * 1024 * 4 + 1024
# (aiohttp's own page for an exception that escaped every handler: "Server got itself in trouble")
UNHANDLED_TEXT = re.compile(r"Traceback \(most recent call last\)|Internal error occurred|File \"/.*\.py\", line \d+|"
                       r"Server got itself in trouble")


def allowed_5xx(ctype: str, message: str) -> bool:
    return any(c in (ctype, "*") and rx.search(message) for c, rx, _ in ALLOWED_5XX)


def signature(status: int, body: Any, text: str) -> str:
    """A short grouping key for similar answers: status, reason, message head without specifics."""
    msg = body.get("message", "") if isinstance(body, dict) else text
    reason = body.get("reason", "") if isinstance(body, dict) else ""
    msg = re.sub(r'"[^"]*"|\'[^\']*\'|\d+|fz-[0-9a-f]+|map\[.*?\]', "_", str(msg))[:90]
    return f"{status} {reason}: {msg}"


@dataclass
class Finding:
    category: str
    request: str
    status: int
    response: str


@dataclass
class Tally:
    requests: int = 0
    by_status: Counter = field(default_factory=Counter)
    by_case: Counter = field(default_factory=Counter)
    counts: Counter = field(default_factory=Counter)  # (category, signature) → count
    examples: dict[tuple[str, str], Finding] = field(default_factory=dict)
    allowed_5xx: int = 0
    stored_checked: int = 0
    wrongly_typed_keys: set = field(default_factory=set)
    peak_rss_kib: int = 0
    typed_by_write: Counter = field(default_factory=Counter)  # "PATCH application/merge-patch+json" → count
    rss_growth_kib: Counter = field(default_factory=Counter)  # case kind → RSS growth seen after its requests
    log_tracebacks: int = 0
    log_bytes: int = 0

    def find(self, category: str, sig: str, request: str, status: int, response: str) -> None:
        key = (category, sig)
        self.counts[key] += 1
        self.examples.setdefault(key, Finding(category, request[:600], status, response[:600]))

    def by_category(self) -> Counter:
        out: Counter = Counter()
        for (cat, _), n in self.counts.items():
            out[cat] += n
        return out

    def summary(self, groups: bool = True) -> str:
        lines = [f"requests: {self.requests}", f"by status: {dict(sorted(self.by_status.items()))}",
                 f"by case: {dict(sorted(self.by_case.items()))}",
                 f"5xx allowed (upstream answers 5xx too): {self.allowed_5xx}",
                 f"stored objects type-checked: {self.stored_checked}",
                 f"wrongly typed objects returned, by write: {dict(self.typed_by_write.most_common())}",
                 f"wrongly typed objects stored (distinct): {len(self.wrongly_typed_keys)}",
                 f"peak server RSS: {self.peak_rss_kib // 1024} MiB",
                 f"RSS growth (MiB) after requests of: { {k: v // 1024 for k, v in self.rss_growth_kib.most_common()} }",
                 f"server log: {self.log_bytes // 1024} KiB written, {self.log_tracebacks} tracebacks",
                 f"findings by category: {dict(self.by_category())}"]
        for (cat, sig), n in self.counts.most_common() if groups else ():
            ex = self.examples[(cat, sig)]
            lines.append(f"  [{cat}] x{n} {sig}\n      request: {ex.request[:300]!r}\n      response: {ex.response[:300]!r}")
        return "\n".join(lines)


def _cell(text: str, n: int) -> str:
    return "`" + text[:n].replace("`", "'").replace("|", "\\|").replace("\n", "\\n") + "`"


def markdown(tally: Tally, groups_per_category: int = 60) -> str:
    """The findings as Markdown: one table per category, one row (count, example) per group."""
    out = ["| category | occurrences | distinct groups |", "|---|---|---|"]
    cats = tally.by_category()
    for cat, n in cats.most_common():
        out.append(f"| {cat} | {n} | {sum(1 for c, _ in tally.counts if c == cat)} |")
    for cat, _ in cats.most_common():
        rows = [(n, sig) for (c, sig), n in tally.counts.most_common() if c == cat]
        out += ["", f"### {cat}", "", "| count | group | example request | response |", "|---|---|---|---|"]
        for n, sig in rows[:groups_per_category]:
            ex = tally.examples[(cat, sig)]
            out.append(f"| {n} | {_cell(sig, 140)} | {_cell(ex.request, 260)} | {_cell(ex.response, 220)} |")
        if len(rows) > groups_per_category:
            out.append(f"| … | {len(rows) - groups_per_category} more groups | | |")
    return "\n".join(out) + "\n"


def check_response(tally: Tally, request: str, ctype: str, status: int, text: str, body: Any,
                   warnings: list[str]) -> None:
    """Record the findings one answer yields (the type check of returned objects is the caller's)."""
    tally.requests += 1
    tally.by_status[status] += 1
    sig = signature(status, body, text)
    if UNHANDLED_TEXT.search(text):
        tally.find(UNHANDLED, sig, request, status, text)
    elif status >= 500:
        if isinstance(body, dict) and not body.get("reason") and allowed_5xx(ctype, body.get("message", "")):
            tally.allowed_5xx += 1
            tally.find(ALLOWED, sig, request, status, text)  # for the record, not a failure
        else:
            tally.find(UNEXPECTED_5XX, sig, request, status, text)
    if status >= 400:
        ok = (isinstance(body, dict) and body.get("kind") == "Status" and body.get("apiVersion") == "v1"
              and body.get("status") == "Failure" and body.get("code") == status and isinstance(body.get("message"), str))
        if not ok:
            tally.find(NOT_STATUS, sig, request, status, text)
    elif status < 300 and not (isinstance(body, dict) and isinstance(body.get("kind"), str)):
        tally.find(NOT_OBJECT, sig, request, status, text)
    size = sum(len(w.encode("utf-8", "replace")) for w in warnings)
    if size > MAX_WARNING_BYTES:
        tally.find(BIG_WARNINGS, f"{len(warnings)} warnings, {size} bytes", request, status,
                   warnings[0][:300] if warnings else "")
