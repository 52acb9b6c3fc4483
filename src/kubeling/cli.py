"""Command line: `kubeling up | version`."""

from __future__ import annotations

import argparse
import logging
import sys

from . import GIT_VERSION, __version__
from .config import Config


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kubeling", description="Kubernetes in Python")
    sub = p.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="run a whole cluster in this process (API server + store + ...)")
    up.add_argument("--data-dir", default=Config.data_dir)
    up.add_argument("--bind", default=Config.bind, help="address the API server listens on")
    up.add_argument("--port", type=int, default=Config.port)
    up.add_argument("--advertise-address", default="", help="address written into the kubeconfig")
    up.add_argument("--service-cidr", default=Config.service_cidr)
    up.add_argument("-v", "--verbose", action="count", default=0)
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
        level = logging.WARNING - 10 * min(args.verbose, 2)
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
        from .server import up

        cfg = Config(data_dir=args.data_dir, bind=args.bind, port=args.port, advertise=args.advertise_address,
                     service_cidr=args.service_cidr)
        return up(cfg)
    return 2


if __name__ == "__main__":
    sys.exit(main())
