"""`kubeling up`: the whole cluster in one process, and the only place it is wired together.

It opens the store, starts the API server (admission chain, authorizers, bootstrap objects and
RBAC policy, CRDs), then, once the API answers, this machine's node (kubelet/agent.py), the
controller manager, the scheduler, the metrics server and the `kubernetes` Service
controller; they all reach the API through in-process clients. `kubeling down` (down.py) undoes
what the node left on the host."""

from __future__ import annotations

import asyncio
import gc
import os
import logging
import signal
import ssl
import sys
import time
from typing import Callable

from . import KUBE_VERSION, addons, datadir
from .api import errors
from .api.resources import lookup
from .apiserver.addons import bootstrap as bootstrap_addons
from .apiserver.admission import Chain
from .apiserver.plugins import default_chain
from .apiserver.auth import policy as rbac_policy
from .apiserver.auth.escalation import RBACEscalationCheck
from .apiserver.auth.node import NodeAuthorizer, NodeRestriction
from .apiserver.auth.rbac import Authorizer, RBACAuthorizer
from .identity import AUTHENTICATED, MASTERS, User
from .apiserver.app import build_app, serve
from .pki import ensure_pki, write_kubeconfig
from .apiserver.registry import Registry, WriteOptions
from .client.informer import SharedInformers
from .apiserver.local import LocalTransport
from .client.rest import Client, ClientConfig
from .client.transport import HTTPTransport
from .config import Config
from .store.sqlite import SQLiteStore

log = logging.getLogger("kubeling")

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
# upstream's loopback client of kube-apiserver (the `kubernetes` Service's bootstrap controller)
LOOPBACK_USER = User("system:apiserver", (MASTERS, AUTHENTICATED))


async def bootstrap(registry: Registry) -> None:
    """Objects every cluster has from the start (the apiserver's own bootstrap controllers)."""
    namespaces = lookup("", "v1", "namespaces")
    assert namespaces is not None
    opts = WriteOptions(field_manager="kube-apiserver")
    for ns in SYSTEM_NAMESPACES:
        if registry.store.get(namespaces.key(None, ns)) is None:
            try:
                await registry.create(namespaces, None, {"metadata": {"name": ns}}, opts)
            except errors.StatusError as e:
                if e.code != 409:
                    raise


