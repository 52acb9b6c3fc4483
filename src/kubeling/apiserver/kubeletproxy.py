"""pods/log, pods/exec, pods/attach and pods/portforward: check the request, find the pod's
node, and relay to that node's kubelet (upstream pkg/registry/core/pod/rest + strategy.go).

The user is already authenticated by the app middleware. The hop to the kubelet is HTTPS with a
client certificate from the cluster CA (CN `kube-apiserver`, k3s's `client-kube-apiserver.crt`),
verifying the kubelet's serving certificate against the same CA. The kubelet asks the API server
whether that user may use it (kubelet/auth.py): the ClusterRoleBinding
`kube-apiserver-kubelet-admin` gives it `system:kubelet-api-admin` (apiserver/addons.py), as k3s's
rolebindings.yaml does; it is no member of `system:masters`. The kubelet address is the Node's
`status.addresses` (InternalIP first) and `status.daemonEndpoints.kubeletEndpoint.Port`.

Why relay WebSocket messages one for one instead of translating (upstream translates kubectl's
WebSocket into SPDY towards the kubelet): the kubelet speaks the same protocols kubectl does
(channel v5/v4 for exec/attach, SPDY-in-WebSocket for port-forward), so the API server needs no
protocol code and there is one implementation of each protocol, in the kubelet. Errors that
upstream reports after the upgrade (the kubelet refusing the stream) are written the way the
upstream StreamTranslator writes them: a Status on the error channel.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import urllib.parse
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

from ..api import errors
from ..api.nodeaddress import kubelet_endpoint
from ..api.resources import lookup
from ..identity import KUBELET_CLIENT_USER
from ..streaming import channel
from .query import query_bool

log = logging.getLogger("kubeling.apiserver.kubeletproxy")

SPDY_TUNNEL = "SPDY/3.1+portforward.k8s.io"
PORT_FORWARD_PROTOCOLS = (SPDY_TUNNEL, channel.V4, channel.V4_BASE64)
ERROR_HEADER = "X-Kubelet-Error"
MAX_MESSAGE = 16 * 1024 * 1024


# ---- pure checks (upstream strategy.go) -------------------------------------------------------

def _container_names(pod: dict[str, Any]) -> list[str]:
    spec = pod.get("spec") or {}
    return [c.get("name", "") for key in ("initContainers", "containers", "ephemeralContainers")
            for c in spec.get(key) or []]


def validate_container(pod: dict[str, Any], container: str) -> str:
    """validateContainer: the named container must exist; none named means the only one."""
    name = pod["metadata"]["name"]
    if not container:
        containers = (pod.get("spec") or {}).get("containers") or []
        if len(containers) == 1:
            return containers[0]["name"]
        if not containers:
            raise errors.bad_request(f"a container name must be specified for pod {name}")
        raise errors.bad_request(f"a container name must be specified for pod {name}, "
                                 f"choose one of: [{' '.join(_container_names(pod))}]")
    if container not in _container_names(pod):
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    return container


def require_node(pod: dict[str, Any]) -> str:
    node = (pod.get("spec") or {}).get("nodeName") or ""
    if not node:
        raise errors.bad_request(f"pod {pod['metadata']['name']} does not have a host assigned")
    return node


def _parse_int(q: Any, name: str) -> int | None:
    raw = q.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.bad_request(f'strconv.ParseInt: parsing "{raw}": invalid syntax') from None


def log_params(pod_name: str, q: Any) -> dict[str, str]:
    """PodLogOptions from the query, validated (ValidatePodLogOptions), as kubelet parameters."""
    tail, limit, since_s = _parse_int(q, "tailLines"), _parse_int(q, "limitBytes"), _parse_int(q, "sinceSeconds")
    since_time = q.get("sinceTime") or ""
    causes = []
    if tail is not None and tail < 0:
        causes.append(errors.field_cause("FieldValueInvalid", "tailLines",
                                         f"tailLines: Invalid value: {tail}: must be greater than or equal to 0"))
    if limit is not None and limit < 1:
        causes.append(errors.field_cause("FieldValueInvalid", "limitBytes",
                                         f"limitBytes: Invalid value: {limit}: must be greater than 0"))
    if since_s is not None and since_time:
        causes.append(errors.field_cause("FieldValueForbidden", "",
                                         "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"))
    elif since_s is not None and since_s < 1:
        causes.append(errors.field_cause("FieldValueInvalid", "sinceSeconds",
                                         f"sinceSeconds: Invalid value: {since_s}: must be greater than 0"))
    if causes:
        raise errors.invalid("PodLogOptions", pod_name, "", causes)
    params: dict[str, str] = {}
    for flag in ("follow", "previous", "timestamps"):
        if query_bool(q, flag):
            params[flag] = "true"
    if since_s is not None:
        params["sinceSeconds"] = str(since_s)
    if since_time:
        params["sinceTime"] = since_time
    if tail is not None:
        params["tailLines"] = str(tail)
    if limit is not None:
        params["limitBytes"] = str(limit)
    return params


def stream_params(q: Any, sub: str) -> list[tuple[str, str]]:
    """streamParams: the API's stdin/stdout/stderr/tty/command as kubelet parameters."""
    out: list[tuple[str, str]] = []
    for api_name, kubelet_name in (("stdin", "input"), ("stdout", "output"), ("stderr", "error"), ("tty", "tty")):
        if query_bool(q, api_name):
            out.append((kubelet_name, "1"))
    if sub == "exec":
        out.extend(("command", c) for c in q.getall("command", []))
    return out


