"""Controller manager: starts every controller as a named asyncio task over one API client."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Awaitable, Callable

from ..client.informer import SharedInformers
from ..client.rest import Client
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
from .resourcequota import ResourceQuotaController
from .rollout.controller import RolloutController
from .rootca import RootCAPublisher
from .serviceaccount import ServiceAccountsController
from .servicelb import ServiceLBController
from .statefulset import StatefulSetController
from .taintmanager import TaintEvictionController
from .volumeprotection import VolumeProtectionController

log = logging.getLogger("kubeling.controllers")


def controllers(client: Client, cfg: Any = None) -> dict[str, Callable[[], Awaitable[None]]]:
    """Each controller authenticates as its own kube-system ServiceAccount (upstream's
    --use-service-account-credentials), bound to its system:controller:<name> role; the
    local-path provisioner is its add-on's account. None runs in system:masters. Informers read
    as `client` (system:kube-controller-manager). The scheduler is started by up.py."""
    def sa(name: str) -> Client:
        return client.as_service_account("kube-system", name)

    node_settings = settings_from_config(cfg)
    node_informers = NodeInformers(client)
    node_controller = sa("node-controller")  # upstream's taint eviction runs as node-controller too
    return {
        "node-lifecycle": NodeLifecycleController(node_controller, node_settings, informers=node_informers).run,
        "taint-eviction-controller": TaintEvictionController(node_controller, informers=node_informers).run,
        "pod-garbage-collector": PodGCController(sa("pod-garbage-collector"), node_settings,
                                                 informers=node_informers).run,
        "job": JobController(sa("job-controller")).run,
        "cronjob": CronJobController(sa("cronjob-controller")).run,
        "ttl-after-finished": TTLAfterFinishedController(sa("ttl-after-finished-controller")).run,
        "garbage-collector": GarbageCollector(sa("generic-garbage-collector")).run,
        "namespace": NamespaceController(sa("namespace-controller")).run,
        "deployment": DeploymentController(sa("deployment-controller")).run,
        "replicaset": ReplicaSetController(sa("replicaset-controller")).run,
        "rollout": RolloutController(sa("rollout-controller")).run,
        "daemonset": DaemonSetController(sa("daemon-set-controller")).run,
        "statefulset": StatefulSetController(sa("statefulset-controller")).run,
        "persistentvolume-binder": PersistentVolumeController(sa("persistent-volume-binder")).run,
        "volume-protection": VolumeProtectionController(sa("pvc-protection-controller"),
                                                        sa("pv-protection-controller")).run,
        # k3s's add-on, with its own account and role (kubeling/addons.py); its informers are shared
        "local-path-provisioner": LocalPathProvisioner(sa(LocalPathProvisioner.SERVICE_ACCOUNT), os.path.join(
            getattr(cfg, "data_dir", None) or "/var/lib/kubeling", "storage")).run,
        "service-lb": ServiceLBController(sa("service-controller"), getattr(cfg, "lb_pool", "")).run,
        "serviceaccount": ServiceAccountsController(sa("service-account-controller")).run,
        "root-ca-cert-publisher": RootCAPublisher(sa("root-ca-cert-publisher")).run,
        "endpoint": EndpointsController(sa("endpoint-controller")).run,
        "endpointslice": EndpointSliceController(sa("endpointslice-controller")).run,
        "resourcequota": ResourceQuotaController(sa("resourcequota-controller")).run,
        "horizontal-pod-autoscaler": HorizontalController(
            sa("horizontal-pod-autoscaler"), sync_period=getattr(cfg, "hpa_sync_period", 15.0),
            downscale_stabilization=getattr(cfg, "hpa_downscale_stabilization", 300.0)).run,
    }


async def supervise(name: str, start: Callable[[], Awaitable[None]]) -> None:
    """Run one controller (or the scheduler) until it returns; a crash restarts it, not fatal."""
    while True:
        try:
            await start()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("controller %s crashed; restarting", name)
            await asyncio.sleep(1.0)


async def run(client: Client, cfg: Any = None) -> None:
    """Run all controllers until cancelled; one crashing controller is restarted, not fatal."""
    try:
        try:
            runs = controllers(client, cfg)
        except Exception:
            log.exception("could not set up the controllers")
            raise
        await asyncio.gather(*(asyncio.create_task(supervise(n, s), name=f"controller-{n}") for n, s in runs.items()))
    finally:  # the controllers share informers (client/informer.py): their loops end with them
        await SharedInformers.of(client).shutdown()
