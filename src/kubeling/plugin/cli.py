"""`kubectl-kubeling`: arguments, API calls and output of `kubectl kubeling rollout ...`.

Errors are one line and exit 1, as kubectl's: `Error from server (NotFound): ...` for what the
API refused, `error: ...` for what the plugin refuses (no such container, not a Rollout)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, AsyncIterator, Sequence

import aiohttp

from ..api.errors import StatusError
from ..api.resources import lookup
from ..api.selectors import from_label_selector_object
from ..client.rest import Client
from . import rollout as ro_
from .kubeconfig import resolve
from .rollout import ROLLOUTS, Obj, PluginError
from .view import render

REPLICASETS = lookup("apps", "v1", "replicasets")
PODS = lookup("", "v1", "pods")
assert REPLICASETS is not None and PODS is not None


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)  # kubectl's flags, accepted anywhere
    common.add_argument("-n", "--namespace", default=argparse.SUPPRESS, help="the namespace of the Rollout")
    common.add_argument("--context", default=argparse.SUPPRESS, help="the kubeconfig context to use")
    common.add_argument("--kubeconfig", default=argparse.SUPPRESS, help="path to the kubeconfig file")
    p = argparse.ArgumentParser(prog="kubectl kubeling", parents=[common],
                                description="kubeling's kubectl plugin: Rollouts (rollouts.kubeling.io)")
    top = p.add_subparsers(dest="group", required=True, metavar="rollout")
    ro = top.add_parser("rollout", parents=[common], help="drive a Rollout (canary, blue-green)")
    cmds = ro.add_subparsers(dest="cmd", required=True, metavar="get|promote|abort|retry|undo|set")

    def cmd(name: str, text: str) -> argparse.ArgumentParser:
        c = cmds.add_parser(name, parents=[common], help=text, description=text)
        c.add_argument("name", metavar="NAME", help="the Rollout (NAME or rollout/NAME)")
        return c

    get = cmd("get", "show a Rollout's status: steps, weights, ReplicaSets and pods")
    get.add_argument("-w", "--watch", action="store_true", help="redraw as it changes, until interrupted")
    cmd("promote", "resume a paused Rollout (next step), or --full: skip the remaining steps").add_argument(
        "--full", action="store_true", help="skip the remaining steps, pauses and analysis")
    cmd("abort", "abort the update: all traffic and replicas back to the stable version")
    cmd("retry", "retry an aborted Rollout")
    cmd("undo", "roll back spec.template to a previous revision").add_argument(
        "--to-revision", type=int, default=0, help="the revision to roll back to (default: the previous one)")
    setp = cmds.add_parser("set", parents=[common], help="set fields of a Rollout")
    sets = setp.add_subparsers(dest="field", required=True, metavar="image")
    img = sets.add_parser("image", parents=[common], help="set a container's image (CONTAINER=IMAGE; * for all)")
    img.add_argument("name", metavar="NAME")
    img.add_argument("image", metavar="CONTAINER=IMAGE")
    return p


class Session:
    """The API calls of one command, for one namespace."""

    def __init__(self, client: Client, namespace: str) -> None:
        self.client, self.ns = client, namespace

    async def rollout(self, name: str) -> Obj:
        try:
            return await self.client.get(ROLLOUTS, self.ns, name)
        except StatusError as e:
            if e.code == 404 and (e.details or {}).get("name") != name:
                raise PluginError(f'the server doesn\'t have a resource type "rollouts" in {ro_.GROUP}/'
                                  f"{ro_.VERSION} (is kubeling's Rollout CRD installed?)") from None
            raise

    async def patch(self, name: str, body: Any, patch_type: str = "merge", sub: str | None = None) -> Obj:
        return await self.client.patch(ROLLOUTS, self.ns, name, body, patch_type=patch_type, sub=sub,
                                       field_manager="kubectl-kubeling")

    async def patch_status(self, name: str, body: Obj) -> Obj:
        """Through the status subresource (Argo: then the object itself when the CRD has none)."""
        try:
            return await self.patch(name, body, sub="status")
        except StatusError as e:
            if e.code != 404:
                raise
            return await self.patch(name, body)

    def _selector(self, ro: Obj) -> str:
        return str(from_label_selector_object((ro.get("spec") or {}).get("selector")))

    async def owned(self, ro: Obj) -> tuple[list[Obj], list[Obj]]:
        """The ReplicaSets and pods the Rollout's selector matches."""
        sel = self._selector(ro)
        rses = await self.client.list(REPLICASETS, self.ns, label_selector=sel)
        pods = await self.client.list(PODS, self.ns, label_selector=sel)
        return rses["items"], pods["items"]


