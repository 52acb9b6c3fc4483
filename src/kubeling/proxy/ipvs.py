"""ipvs mode: only where the kernel has IP Virtual Server. This machine's kernel has no ip_vs, so
asking for it is a clear startup error naming the module and the other modes, never a silent
fallback to another mode (kube-proxy falls back silently in old versions; that hides the cause)."""

from __future__ import annotations

import os
import shutil
import subprocess

from .iptables_backend import ProxyError

OTHER_MODES = "--proxy-mode iptables (the default), nftables or userspace"


def kernel_has_ipvs() -> tuple[bool, str]:
    """(present, why not): /proc/net/ip_vs exists once ip_vs is loaded; try modprobe first."""
    if os.path.exists("/proc/net/ip_vs"):
        return True, ""
    if not shutil.which("modprobe"):
        modules = f"/lib/modules/{os.uname().release}"
        return False, f"/proc/net/ip_vs is absent, and there is no modprobe to load it from {modules}"
    try:
        r = subprocess.run(["modprobe", "ip_vs"], capture_output=True, text=True, timeout=10)
        why = " ".join((r.stderr or r.stdout).split()) or f"modprobe exited with {r.returncode}"
    except (OSError, subprocess.TimeoutExpired) as e:
        why = str(e)
    return os.path.exists("/proc/net/ip_vs"), why


def check() -> None:
    ok, why = kernel_has_ipvs()
    if not ok:
        raise ProxyError(f"--proxy-mode ipvs needs the kernel module ip_vs (with ip_vs_rr), which this kernel "
                         f"({os.uname().release}) does not provide ({why}); use {OTHER_MODES}")
    raise ProxyError("--proxy-mode ipvs: this kernel has ip_vs, but kubeling's ipvs dataplane is not "
                     f"implemented yet; use {OTHER_MODES}")
