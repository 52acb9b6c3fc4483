"""kube-proxy: Services that carry traffic (see proxier.py for the loop, model.py for what is
forwarded, one module per mode for how)."""

from __future__ import annotations

import shutil

from .iptables_backend import ProxyError
from .proxier import MODES, Backend, ProxyConfig, Proxier

__all__ = ["MODES", "Backend", "ProxyConfig", "Proxier", "ProxyError", "check_mode", "make_backend", "cleanup"]


def check_mode(mode: str) -> None:
    """Raise ProxyError when `mode` cannot run on this machine (at startup, before anything)."""
    if mode not in MODES:
        raise ProxyError(f"unknown --proxy-mode {mode!r} (choose one of {', '.join(MODES)})")
    if mode == "nftables" and not shutil.which("nft"):
        raise ProxyError("--proxy-mode nftables needs the nft command (Debian package nftables); "
                         "use --proxy-mode iptables or userspace")
    if mode == "ipvs":
        from . import ipvs

        ipvs.check()


def make_backend(cfg: ProxyConfig) -> Backend:
    """The dataplane of cfg.mode, or ProxyError saying why it can't run here."""
    from . import iptables as ipt

    ctx = ipt.Context(cfg.owner, cfg.cluster_cidr, cfg.node_ips, tag=f"kubeling:{cfg.bridge}:{cfg.owner}")
    if cfg.mode == "iptables":
        from .iptables_backend import IptablesBackend, set_route_localnet

        set_route_localnet()
        return IptablesBackend(ctx)
    if cfg.mode == "nftables":
        from .nftables_backend import NftablesBackend

        return NftablesBackend(ctx, [ip for ip in cfg.node_ips if not ip.startswith("127.")])
    if cfg.mode == "userspace":
        from .iptables_backend import set_route_localnet
        from .userspace import UserspaceBackend

        set_route_localnet()
        return UserspaceBackend(ctx, cfg.node_ips[0])
    check_mode(cfg.mode)
    raise ProxyError(f"--proxy-mode {cfg.mode} is not available in this build")


async def cleanup(owner: str, keep: str = "") -> list[str]:
    """Remove what every mode (but `keep`) made for this owner: on `kubeling down` and on a
    mode change (iptables and userspace share the iptables chains: their first sync replaces
    the other's)."""
    removed: list[str] = []
    if keep not in ("iptables", "userspace"):
        from .iptables_backend import remove_chains

        removed += await remove_chains(owner)
    if keep != "nftables" and shutil.which("nft"):
        from .iptables import Context
        from .nftables_backend import delete_table

        removed += await delete_table(Context(owner, "", ()))
    return removed


