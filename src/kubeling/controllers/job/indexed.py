"""Indexed Jobs: completion indexes on pods and in `status.completedIndexes` (upstream
pkg/controller/job/indexed_job_utils.go)."""

from __future__ import annotations

from typing import Any

COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
COMPLETION_INDEX_LABEL = "batch.kubernetes.io/job-completion-index"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"

Obj = dict[str, Any]


def is_indexed(job: Obj) -> bool:
    return (job.get("spec") or {}).get("completionMode") == "Indexed"


def completion_index(pod: Obj) -> int:
    """getCompletionIndex: the annotation (label as fallback); -1 when missing or malformed."""
    v = (pod["metadata"].get("annotations") or {}).get(COMPLETION_INDEX_ANNOTATION)
    if v is None:
        v = (pod["metadata"].get("labels") or {}).get(COMPLETION_INDEX_LABEL)
    try:
        i = int(v) if v is not None else -1
    except ValueError:
        return -1
    return i if i >= 0 else -1


def parse_indexes(s: str | None, completions: int) -> set[int]:
    """'1,3-5' -> {1, 3, 4, 5}, dropping indexes >= completions."""
    out: set[int] = set()
    for part in (s or "").split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            continue
        out.update(i for i in range(a, b + 1) if i < completions)
    return out


def format_indexes(idx: set[int]) -> str:
    """{1, 3, 4, 5} -> '1,3-5' (status.completedIndexes)."""
    out, run = [], []
    for i in sorted(idx):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [i]
    if run:
        out.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ",".join(out)


def first_pending_indexes(active: list[Obj], succeeded: set[int], count: int, completions: int) -> list[int]:
    """The lowest indexes with neither a success nor an active pod."""
    taken = succeeded | {completion_index(p) for p in active}
    out = []
    for i in range(completions):
        if len(out) >= count:
            break
        if i not in taken:
            out.append(i)
    return out
