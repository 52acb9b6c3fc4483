"""How a `Client` reaches the API: the `Transport` protocol and its HTTP implementation.

Like httpx's transports: one call for a whole answer and one for a streamed answer (watches,
follow-mode logs). Both take and give the transport-neutral `api.wire` types, so the client's
logic is the same over HTTPS (agents, tools, tests), over the API server's root-only unix socket,
and in process (`apiserver/local.py`, which implements this protocol for the components inside
`kubeling up`). The identity travels with the transport: credentials here, a user in process.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from typing import Any, AsyncIterator, Protocol

import aiohttp
import orjson

from ..api.wire import Request, Response


@dataclass(frozen=True)
class ClientConfig:
    """Where the API is and who we are: an HTTPS URL with credentials, or the API server's root-only
    unix socket; an in-process client keeps only its user agent and the cluster CA here."""

    server: str = ""  # https://host:port
    unix_socket: str = ""
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    token: str = ""
    user_agent: str = "kubeling"

    @classmethod
    def from_kubeconfig(cls, path: str, user_agent: str = "kubeling") -> "ClientConfig":
        """Build a config from a kubeconfig file (current context), writing inline certs to temp files."""
        import yaml

        with open(path) as f:
            cfg = yaml.safe_load(f)
        return cls.from_kubeconfig_data(cfg, user_agent)

    @classmethod
    def from_kubeconfig_data(cls, cfg: dict[str, Any], user_agent: str = "kubeling") -> "ClientConfig":
        """The same from a parsed kubeconfig (its current context)."""
        import atexit
        import base64
        import tempfile

        ctx_name = cfg.get("current-context")
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])

        def materialize(data_key: str, file_key: str, src: dict[str, Any]) -> str:
            if src.get(file_key):
                return src[file_key]
            if src.get(data_key):
                fd, p = tempfile.mkstemp(prefix="kubeling-")
                with open(fd, "wb") as out:
                    out.write(base64.b64decode(src[data_key]))
                # ssl loads certificates and keys from files only: gone again when the process ends
                atexit.register(_remove_quietly, p)
                return p
            return ""

        return cls(server=cluster["server"],
                   ca_file=materialize("certificate-authority-data", "certificate-authority", cluster),
                   cert_file=materialize("client-certificate-data", "client-certificate", user),
                   key_file=materialize("client-key-data", "client-key", user),
                   token=user.get("token", ""), user_agent=user_agent)


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class Transport(Protocol):
    async def request(self, req: Request) -> Response:
        """The whole answer; an error status is a `Response` too (`Response.error()`)."""
        ...

    def stream(self, req: Request) -> AsyncIterator[list[bytes]]:
        """The answer's lines as they come, in lists (what arrived together: one line over HTTP,
        a batch of watch events in process); an error status raises its `StatusError`."""
        ...

    def as_user(self, name: str, groups: tuple[str, ...] = ()) -> "Transport":
        """This transport acting as another identity, where it can choose one (in process);
        a transport that is its credentials (HTTPS) returns itself."""
        ...

    async def close(self) -> None: ...


class HTTPTransport:
    """HTTPS to a server URL with the config's CA, client certificate or bearer token; or plain
    HTTP on a unix socket (the API server answers it as system:admin). One aiohttp session,
    opened on first use."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            c = self.config
            headers = {"User-Agent": c.user_agent, "Accept": "application/json"}
            if c.token:
                headers["Authorization"] = f"Bearer {c.token}"
            if c.unix_socket:
                connector: aiohttp.BaseConnector = aiohttp.UnixConnector(path=c.unix_socket, limit=0)
                base = "http://localhost"
            else:
                ctx = ssl.create_default_context(cafile=c.ca_file or None)
                if c.cert_file:
                    ctx.load_cert_chain(c.cert_file, c.key_file)
                connector = aiohttp.TCPConnector(ssl=ctx, limit=0)
                base = c.server
            self._session = aiohttp.ClientSession(base_url=base, connector=connector, headers=headers,
                                                  json_serialize=lambda o: orjson.dumps(o).decode())
        return self._session

    def as_user(self, name: str, groups: tuple[str, ...] = ()) -> "HTTPTransport":
        return self  # a remote client is its credentials

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def request(self, req: Request) -> Response:
        async with self.session().request(req.method, req.path, params=req.query or None, data=req.body,
                                          headers=req.headers) as r:
            return Response(r.status, await r.read(), r.content_type)

    async def stream(self, req: Request) -> AsyncIterator[list[bytes]]:
        async with self.session().request(req.method, req.path, params=req.query or None, data=req.body,
                                          headers=req.headers,
                                          timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as r:
            if r.status >= 400:
                raise Response(r.status, await r.read()).error()
            async for line in r.content:
                yield [line]
