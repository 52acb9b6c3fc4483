"""Controller manager: starts every controller as a named asyncio task over one API client."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Awaitable, Callable

from ..client.informer import SharedInformers
from ..client.rest import Client
from ..scheduler.scheduler import Scheduler
from .cronjob import CronJobController
from .daemonset import DaemonSetController
from .deployment.controller import DeploymentController
from .endpoints import EndpointsController
from .endpointslice import EndpointSliceController
from .garbagecollector import GarbageCollector
from .hpa.controller import HorizontalController
from .job import JobController, TTLAfterFinishedController
from .localpath import LocalPathProvisioner
from .namespace import NamespaceController
from .nodelifecycle import NodeInformers, NodeLifecycleController, settings_from_config
from .persistentvolume import PersistentVolumeController
from .podgc import PodGCController
from .replicaset import ReplicaSetController
from .rootca import RootCAPublisher
from .serviceaccount import ServiceAccountsController
from .servicelb import ServiceLBController
from .statefulset import StatefulSetController
from .taintmanager import TaintEvictionController
from .volumeprotection import VolumeProtectionController

log = logging.getLogger("kubeling.controllers")


def controllers(client: Client, cfg: Any = None) -> dict[str, Callable[[], Awaitable[None]]]:
    node_settings = settings_from_config(cfg)
    node_informers = NodeInformers(client)
    return {
        "node-lifecycle": NodeLifecycleController(client, node_settings, informers=node_informers).run,
        "taint-eviction-controller": TaintEvictionController(client, informers=node_informers).run,
        "pod-garbage-collector": PodGCController(client, node_settings, informers=node_informers).run,
        "job": JobController(client).run,
        "cronjob": CronJobController(client).run,
        "ttl-after-finished": TTLAfterFinishedController(client).run,
        "garbage-collector": GarbageCollector(client).run,
        "namespace": NamespaceController(client).run,
        "deployment": DeploymentController(client).run,
        "replicaset": ReplicaSetController(client).run,
        "daemonset": DaemonSetController(client).run,
        "statefulset": StatefulSetController(client).run,
        "persistentvolume-binder": PersistentVolumeController(client).run,
        "volume-protection": VolumeProtectionController(client).run,
        "local-path-provisioner": LocalPathProvisioner(client, os.path.join(getattr(cfg, "data_dir", None)
                                                                             or "/var/lib/kubeling", "storage")).run,
        "serviceaccount": ServiceAccountsController(client).run,
        "root-ca-cert-publisher": RootCAPublisher(client).run,
        "endpoint": EndpointsController(client).run,
        "endpointslice": EndpointSliceController(client).run,
        "service-lb": ServiceLBController(client, getattr(cfg, "lb_pool", "")).run,
        "scheduler": Scheduler(client).run,
        "horizontal-pod-autoscaler": HorizontalController(
            client, sync_period=getattr(cfg, "hpa_sync_period", 15.0),
            downscale_stabilization=getattr(cfg, "hpa_downscale_stabilization", 300.0)).run,
    }


async def run(client: Client, cfg: Any = None) -> None:
    """Run all controllers until cancelled; one crashing controller is restarted, not fatal."""

    async def supervise(name: str, start: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await start()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("controller %s crashed; restarting", name)
                await asyncio.sleep(1.0)

    try:
        try:
            runs = controllers(client, cfg)
        except Exception:
            log.exception("could not set up the controllers")
            raise
        await asyncio.gather(*(asyncio.create_task(supervise(n, s), name=f"controller-{n}") for n, s in runs.items()))
    finally:  # the controllers share informers (client/informer.py): their loops end with them
        await SharedInformers.of(client).shutdown()
