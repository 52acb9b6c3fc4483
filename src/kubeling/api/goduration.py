"""Go's time.Duration.String(), the one way durations appear in messages and objects
(`1h2m3.5s`, `250ms`, `0s`): back-off events, image pull events, probe timeouts, metrics
windows, protobuf Durations."""

from __future__ import annotations


def go_duration(ns: int) -> str:
    """time.Duration(ns).String(): 1h2m3.5s, 1.5ms, 300µs, 0s."""
    if ns == 0:
        return "0s"
    neg, u = ns < 0, abs(ns)
    if u < 1_000_000_000:
        if u < 1_000:
            s = f"{u}ns"
        elif u < 1_000_000:
            s = _frac(u, 3) + "µs"
        else:
            s = _frac(u, 6) + "ms"
    else:
        secs, rem = divmod(u, 1_000_000_000)
        frac = f"{rem:09d}".rstrip("0")
        s = f"{secs % 60}" + (f".{frac}" if frac else "") + "s"
        mins = secs // 60
        if mins:
            s = f"{mins % 60}m" + s
            if mins // 60:
                s = f"{mins // 60}h" + s
    return "-" + s if neg else s


def seconds_duration(seconds: float, *, truncate: bool = False) -> str:
    """`seconds` to the millisecond (rounded, or truncated as the kubelet's
    `Truncate(time.Millisecond)` of a pull time), as time.Duration.String() prints it."""
    ms = int(seconds * 1000) if truncate else int(round(seconds * 1000))
    return go_duration(ms * 1_000_000)


def _frac(u: int, prec: int) -> str:
    whole, rem = divmod(u, 10 ** prec)
    frac = f"{rem:0{prec}d}".rstrip("0")
    return f"{whole}.{frac}" if frac else f"{whole}"