# ---- the kubelet client -------------------------------------------------------------------------

class KubeletClient:
    """TLS settings for talking to kubelets, created once per API server."""

    def __init__(self, ca_file: str, cert_file: str, key_file: str) -> None:
        self.ssl = ssl.create_default_context(cafile=ca_file)
        self.ssl.load_cert_chain(cert_file, key_file)

    @classmethod
    def for_pki(cls, pki: Any) -> "KubeletClient":
        from ..pki import ensure_client_cert

        cert = os.path.join(pki.dir, "client-kube-apiserver.crt")
        key = os.path.join(pki.dir, "client-kube-apiserver.key")
        ensure_client_cert(pki, cert, key, KUBELET_CLIENT_USER, days=365 * 5)
        return cls(pki.ca_cert, cert, key)

    def session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.ssl, force_close=True),
                                     timeout=aiohttp.ClientTimeout(total=None, connect=10))


def kubelet_client(api: Any, request: web.Request) -> KubeletClient:
    client = request.app.get("kubelet_client") if hasattr(request.app, "get") else None
    if client is not None:
        return client
    cached = api.__dict__.get("_kubelet_client")
    if cached is None:
        cached = KubeletClient.for_pki(request.app["pki"])
        api.__dict__["_kubelet_client"] = cached
    return cached


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _node_endpoint(api: Any, node_name: str) -> tuple[str, int]:
    nodes = lookup("", "v1", "nodes")
    assert nodes is not None
    return kubelet_endpoint(api.registry.get(nodes, None, node_name).obj())


def _handshake_error(e: aiohttp.WSServerHandshakeError) -> str:
    text = (e.headers or {}).get(ERROR_HEADER) if e.headers else None
    return urllib.parse.unquote(text) if text else f"{e.status} {e.message}"


# ---- entry point --------------------------------------------------------------------------------

async def handle(api: Any, request: web.Request, res: Any, namespace: str | None, name: str,
                 sub: str) -> web.StreamResponse:
    """Serve GET pods/{name}/log and GET/POST pods/{name}/{exec,attach,portforward}."""
    pod = api.registry.get(res, namespace, name).obj()
    if sub == "log":
        if request.method != "GET":
            raise errors.method_not_allowed()
        return await pod_log(api, request, pod)
    if sub in ("exec", "attach"):
        return await remote_command(api, request, pod, sub)
    if sub == "portforward":
        return await port_forward(api, request, pod)
    raise errors.method_not_allowed()


async def pod_log(api: Any, request: web.Request, pod: dict[str, Any]) -> web.StreamResponse:
    q = request.query
    meta = pod["metadata"]
    container = validate_container(pod, q.get("container", ""))
    params = log_params(meta["name"], q)
    node = (pod.get("spec") or {}).get("nodeName")
    if not node:  # upstream: an empty location streams nothing
        return web.Response(body=b"", content_type="text/plain")
    host, port = _node_endpoint(api, node)
    path = "/containerLogs/" + "/".join(urllib.parse.quote(p, safe="") for p in (meta["namespace"], meta["name"], container))
    url = f"https://{_host(host)}:{port}{path}"
    client = kubelet_client(api, request)
    async with client.session() as session:
        try:
            upstream = await session.get(url, params=params)
        except aiohttp.ClientError as e:
            raise errors.StatusError(500, "", f'Get "{url}": {e}') from None
        async with upstream:
            if not 200 <= upstream.status <= 206:
                raise _checked_error(upstream.status, (await upstream.content.read(64 * 1024)).decode(errors="replace"),
                                     meta["name"])
            resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            try:
                async for chunk in upstream.content.iter_any():
                    await resp.write(chunk)
                await resp.write_eof()
            except (ConnectionError, aiohttp.ClientError, asyncio.CancelledError):
                pass
            return resp


def _checked_error(code: int, body: str, name: str) -> errors.StatusError:
    """GenericHttpResponseChecker: the kubelet's plain-text error as an API Status."""
    if code == 400:
        return errors.bad_request(body)
    if code == 500:
        return errors.StatusError(500, "InternalError", f"Internal error occurred: {body}",
                                  {"causes": [{"message": body}]})
    reason = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 422: "Invalid"}.get(code, "")
    return errors.StatusError(code, reason, body, {"name": name, "kind": "pods/log"})


