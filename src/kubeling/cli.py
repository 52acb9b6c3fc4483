"""Command line: `kubeling up | down | images | version` (up.py, down.py, images_cli.py)."""

from __future__ import annotations

import argparse
import sys

from . import GIT_VERSION, __version__
from .config import Config


def _add_node_flags(up: argparse.ArgumentParser) -> None:
    """Kubelet flags of `kubeling up` (see kubelet/agent.py)."""
    up.add_argument("--no-node", action="store_true",
                    help="run the control plane only (no kubelet on this machine; --sim-nodes still works)")
    up.add_argument("--sim-nodes", type=int, default=None, metavar="N",
                    help="run N simulated nodes (sim-node-1..N, a labelled fake runtime) and no real node "
                         "(0: no node at all)")
    up.add_argument("--runtime", choices=("runc", "crun", "simulated", "none"), default=None,
                    help="container runtime of this node (default runc; none = --no-node)")
    up.add_argument("--node-name", default="", help="name of this node (default: the hostname)")
    up.add_argument("--node-ip", default="",
                    help="InternalIP of this node (default: the gateway address of its pod CIDR on the bridge)")
    up.add_argument("--kubelet-port", type=int, default=Config.kubelet_port,
                    help="port of the kubelet API (logs, exec, attach, port-forward); 0 picks a free one")
    up.add_argument("--pod-bridge", default=Config.pod_bridge, help="name of the node's CNI bridge")
    up.add_argument("--no-test-images", dest="test_images", action="store_false",
                    help="don't build the tutorial images (nginx, redis, busybox) or start the local registry")
    up.add_argument("--pod-log-dir", default=Config.pod_log_dir, help="where container logs go (CRI format)")
    up.add_argument("--proxy-mode", choices=("iptables", "nftables", "ipvs", "userspace", "none"),
                    default=Config.proxy_mode, help="how the node's kube-proxy forwards Service traffic")
    up.add_argument("--cluster-dns", default="", metavar="IP",
                    help="the cluster DNS Service IP given to pods (default: the 10th address of the service CIDR; "
                         "none: no cluster DNS)")
    up.add_argument("--cluster-domain", default=Config.cluster_domain)
    up.add_argument("--dns-upstream", action="append", default=[], metavar="HOST[:PORT]",
                    help="resolver the cluster DNS forwards other names to (repeatable; default: the host's "
                         "/etc/resolv.conf nameservers)")
    up.add_argument("--cluster-cidr", default=Config.cluster_cidr, help="pod CIDR; node i gets its i-th /24")
    up.add_argument("--node-lease-duration-seconds", type=int, default=Config.node_lease_duration,
                    help="node Lease duration; it is renewed every quarter of it")
    up.add_argument("--node-status-update-frequency", type=float, default=Config.node_status_update_frequency,
                    help="seconds between node status computations")


def _apply_node_flags(cfg: Config, args: argparse.Namespace) -> None:
    cfg.sim_nodes = None if args.sim_nodes is None else max(args.sim_nodes, 0)
    cfg.runtime = args.runtime or "runc"
    cfg.runtime_explicit = args.runtime is not None
    cfg.no_node = args.no_node or args.runtime == "none"
    cfg.node_name, cfg.node_ip, cfg.pod_log_dir = args.node_name, args.node_ip, args.pod_log_dir
    cfg.kubelet_port, cfg.pod_bridge, cfg.test_images = args.kubelet_port, args.pod_bridge, args.test_images
    cfg.cluster_cidr = args.cluster_cidr
    cfg.proxy_mode = "" if args.proxy_mode == "none" else args.proxy_mode
    cfg.cluster_dns, cfg.cluster_domain = args.cluster_dns, args.cluster_domain
    cfg.dns_upstreams = tuple(args.dns_upstream)
    cfg.node_lease_duration = args.node_lease_duration_seconds
    cfg.node_status_update_frequency = args.node_status_update_frequency