async def run(cfg: Config, stop: asyncio.Event, on_ready: "Callable[[], None] | None" = None) -> None:
    t0 = time.monotonic()
    datadir.secure(cfg.data_dir, cfg.server_dir, cfg.db_path)
    if cfg.proxy_mode and cfg.real_node_address:  # a mode that can't run here fails before "ready"
        from .proxy import check_mode

        check_mode(cfg.proxy_mode)
    # pods reach the API server on the node's address (the kubernetes Service's endpoint)
    node_addr = "" if cfg.bind in ("0.0.0.0", "::") else cfg.real_node_address
    pki = ensure_pki(cfg.data_dir, cfg.bind, cfg.first_service_ip,
                     [a for a in (cfg.advertise, node_addr) if a])
    transformer = None
    if cfg.encryption_provider_config:
        from .store.encryption import Transformer

        transformer = Transformer.load(cfg.encryption_provider_config)
    store = SQLiteStore(cfg.db_path, transformer=transformer)
    modes = cfg.authorization_modes
    authz = Authorizer(RBACAuthorizer(store) if "RBAC" in modes else None,
                       NodeAuthorizer(store) if "Node" in modes else None)
    admission = default_chain(cfg.service_cidr, cfg.node_port_range)
    admission.policies.authz = authz  # the `authorizer` of ValidatingAdmissionPolicy expressions
    registry = Registry(store, admission=Chain([*admission.plugins, NodeRestriction(), RBACEscalationCheck(authz)],
                                               webhooks=admission.webhooks, policies=admission.policies))
    await bootstrap(registry)
    from .apiserver.apiservices import register as register_apiservices

    await register_apiservices(registry, registry.now())
    await rbac_policy.bootstrap(registry)
    await bootstrap_addons(registry)
    auditor = None
    if cfg.audit_policy_file:
        from .apiserver.audit import Auditor

        auditor = Auditor.open(cfg.audit_policy_file, cfg.audit_log_path or os.path.join(cfg.server_dir, "audit.log"))
    app = build_app(registry, pki, f"{cfg.advertise or cfg.bind}:{cfg.port}", authz=authz, auditor=auditor,
                    request_timeout=cfg.request_timeout)
    from .apiserver.crds import CRDServer, ensure_builtin
    from .api import rollout

    crd_server = app["api"].crds = CRDServer(registry)
    await ensure_builtin(registry, rollout.definition())  # the built-in Rollout kind
    await crd_server.sync()  # the stored CRDs are served from the first request
    runner = await serve(app, cfg.bind, cfg.port, pki, cfg.socket_path, also=(node_addr,) if node_addr else ())
    write_kubeconfig(cfg.kubeconfig_path, pki, cfg.server_url)
    log.info("API server listening on %s (%.0f ms)", cfg.server_url, (time.monotonic() - t0) * 1000)
    print(f"kubeling is ready; export KUBECONFIG={cfg.kubeconfig_path}", flush=True)
    # the rest loads after the API answers: the controllers and the node only need the API
    from .controllers import manager as controller_manager
    from .controllers.manager import supervise
    from .scheduler.scheduler import Scheduler
    from .controllers.kubernetesservice import KubernetesServiceController
    from .client.tokensource import ServiceAccountToken
    from .kubelet import agent as kubelet_agent
    from .metrics.server import MetricsServer

    # in process, each client as its own user; what needs a connection (logs, exec) goes over
    # the root-only unix socket, one session shared by all
    fallback = HTTPTransport(ClientConfig(unix_socket=cfg.socket_path))

    def local(user: User) -> LocalTransport:
        return LocalTransport(app["api"], user, fallback)

    # ca_file is the cluster CA the root-CA publisher hands to pods
    client = Client(ClientConfig(ca_file=pki.ca_cert, user_agent="kube-apiserver/" + KUBE_VERSION),
                    transport=local(LOOPBACK_USER))  # the API server's own loops
    # the controllers' informers read as system:kube-controller-manager; each controller acts as its own account
    kcm = Client(ClientConfig(ca_file=pki.ca_cert, user_agent="kube-controller-manager/" + KUBE_VERSION),
                 transport=local(User("system:kube-controller-manager", (AUTHENTICATED,))))
    # the node's components each derive their own identity from it (kubelet/identities.py); its
    # own (anonymous) identity is never meant to make a request
    node_client = Client(ClientConfig(user_agent="kubelet/" + KUBE_VERSION),
                         transport=local(User("system:anonymous", ("system:unauthenticated",))))
    scheduler = kcm.as_user("system:kube-scheduler")  # sharing the controllers' informers, as before
    metrics_client = client.as_service_account("kube-system", addons.METRICS_SERVER, own_informers=True)
    tasks: list[asyncio.Task] = []
    try:
        # the node first: a node that cannot start (e.g. its bridge belongs to another cluster)
        # ends `kubeling up` with its error before any controller runs
        runners = kubelet_agent.node_runners(cfg, node_client)
        tasks.append(asyncio.create_task(crd_server.run(), name="crd-server"))
        tasks.append(asyncio.create_task(controller_manager.run(kcm, cfg), name="controller-manager"))
        tasks.append(asyncio.create_task(supervise("scheduler", Scheduler(scheduler).run), name="scheduler"))
        tasks.append(asyncio.create_task(rbac_policy.run_aggregation(registry), name="clusterrole-aggregation"))
        # metrics-server's own account's token (its pod would have it mounted), from the
        # TokenRequest API as kube-controller-manager's client builder mints its controllers'
        # tokens; TLS only verifies the kubelets, it presents no certificate
        metrics = MetricsServer(metrics_client, resolution=cfg.metric_resolution,
                                kubelet_ssl=ssl.create_default_context(cafile=pki.ca_cert),
                                token=ServiceAccountToken(kcm, "kube-system", addons.METRICS_SERVER).get)
        app["api"].metrics = metrics  # answers metrics.k8s.io
        tasks.append(asyncio.create_task(metrics.run(), name="metrics-server"))
        kube_svc = KubernetesServiceController(client, cfg.advertise or node_addr or cfg.bind, cfg.port,
                                               cfg.first_service_ip)
        tasks.append(asyncio.create_task(kube_svc.run(), name="kubernetes-service"))
        for name, coro in runners:
            tasks.append(asyncio.create_task(coro, name=name))
        if on_ready:
            on_ready()
        await stop.wait()
    finally:
        log.info("shutting down")
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # the metrics server's informers; the node stops its components' own and the controller
        # manager its (system:kube-controller-manager's) when they end
        await SharedInformers.of(metrics_client).shutdown()
        await fallback.close()  # the in-process clients' one connection
        await runner.cleanup()
        store.close()


def tune_gc() -> None:
    """Collect garbage cycles in large, rare batches.

    The process holds every API object several times over (store, informer caches, kubelets):
    at 10,000 pods that is millions of tracked dicts and lists, and CPython's default thresholds
    (700, 10, 10) then spend a sixth of the CPU in the cyclic collector, with full collections
    stopping the event loop for ~0.5 s each (measured by bench/scale.py). API objects are plain
    JSON values — no cycles — and refcounting frees them, so scanning them buys nothing. Objects
    alive after start-up (modules, schemas) are frozen out of collection for good.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def up(cfg: Config) -> int:
    tune_gc()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run(cfg, stop)

    try:
        asyncio.run(main())
    except Exception as e:
        from .kubelet.agent import NodeSetupError  # loaded after "ready", like the rest of the node
        from .proxy import ProxyError

        from .apiserver.audit import AuditPolicyError
        from .store.encryption import EncryptionConfigError

        if not isinstance(e, (NodeSetupError, ProxyError, OSError, EncryptionConfigError, AuditPolicyError)):
            raise
        print(f"kubeling: {e}", file=sys.stderr)
        return 1
    return 0