async def run(args: argparse.Namespace, s: Session) -> str:
    """Carry out one command; returns what to print."""
    name = ro_.rollout_name(args.name)
    ro = await s.rollout(name)
    if args.cmd == "get":
        if args.watch:
            await watch(s, ro)
            return ""
        return render(ro, *await s.owned(ro))
    if args.cmd == "promote":
        spec, status = ro_.promote(ro, args.full)
        if status is not None:
            await s.patch_status(name, status)
        if spec is not None:
            await s.patch(name, spec)
        return f"rollout '{name}' {'fully promoted' if args.full else 'promoted'}\n"
    if args.cmd in ("abort", "retry"):
        await s.patch_status(name, ro_.ABORT if args.cmd == "abort" else ro_.RETRY)
        return f"rollout '{name}' {'aborted' if args.cmd == 'abort' else 'retried'}\n"
    if args.cmd == "undo":
        patch = ro_.undo(ro, (await s.owned(ro))[0], args.to_revision)
        if patch is None:
            return f"skipped rollback (current template already matches revision {args.to_revision})\n"
        await s.patch(name, patch, patch_type="json")
        return f"rollout '{name}' undo\n"
    container, eq, image = args.image.partition("=")
    if not eq or not container or not image or "=" in image:
        raise PluginError(f'expected CONTAINER=IMAGE, got "{args.image}"')
    await s.patch(name, ro_.set_image(ro, container, image), patch_type="json")
    return f'rollout "{name}" image updated\n'


async def _events(s: Session, res: Any, **kw: Any) -> AsyncIterator[tuple[str, Obj]]:
    """A list then its watch, re-listed when the watch ends or its version expired."""
    while True:
        listing = await s.client.list(res, s.ns, **kw)
        yield "SYNC", {"items": listing["items"]}
        try:
            async for ev, obj in s.client.watch(res, s.ns, resource_version=listing["metadata"]["resourceVersion"],
                                                timeout_seconds=300, bookmarks=False, **kw):
                yield ev, obj
        except StatusError as e:
            if e.code != 410:
                raise


async def watch(s: Session, ro: Obj) -> None:
    """`get --watch`: redraw when anything shown changes (the Rollout, its ReplicaSets, their
    pods), in one write from the top of the screen, so nothing flickers."""
    name, sel = ro["metadata"]["name"], s._selector(ro)
    state: dict[str, dict[str, Obj]] = {"ro": {}, "rs": {}, "pod": {}}
    changed = asyncio.Event()

    async def follow(kind: str, res: Any, **kw: Any) -> None:
        async for ev, obj in _events(s, res, **kw):
            if ev == "SYNC":
                state[kind] = {o["metadata"]["uid"]: o for o in obj["items"]}
            elif ev == "DELETED":
                state[kind].pop(obj["metadata"]["uid"], None)
            elif ev in ("ADDED", "MODIFIED"):
                state[kind][obj["metadata"]["uid"]] = obj
            changed.set()

    tasks = [asyncio.create_task(follow("ro", ROLLOUTS, field_selector=f"metadata.name={name}")),
             asyncio.create_task(follow("rs", REPLICASETS, label_selector=sel)),
             asyncio.create_task(follow("pod", PODS, label_selector=sel))]
    tty, shown = sys.stdout.isatty(), ""
    try:
        while True:
            waiter = asyncio.create_task(changed.wait())
            done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for t in tasks:
                if t in done:
                    t.result()  # a failed watch: its error ends the command
            changed.clear()
            await asyncio.sleep(0.05)  # let a burst of events land in one frame
            if not state["ro"]:
                raise StatusError(404, "NotFound", f'{ROLLOUTS.plural}.{ro_.GROUP} "{name}" not found')
            text = render(next(iter(state["ro"].values())), list(state["rs"].values()), list(state["pod"].values()))
            if text != shown:
                _draw(text, tty, first=not shown)
                shown = text
    finally:
        for t in tasks:
            t.cancel()


def _draw(text: str, tty: bool, first: bool) -> None:
    if not tty:
        sys.stdout.write(("" if first else "\n") + text)
    else:  # home, each line then clear to its end, then clear below: no blank frame in between
        body = "".join(line + "\x1b[K\n" for line in text.rstrip("\n").split("\n"))
        sys.stdout.write(("\x1b[H\x1b[2J" if first else "\x1b[H") + body + "\x1b[J")
    sys.stdout.flush()


async def _main(args: argparse.Namespace) -> str:
    target = resolve(getattr(args, "kubeconfig", ""), getattr(args, "context", ""), getattr(args, "namespace", ""))
    client = Client(target.config)
    try:
        return await run(args, Session(client, target.namespace))
    finally:
        await client.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        out = asyncio.run(_main(args))
    except KeyboardInterrupt:
        return 0
    except StatusError as e:
        print(f"Error from server ({e.reason or 'Unknown'}): {e.message}", file=sys.stderr)
        return 1
    except PluginError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except (aiohttp.ClientError, OSError) as e:
        print(f"error: cannot reach the API server: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
