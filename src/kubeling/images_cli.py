"""`kubeling images …`: import, ls, rm, pull, build [--push URL] on a node's image store.

The store is `DATA/agent/images`; registries come from `--registry-config`
(k3s `registries.yaml` format, default `DATA/registries.yaml` when it exists).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from .config import Config
from .kubelet.images import build
from .kubelet.images.reference import ReferenceError, parse
from .kubelet.images.registries import RegistryConfig, load_registries
from .kubelet.images.registry import RegistryClient, RegistryError
from .kubelet.images.store import ImageStore, StoreError


def add_subcommands(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add `images` with its own subcommands to the top-level parser's subparsers."""
    p = subparsers.add_parser("images", help="manage the node's container images")
    p.add_argument("--data-dir", default=Config.data_dir)
    p.add_argument("--registry-config", default="", help="registries.yaml (default DATA/registries.yaml)")
    sub = p.add_subparsers(dest="images_cmd", required=True)
    imp = sub.add_parser("import", help="import a docker-save or OCI archive (.tar, .tar.gz)")
    imp.add_argument("files", nargs="+", metavar="FILE")
    imp.add_argument("--base-name", default="", help="name for archive entries that carry only a tag or none")
    ls = sub.add_parser("ls", help="list images")
    ls.add_argument("-q", "--quiet", action="store_true", help="only image IDs")
    ls.add_argument("--digests", action="store_true", help="show repo digests")
    rm = sub.add_parser("rm", help="remove images by name or ID")
    rm.add_argument("refs", nargs="+", metavar="REF")
    pull = sub.add_parser("pull", help="pull an image from a registry")
    pull.add_argument("ref", metavar="REF")
    b = sub.add_parser("build", help="build the project's test images (busybox, nginx, redis) and import them")
    b.add_argument("--push", default="", metavar="URL", help="also push them, e.g. http://127.0.0.1:5000")
    b.add_argument("--only", action="append", help="busybox, nginx or redis (repeatable)")
    b.add_argument("--cache-dir", default="", help="OCI layout build cache (default DATA/agent/images/build)")


def _store(args: argparse.Namespace) -> ImageStore:
    return ImageStore(os.path.join(args.data_dir, "agent", "images"))


def _registries(args: argparse.Namespace) -> RegistryConfig:
    path = args.registry_config or os.path.join(args.data_dir, "registries.yaml")
    return load_registries(path)


def human_size(n: float) -> str:
    """docker/go-units HumanSize: decimal units, 4 significant digits (`4.084MB`)."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000
        i += 1
    return f"{n:.4g}{units[i]}"


def _ls(args: argparse.Namespace) -> int:
    recs = _store(args).list()
    if args.quiet:
        for rid in dict.fromkeys(r.id for r in recs):
            print(rid)
        return 0
    rows = [("IMAGE", "TAG", "DIGEST", "IMAGE ID", "SIZE") if args.digests else ("IMAGE", "TAG", "IMAGE ID", "SIZE")]
    for r in recs:
        ref = parse(r.name)
        row = [ref.name, ref.tag or "<none>"]
        if args.digests:
            row.append(r.target.split(":")[1][:12])
        row += [r.id.split(":")[1][:13], human_size(r.size)]
        rows.append(tuple(row))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("   ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    return 0


def _import(args: argparse.Namespace) -> int:
    store = _store(args)
    for f in args.files:
        t0 = time.monotonic()
        for rec in store.import_archive(f, args.base_name):
            print(f"imported {rec.name} ({rec.id}) in {time.monotonic() - t0:.2f}s")
    return 0


def _rm(args: argparse.Namespace) -> int:
    store, rc = _store(args), 0
    for ref in args.refs:
        try:
            for name in store.remove(ref):
                print(f"Deleted: {name}")
        except StoreError as e:
            print(f"ERRO: {e}", file=sys.stderr)
            rc = 1
    return rc


async def _pull(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    async with RegistryClient(_registries(args)) as client:
        rec = await client.pull(args.ref, _store(args))
    print(f"Image is up to date for {rec.repo_digest} ({rec.id}) in {time.monotonic() - t0:.2f}s")
    return 0


def _build(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    refs = build.ensure_test_images(args.data_dir, args.cache_dir or None, args.only)
    for short, full in refs.items():
        print(f"{short}\t{full}")
    print(f"built and imported in {time.monotonic() - t0:.2f}s", file=sys.stderr)
    if args.push:
        for line in asyncio.run(build.push_test_images(args.data_dir, args.push, list(refs.values()))):
            print(f"pushed {line}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run `kubeling images <cmd>`; errors print one line and return 1."""
    try:
        if args.images_cmd == "ls":
            return _ls(args)
        if args.images_cmd == "import":
            return _import(args)
        if args.images_cmd == "rm":
            return _rm(args)
        if args.images_cmd == "pull":
            return asyncio.run(_pull(args))
        if args.images_cmd == "build":
            return _build(args)
    except (RegistryError, StoreError, ReferenceError, RuntimeError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 2


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (`python -m kubeling.images_cli …`) until cli.py wires `images` in."""
    p = argparse.ArgumentParser(prog="kubeling")
    add_subcommands(p.add_subparsers(dest="cmd", required=True))
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
