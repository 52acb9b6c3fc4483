"""client/controller.py against a real `kubeling up`: one object a controller can never process
does not stop it (issue 7 §4). The real runner, a real informer over HTTPS and the real queue;
only the rate limiter is configured without delays (the default caps at 1000 s), so the bad key
is retried as fast as the event loop turns — the hardest case for the other keys — and 10,000
retries take about a second."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from kubeling.api.resources import lookup
from kubeling.client.controller import Controller
from kubeling.client.informer import Informer, object_key, split_key
from kubeling.client.rest import Client, ClientConfig
from kubeling.client.workqueue import BucketRateLimiter, ItemExponentialFailureRateLimiter, MaxOfRateLimiter

from .conftest import Cluster

CONFIGMAPS = lookup("", "v1", "configmaps")
assert CONFIGMAPS is not None
RETRIES = 10_000


class Doubler(Controller):
    """Writes `data.double` = 2 × `data.n` into every ConfigMap of one namespace; a ConfigMap
    whose `n` is not a number can never be processed."""

    def __init__(self, client: Client, namespace: str) -> None:
        super().__init__("doubler")
        self.client = client
        self.bad_tries = 0
        self.cms = self.watch(Informer(client, CONFIGMAPS, namespace), on_add=self._enqueue,
                              on_update=lambda old, new: self._enqueue(new))
        # the default limiter's shape, with no delay: retries go straight back into the queue
        self.queue = self.add_queue("doubler", self.reconcile, workers=2, rate_limiter=MaxOfRateLimiter(
            ItemExponentialFailureRateLimiter(0.0, 0.0), BucketRateLimiter(qps=1e9, burst=1_000_000)))

    def _enqueue(self, cm: dict[str, Any]) -> None:
        self.queue.add(object_key(cm))

    async def reconcile(self, key: str) -> None:
        ns, name = split_key(key)
        cm = self.cms.get(ns, name)
        if cm is None or "n" not in (cm.get("data") or {}):
            return
        try:
            double = str(2 * int(cm["data"]["n"]))
        except ValueError:
            self.bad_tries += 1
            raise
        if cm["data"].get("double") != double:
            await self.client.patch(CONFIGMAPS, ns, name, {"data": {"double": double}}, patch_type="merge")


def test_an_object_failing_10000_times_does_not_stop_the_controller(
        cluster: Cluster, ns: str, caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        client = Client(ClientConfig.from_kubeconfig(cluster.kubeconfig))
        ctrl = Doubler(client, ns)
        runner = asyncio.create_task(ctrl.run())
        try:
            await client.create(CONFIGMAPS, ns, {"metadata": {"name": "bad"}, "data": {"n": "not a number"}})
            good = 0
            while ctrl.bad_tries < RETRIES:  # keep serving other keys while "bad" fails over and over
                name = f"good-{good}"
                await client.create(CONFIGMAPS, ns, {"metadata": {"name": name}, "data": {"n": str(good)}})
                for _ in range(1000):
                    cm = await client.get(CONFIGMAPS, ns, name)
                    if cm["data"].get("double") == str(2 * good):
                        break
                    await asyncio.sleep(0.01)
                else:
                    raise AssertionError(f"{name} was never reconciled (bad failed {ctrl.bad_tries} times)")
                good += 1
                assert not runner.done()
            assert good >= 1
            # ...and it still serves after 10,000 failures: the runner and its workers are alive
            await client.create(CONFIGMAPS, ns, {"metadata": {"name": "after"}, "data": {"n": "21"}})
            for _ in range(1000):
                if (await client.get(CONFIGMAPS, ns, "after"))["data"].get("double") == "42":
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the controller stopped serving after 10,000 failures")
            assert not runner.done()
            assert ctrl.queue.num_requeues(f"{ns}/bad") >= RETRIES
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            await client.close()

    with caplog.at_level(logging.INFO, logger="kubeling.doubler"):
        asyncio.run(asyncio.wait_for(main(), 120))
    lines = [r for r in caplog.records if r.name == "kubeling.doubler"]
    assert 1 <= len(lines) <= 20, len(lines)  # 1st, 2nd, 4th, ... 8192nd failure: 14 lines, not 10,000
    assert lines[0].exc_info is not None and "ValueError" in lines[-1].getMessage()