async def remote_command(api: Any, request: web.Request, pod: dict[str, Any], sub: str) -> web.StreamResponse:
    q = request.query
    meta = pod["metadata"]
    container = validate_container(pod, q.get("container", ""))
    host, port = _node_endpoint(api, require_node(pod))
    path = f"/{sub}/" + "/".join(urllib.parse.quote(p, safe="") for p in (meta["namespace"], meta["name"], container))
    url = f"https://{_host(host)}:{port}{path}?{urllib.parse.urlencode(stream_params(q, sub))}"
    ws = web.WebSocketResponse(protocols=channel.SUPPORTED, max_msg_size=MAX_MESSAGE, autoping=True)
    if not ws.can_prepare(request).ok:
        raise errors.bad_request("Upgrade request required: use a WebSocket with subprotocol v5.channel.k8s.io")
    client = kubelet_client(api, request)
    await ws.prepare(request)
    proto = channel.PROTOCOLS.get(ws.ws_protocol or "", channel.PROTOCOLS[channel.V1])
    async with client.session() as session:
        try:
            backend = await session.ws_connect(url, protocols=[proto.name] if ws.ws_protocol else [],
                                               max_msg_size=MAX_MESSAGE, autoping=True, autoclose=True)
        except aiohttp.WSServerHandshakeError as e:
            await _write_error(ws, proto, f"unable to upgrade connection: {_handshake_error(e)}")
            return ws
        except (aiohttp.ClientError, OSError) as e:
            await _write_error(ws, proto, f"error dialing backend: {e}")
            return ws
        await relay(ws, backend)
    return ws


async def _write_error(ws: web.WebSocketResponse, proto: channel.Protocol, message: str) -> None:
    payload = channel.error_payload(proto, channel.internal_error_status(message))
    try:
        if payload is not None:
            msg = channel.encode(proto, channel.ERROR, payload)
            await (ws.send_str(msg) if isinstance(msg, str) else ws.send_bytes(msg))
    finally:
        await ws.close()


async def port_forward(api: Any, request: web.Request, pod: dict[str, Any]) -> web.StreamResponse:
    """The kubelet is dialled before the client's upgrade is answered, so a refusal reaches
    kubectl as an HTTP error, as upstream's upgrade-aware proxy passes it through."""
    meta = pod["metadata"]
    host, port = _node_endpoint(api, require_node(pod))
    path = "/portForward/" + "/".join(urllib.parse.quote(p, safe="") for p in (meta["namespace"], meta["name"]))
    url = f"https://{_host(host)}:{port}{path}"
    ws = web.WebSocketResponse(protocols=PORT_FORWARD_PROTOCOLS, max_msg_size=MAX_MESSAGE, autoping=True)
    ready = ws.can_prepare(request)
    if not ready.ok:
        raise errors.bad_request(f"Upgrade request required: use a WebSocket with subprotocol {SPDY_TUNNEL}")
    protocol = ready.protocol or channel.V4  # no subprotocol: upstream's websocket port-forward default
    if protocol != SPDY_TUNNEL:  # the WebSocket protocol: PodPortForwardOptions.ports -> the kubelet's port
        ports = [p for v in request.query.getall("ports", []) for p in v.split(",") if p]
        for p in ports:
            _port_number(p)
        url += "?" + urllib.parse.urlencode({"port": ",".join(ports)}) if ports else ""
    client = kubelet_client(api, request)
    async with client.session() as session:
        try:
            backend = await session.ws_connect(url, protocols=[protocol], max_msg_size=MAX_MESSAGE,
                                               autoping=True, autoclose=True)
        except aiohttp.WSServerHandshakeError as e:
            raise errors.StatusError(e.status if e.status >= 400 else 500, "",
                                     f"unable to upgrade connection: {_handshake_error(e)}") from None
        except (aiohttp.ClientError, OSError) as e:
            raise errors.StatusError(500, "", f"error dialing backend: {e}") from None
        await ws.prepare(request)
        await relay(ws, backend)
    return ws


def _port_number(raw: str) -> int:
    try:
        n = int(raw)
        if 0 <= n < 65536:
            return n
    except ValueError:
        pass
    raise errors.bad_request(f'strconv.ParseInt: parsing "{raw}": invalid syntax')


async def relay(client: web.WebSocketResponse, backend: aiohttp.ClientWebSocketResponse) -> None:
    """Copy messages both ways until either side closes, then close the other with its code."""

    async def pipe(src: Any, dst: Any) -> None:
        async for msg in src:
            if msg.type == WSMsgType.BINARY:
                await dst.send_bytes(msg.data)
            elif msg.type == WSMsgType.TEXT:
                await dst.send_str(msg.data)

    up = asyncio.create_task(pipe(client, backend), name="stream-relay-up")
    down = asyncio.create_task(pipe(backend, client), name="stream-relay-down")
    try:
        done, _ = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        if down in done:
            code = backend.close_code or 1000
            if not client.closed:
                await client.close(code=code if code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1011) else 1000)
        else:
            code = client.close_code or 1000
            if not backend.closed:
                await backend.close(code=code if code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1011) else 1000)
        await asyncio.wait({up, down}, timeout=5)
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        for t in (up, down):
            t.cancel()
        await asyncio.gather(up, down, return_exceptions=True)
        if not backend.closed:
            await backend.close()
        if not client.closed:
            await client.close()