def _duration(s: str) -> float:
    """A Go duration flag value (`40s`, `1m30s`, `500ms`; a bare number is seconds)."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    try:
        return float(s)
    except ValueError:
        pass
    total, num, i = 0.0, "", 0
    while i < len(s):
        if s[i].isdigit() or s[i] == ".":
            num += s[i]
            i += 1
            continue
        unit = "ms" if s.startswith("ms", i) else s[i]
        if unit not in units or not num:
            raise argparse.ArgumentTypeError(f"invalid duration {s!r}")
        total, num, i = total + float(num) * units[unit], "", i + len(unit)
    if num:
        raise argparse.ArgumentTypeError(f"missing unit in duration {s!r}")
    return total


def _lb_pool(s: str) -> str:
    from .controllers.servicelb import parse_pool

    try:
        parse_pool(s)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"invalid address pool {s!r}: {e}") from None
    return s


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kubeling", description="Kubernetes in Python")
    sub = p.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="run a whole cluster in this process (API server + store + ...)")
    up.add_argument("--data-dir", default=Config.data_dir)
    up.add_argument("--bind", default=Config.bind, help="address the API server listens on")
    up.add_argument("--port", type=int, default=Config.port)
    up.add_argument("--advertise-address", default="", help="address written into the kubeconfig")
    up.add_argument("--service-cidr", default=Config.service_cidr)
    up.add_argument("--lb-pool", default="", metavar="RANGES", type=_lb_pool,
                    help="addresses for LoadBalancer Services (10.0.0.10-10.0.0.20, CIDRs or IPs, comma-separated; "
                         "default: the nodes' InternalIPs, shared, as k3s's ServiceLB)")
    up.add_argument("--encryption-provider-config", default="",
                    help="EncryptionConfiguration file (aescbc, aesgcm, secretbox, identity): encrypt e.g. Secrets at rest")
    up.add_argument("--audit-policy-file", default="",
                    help="audit.k8s.io/v1 Policy: log requests as JSON lines (off without it)")
    up.add_argument("--audit-log-path", default="", help="where audit events go (default DATA/server/audit.log)")
    up.add_argument("--authorization-mode", default=Config.authorization_mode,
                    help="comma-separated authorizers: Node,RBAC (default) or AlwaysAllow (no authorization)")
    up.add_argument("--request-timeout", type=_duration, default=Config.request_timeout,
                    help="a request whose body has not arrived within it is answered 504 Timeout (e.g. 1m0s)")
    up.add_argument("--node-monitor-period", type=_duration, default=Config.node_monitor_period,
                    help="how often node health is checked (Go duration, e.g. 5s)")
    up.add_argument("--node-monitor-grace-period", type=_duration, default=Config.node_monitor_grace_period,
                    help="how long a node may stay silent before it is marked unhealthy (e.g. 40s)")
    up.add_argument("--node-startup-grace-period", type=_duration, default=Config.node_startup_grace_period,
                    help="how long a starting node may stay silent (e.g. 1m)")
    up.add_argument("--node-eviction-rate", type=float, default=Config.node_eviction_rate,
                    help="nodes per second tainted NoExecute per zone when the zone is healthy")
    up.add_argument("--horizontal-pod-autoscaler-sync-period", type=_duration, default=Config.hpa_sync_period,
                    help="how often every HPA is reconciled (e.g. 15s)")
    up.add_argument("--horizontal-pod-autoscaler-downscale-stabilization", type=_duration,
                    default=Config.hpa_downscale_stabilization,
                    help="look-back window for scale-down recommendations of an HPA without behavior (e.g. 5m)")
    up.add_argument("--metric-resolution", type=_duration, default=Config.metric_resolution,
                    help="how often the metrics component scrapes every kubelet (e.g. 15s)")
    _add_node_flags(up)
    up.add_argument("-v", "--verbose", action="count", default=0,
                    help="more log lines on stderr: -v info, -vv debug (debug also goes to DATA/kubeling.log); "
                         "by default stderr shows warnings and errors and DATA/kubeling.log everything from info up")
    sub.add_parser("version", help="print the version")
    from .images_cli import add_subcommands as add_images

    add_images(sub)
    from .down import add_subcommand as add_down

    add_down(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.cmd == "version":
        print(f"kubeling {__version__} (Kubernetes {GIT_VERSION})")
        return 0
    if args.cmd == "down":
        from .down import run as down_run

        return down_run(args)
    if args.cmd == "images":
        from .images_cli import run as images_run

        return images_run(args)
    if args.cmd == "up":
        from .logsetup import setup as setup_logging

        try:
            setup_logging(args.data_dir, args.verbose)
        except OSError as e:
            print(f"kubeling: cannot log to {args.data_dir}: {e}", file=sys.stderr)
            return 1
        from .up import up

        cfg = Config(data_dir=args.data_dir, bind=args.bind, port=args.port, advertise=args.advertise_address,
                     service_cidr=args.service_cidr, authorization_mode=args.authorization_mode,
                     encryption_provider_config=args.encryption_provider_config,
                     audit_policy_file=args.audit_policy_file, audit_log_path=args.audit_log_path)
        cfg.request_timeout = args.request_timeout
        cfg.node_monitor_period = args.node_monitor_period
        cfg.node_monitor_grace_period = args.node_monitor_grace_period
        cfg.node_startup_grace_period = args.node_startup_grace_period
        cfg.node_eviction_rate = args.node_eviction_rate
        cfg.hpa_sync_period = args.horizontal_pod_autoscaler_sync_period
        cfg.hpa_downscale_stabilization = args.horizontal_pod_autoscaler_downscale_stabilization
        cfg.metric_resolution = args.metric_resolution
        cfg.lb_pool = args.lb_pool
        _apply_node_flags(cfg, args)
        return up(cfg)
    return 2


if __name__ == "__main__":
    sys.exit(main())
