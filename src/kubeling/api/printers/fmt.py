"""Cell formatting shared by every printer: ages (apimachinery `duration.HumanDuration`), timestamps
parsed once and memoised per table, labels, lists and Go-style values."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable


TABLE_API_VERSION = "meta.k8s.io/v1"

EMPTY: dict = {}
NO_ITEMS: tuple = ()
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)
NONE = "<none>"
UNSET = "<unset>"
UNKNOWN = "<unknown>"


# ---------------------------------------------------------------- durations (apimachinery)

def _trunc_div(a: int, b: int) -> int:
    """Go integer division (truncates toward zero)."""
    return a // b if a >= 0 else -((-a) // b)


def human_us(us: int) -> str:
    """apimachinery duration.HumanDuration on a duration in microseconds.

    ~2-3 significant figures: 74s, 4m43s, 52m, 3h5m, 26h, 5d3h, 30d, 2y45d, 9y.
    A clock skew of up to 2s reads as "0s"; anything more negative is "<invalid>".
    """
    seconds = _trunc_div(us, 1_000_000)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = us // 60_000_000
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = us // 3_600_000_000
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def _short_human_us(us: int) -> str:
    """apimachinery duration.ShortHumanDuration: one unit only (45s, 3m, 5h, 12d, 2y)."""
    seconds = _trunc_div(us, 1_000_000)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60:
        return f"{seconds}s"
    minutes = us // 60_000_000
    if minutes < 60:
        return f"{minutes}m"
    hours = us // 3_600_000_000
    if hours < 24:
        return f"{hours}h"
    if hours < 24 * 365:
        return f"{hours // 24}d"
    return f"{hours // 24 // 365}y"


def _duration_us(d: timedelta | float | int) -> int:
    if isinstance(d, timedelta):
        return d // _US
    return int(round(d * 1_000_000))


def human_duration(d: timedelta | float | int) -> str:
    """HumanDuration of a timedelta (or of seconds)."""
    return human_us(_duration_us(d))


def short_human_duration(d: timedelta | float | int) -> str:
    """ShortHumanDuration of a timedelta (or of seconds)."""
    return _short_human_us(_duration_us(d))


@functools.lru_cache(maxsize=8192)
def parse_us(ts: str) -> int | None:
    """RFC 3339 timestamp -> microseconds since the epoch (None if unparseable)."""
    try:
        dt = datetime.fromisoformat(ts)
    except (TypeError, ValueError):
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return (dt - _EPOCH) // _US


def _now_us(now: datetime) -> int:
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return (now - _EPOCH) // _US


class Clock:
    """`now` plus a per-table memo of age strings: many rows share a creation second."""

    __slots__ = ("now_us", "_ages")

    def __init__(self, now: datetime) -> None:
        self.now_us = _now_us(now)
        self._ages: dict[str, str] = {}

    def since(self, ts: str | None) -> str:
        """translateTimestampSince: "<unknown>" for a zero (unset) time."""
        if not ts:
            return UNKNOWN
        age = self._ages.get(ts)
        if age is None:
            t = parse_us(ts)
            age = UNKNOWN if t is None else human_us(self.now_us - t)
            self._ages[ts] = age
        return age


def rfc3339(ts: str | None) -> str:
    """metav1.Time formatted as time.RFC3339 in UTC (the "Created At" cell)."""
    if not ts:
        return "0001-01-01T00:00:00Z"
    if len(ts) == 20 and ts[-1] == "Z":
        return ts
    t = parse_us(ts)
    if t is None:
        return ts
    return (_EPOCH + timedelta(microseconds=t)).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- formatting helpers

def format_labels(labels: dict[str, str] | None) -> str:
    """labels.FormatLabels: sorted "k=v,..." or "<none>"."""
    if not labels:
        return NONE
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def layout_containers(containers: Iterable[dict] | None) -> tuple[str, str]:
    """layoutContainerCells: names and images, comma separated, in spec order."""
    cs = containers or NO_ITEMS
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def template_containers(obj: dict) -> list[dict]:
    return (((obj.get("spec") or EMPTY).get("template") or EMPTY).get("spec") or EMPTY).get("containers") or []


def int_or_string(v: Any) -> str:
    return str(v)


def lb_ingress(status: dict | None) -> str:
    """loadBalancerStatusStringer (wide): sorted unique IPs/hostnames."""
    seen = set()
    for ing in (status or EMPTY).get("ingress") or NO_ITEMS:
        v = ing.get("ip") or ing.get("hostname")
        if v:
            seen.add(v)
    return ",".join(sorted(seen))


def with_more(items: list[str], more: bool, count: int, max_: int) -> str:
    """listWithMoreString."""
    ret = ",".join(items)
    if more:
        return f"{ret} + {count - max_} more..."
    return ret or UNSET


def join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bool_ptr(v: bool | None) -> str:
    """printBoolPtr."""
    if v is None:
        return UNSET
    return "True" if v else "False"


_ACCESS_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
                 ("ReadWriteOncePod", "RWOP"))


def access_modes(modes: list[str] | None) -> str:
    """helper.GetAccessModesAsString: fixed order, de-duplicated."""
    have = set(modes or NO_ITEMS)
    return ",".join(short for long, short in _ACCESS_MODES if long in have)


_BETA_CLASS = "volume.beta.kubernetes.io/storage-class"


def storage_class_of(obj: dict) -> str:
    """GetPersistentVolume(Claim)Class: the beta annotation wins over spec.storageClassName."""
    ann = (obj.get("metadata") or EMPTY).get("annotations") or EMPTY
    if _BETA_CLASS in ann:
        return ann[_BETA_CLASS]
    return (obj.get("spec") or EMPTY).get("storageClassName") or ""


def has_condition(conds: list[dict] | None, ctype: str) -> bool:
    """True if the first condition of this type has status True (hasJobCondition)."""
    for c in conds or NO_ITEMS:
        if c.get("type") == ctype:
            return c.get("status") == "True"
    return False
