"""OCI distribution client (asyncio, aiohttp): pull into an ImageStore, push from it.

Pull: GET the manifest by tag or digest (Accept: OCI index/manifest, Docker list/v2),
pick linux/amd64 from an index, then fetch the config and the missing layers in
parallel, streaming each into the store while checking its sha256 and size; finally
unpack the layers (in a thread) so the image is ready to mount.

Auth: a 401 with `WWW-Authenticate: Bearer realm=…,service=…,scope=…` fetches a token
from the realm (with basic credentials when configured) and retries; `Basic` sends the
credentials. Tokens are cached per endpoint and scope.

Errors carry the CRI status code a containerd-based kubelet would see, and messages in
containerd's words, so `kubectl describe` reads like upstream:
`failed to pull and unpack image "docker.io/library/nginx:1.161": failed to resolve
reference "docker.io/library/nginx:1.161": docker.io/library/nginx:1.161: not found`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import aiohttp

from . import media
from .reference import Reference, ReferenceError, normalize
from .registries import Auth, Endpoint, RegistryConfig, apply_rewrites
from .store import ImageRecord, ImageStore, StoreError, sha256_digest

log = logging.getLogger("kubeling.kubelet.images")

PARALLEL_LAYERS = 4


class RegistryError(Exception):
    """A pull or push failed; `code` is the gRPC code name CRI would report."""

    code = "Unknown"

    def cri_message(self) -> str:
        """What the kubelet shows: `rpc error: code = NotFound desc = failed to pull …`."""
        return f"rpc error: code = {self.code} desc = {self}"


class NotFoundError(RegistryError):
    code = "NotFound"


class UnauthorizedError(RegistryError):
    pass


class UnavailableError(RegistryError):
    pass


class DigestMismatchError(RegistryError):
    pass


class InvalidReferenceError(RegistryError):
    code = "InvalidArgument"


class _NotFoundHere(Exception):
    """404 from one endpoint: try the next one."""


@dataclass
class Resolved:
    endpoint: Endpoint
    repo: str
    digest: str
    media_type: str
    body: bytes


def _parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    params = {k.lower(): (v1 if v1 or not v2 else v2)
              for k, v1, v2 in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', rest)}
    return scheme.lower(), params


def _registry_message(body: bytes) -> str:
    """`CODE: message` from a distribution error body, if any."""
    try:
        errs = json.loads(body).get("errors") or []
    except (ValueError, AttributeError):
        return ""
    return "; ".join(f"{str(e.get('code', '')).lower()}: {e.get('message', '')}" for e in errs)


class RegistryClient:
    """One per node; reuses connections and tokens across pulls."""

    def __init__(self, config: RegistryConfig | None = None, session: aiohttp.ClientSession | None = None) -> None:
        self.config = config or RegistryConfig()
        self._session = session
        self._own_session = session is None
        self._tokens: dict[tuple[str, str], str] = {}

    async def __aenter__(self) -> "RegistryClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None and self._own_session:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10,
                                                                                sock_read=60))
        return self._session

    # ---- HTTP with auth ----
    def _ssl(self, ep: Endpoint) -> ssl.SSLContext | bool | None:
        if ep.plain_http:
            return None
        if ep.tls.insecure_skip_verify:
            return False
        if ep.tls.ca_file or ep.tls.cert_file:
            ctx = ssl.create_default_context(cafile=ep.tls.ca_file or None)
            if ep.tls.cert_file:
                ctx.load_cert_chain(ep.tls.cert_file, ep.tls.key_file or None)
            return ctx
        return None

    async def _request(self, method: str, ep: Endpoint, url: str, scope: str, auth: Auth | None,
                       headers: dict[str, str] | None = None, data: bytes | None = None
                       ) -> tuple[int, dict[str, str], bytes]:
        """Send once; on a 401 challenge authenticate and send again. Returns status, headers, body."""
        auth = auth if auth else ep.auth
        hdrs = dict(headers or {})
        token = self._tokens.get((ep.url, scope))
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        elif auth.token:
            hdrs["Authorization"] = f"Bearer {auth.token}"
        for attempt in range(2):
            status, rh, body = await self._send(method, ep, url, hdrs, data)
            if status != 401 or attempt == 1:
                return status, rh, body
            challenge = rh.get("WWW-Authenticate", "")
            scheme, params = _parse_challenge(challenge)
            if scheme == "bearer":
                token = await self._fetch_token(ep, params, scope, auth)
                self._tokens[(ep.url, scope)] = token
                hdrs["Authorization"] = f"Bearer {token}"
            elif scheme == "basic" and auth.username:
                cred = base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()
                hdrs["Authorization"] = f"Basic {cred}"
            else:
                return status, rh, body
        raise AssertionError("unreachable")

    async def _send(self, method: str, ep: Endpoint, url: str, headers: dict[str, str], data: bytes | None
                    ) -> tuple[int, dict[str, str], bytes]:
        try:
            async with self.session.request(method, url, headers=headers, data=data, ssl=self._ssl(ep),
                                            allow_redirects=True) as resp:
                body = await resp.read()
                return resp.status, dict(resp.headers), body
        except aiohttp.ClientConnectorError as e:
            raise UnavailableError(f'failed to do request: {method.title()} "{url}": dial tcp {e.host}:{e.port}: '
                                   f"connect: {_os_reason(e)}") from None
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            raise UnavailableError(f'failed to do request: {method.title()} "{url}": {e or type(e).__name__}') \
                from None

    async def _fetch_token(self, ep: Endpoint, params: dict[str, str], scope: str, auth: Auth) -> str:
        realm = params.get("realm", "")
        if not realm:
            raise UnauthorizedError("failed to authorize: bearer challenge without realm")
        query = {k: v for k, v in (("service", params.get("service", "")), ("scope", scope)) if v}
        headers = {}
        if auth.username:
            cred = base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()
            headers["Authorization"] = f"Basic {cred}"
        url = realm + ("&" if "?" in realm else "?") + urlencode(query)
        status, _, body = await self._send("GET", ep, url, headers, None)
        kind = "token" if auth.username else "anonymous token"
        if status != 200:
            raise UnauthorizedError(f"failed to authorize: failed to fetch {kind}: unexpected status from GET request "
                                    f"to {url}: {status} {_reason(status)}")
        doc = json.loads(body)
        token = doc.get("token") or doc.get("access_token")
        if not token:
            raise UnauthorizedError(f"failed to authorize: token endpoint {realm} returned no token")
        return str(token)

    # ---- pull ----
    async def resolve(self, ref: Reference, auth: Auth | None = None) -> Resolved:
        """Find the manifest (or index) `ref` names on the first endpoint that has it."""
        first_err: RegistryError | None = None
        for ep in self.config.endpoints(ref.domain):
            repo = apply_rewrites(ref.path, ep.rewrites)
            url = f"{ep.url}/{repo}/manifests/{ref.object}"
            try:
                status, headers, body = await self._request("GET", ep, url, f"repository:{repo}:pull", auth,
                                                            {"Accept": media.ACCEPT})
                if status == 404:
                    raise _NotFoundHere()
                if status in (401, 403):
                    msg = _registry_message(body)
                    raise UnauthorizedError("pull access denied, repository does not exist or may require "
                                            "authorization" + (f": server message: {msg}" if msg else ""))
                if status != 200:
                    raise RegistryError(f'unexpected status from GET request to {url}: {status} {_reason(status)}'
                                        + (f": {_registry_message(body)}" if _registry_message(body) else ""))
            except _NotFoundHere:
                continue
            except RegistryError as e:
                log.info("resolve %s on %s: %s", ref, ep.url, e)
                first_err = first_err or e
                continue
            digest = sha256_digest(body)
            want = ref.digest or headers.get("Docker-Content-Digest", "")
            if want and want != digest:
                raise DigestMismatchError(f"manifest {ref}: digest mismatch: expected {want}, got {digest}")
            mt = headers.get("Content-Type", "").split(";")[0].strip()
            doc = json.loads(body)
            if mt not in media.INDEX_TYPES + media.MANIFEST_TYPES:
                mt = doc.get("mediaType") or media.guess(doc)
            return Resolved(ep, repo, digest, mt, body)
        if first_err is not None:
            raise type(first_err)(f'failed to resolve reference "{ref}": {first_err}')
        raise NotFoundError(f'failed to resolve reference "{ref}": {ref}: not found')

    async def _fetch_manifest(self, r: Resolved, digest: str, auth: Auth | None) -> bytes:
        url = f"{r.endpoint.url}/{r.repo}/manifests/{digest}"
        status, _, body = await self._request("GET", r.endpoint, url, f"repository:{r.repo}:pull", auth,
                                              {"Accept": media.ACCEPT})
        if status == 404:
            raise NotFoundError(f"{r.repo}@{digest}: not found")
        if status != 200:
            raise RegistryError(f"unexpected status from GET request to {url}: {status} {_reason(status)}")
        if sha256_digest(body) != digest:
            raise DigestMismatchError(f"manifest {digest}: digest mismatch, got {sha256_digest(body)}")
        return body

    async def _fetch_blob(self, r: Resolved, desc: dict[str, Any], store: ImageStore, auth: Auth | None) -> None:
        digest, size = desc["digest"], desc.get("size")
        if store.has_blob(digest):
            return
        ep = r.endpoint
        url = f"{ep.url}/{r.repo}/blobs/{digest}"
        scope = f"repository:{r.repo}:pull"
        headers = {}
        token = self._tokens.get((ep.url, scope))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif (auth or ep.auth).username:
            a = auth or ep.auth
            headers["Authorization"] = "Basic " + base64.b64encode(f"{a.username}:{a.password}".encode()).decode()
        try:
            async with self.session.get(url, headers=headers, ssl=self._ssl(ep)) as resp:
                if resp.status == 401:  # token expired or not yet fetched: go through the challenge path
                    status, _, body = await self._request("GET", ep, url, scope, auth)
                    if status != 200:
                        raise UnauthorizedError(f"failed to fetch blob {digest}: {status} {_reason(status)}")
                    store.put_blob(body, digest)
                    return
                if resp.status == 404:
                    raise NotFoundError(f"failed to copy: httpReadSeeker: failed open: content at {url} not found: "
                                        "not found")
                if resp.status != 200:
                    raise RegistryError(f"failed to fetch blob {digest}: {resp.status} {_reason(resp.status)}")
                w = store.writer(digest, size)
                try:
                    async for chunk in resp.content.iter_chunked(1 << 20):
                        w.write(chunk)
                except BaseException:
                    w.abort()
                    raise
                try:
                    w.commit()
                except StoreError as e:
                    raise DigestMismatchError(f"failed to copy {digest}: {e}") from None
        except aiohttp.ClientConnectorError as e:
            raise UnavailableError(f'failed to do request: Get "{url}": dial tcp {e.host}:{e.port}: connect: '
                                   f"{_os_reason(e)}") from None

    async def pull(self, image: str, store: ImageStore, auth: Auth | None = None, unpack: bool = True
                   ) -> ImageRecord:
        """Pull `image` (any form kubectl accepts) into `store` and unpack it."""
        try:
            ref = normalize(image)
        except ReferenceError as e:
            raise InvalidReferenceError(f'failed to pull and unpack image "{image}": {e}') from None
        try:
            return await self._pull(ref, store, auth, unpack)
        except RegistryError as e:
            raise type(e)(f'failed to pull and unpack image "{ref}": {e}') from None
        except StoreError as e:
            raise RegistryError(f'failed to pull and unpack image "{ref}": {e}') from None

    async def _pull(self, ref: Reference, store: ImageStore, auth: Auth | None, unpack: bool) -> ImageRecord:
        r = await self.resolve(ref, auth)
        store.put_blob(r.body, r.digest)
        doc = json.loads(r.body)
        mt, body = r.media_type, r.body
        if media.is_index(mt, doc):
            try:
                desc = media.pick_platform(doc.get("manifests", []))
            except LookupError as e:
                raise NotFoundError(str(e)) from None
            body = await self._fetch_manifest(r, desc["digest"], auth)
            store.put_blob(body, desc["digest"])
            doc = json.loads(body)
        blobs = [doc["config"], *doc.get("layers", [])]
        sem = asyncio.Semaphore(PARALLEL_LAYERS)

        async def one(desc: dict[str, Any]) -> None:
            async with sem:
                await self._fetch_blob(r, desc, store, auth)

        await asyncio.gather(*(one(d) for d in blobs))
        rec = store.tag(str(ref), r.digest, r.media_type)
        if unpack:
            await asyncio.to_thread(store.unpack, rec)
        return rec

    # ---- push ----
    async def push(self, store: ImageStore, rec: ImageRecord, dest: str, auth: Auth | None = None) -> str:
        """Push a stored image to `dest` (`127.0.0.1:5000/library/nginx:1.14.2`); returns its digest."""
        ref = normalize(dest)
        ep = self.config.endpoints(ref.domain)[0]
        repo = ref.path
        scope = f"repository:{repo}:pull,push"
        target = store.read_json(rec.target)
        is_index = media.is_index(rec.target_media_type, target)
        children = [(d["digest"], d.get("mediaType") or media.OCI_MANIFEST) for d in target.get("manifests", [])
                    if store.has_blob(d["digest"])] if is_index else [(rec.target, rec.target_media_type)]
        for digest, mt in children:
            m = store.read_json(digest)
            for desc in [m["config"], *m.get("layers", [])]:
                await self._push_blob(store, ep, repo, scope, desc["digest"], auth)
            if is_index:
                await self._put_manifest(store, ep, repo, scope, digest, digest, mt, auth)
        await self._put_manifest(store, ep, repo, scope, rec.target, ref.object, rec.target_media_type, auth)
        return rec.target

    async def _push_blob(self, store: ImageStore, ep: Endpoint, repo: str, scope: str, digest: str,
                         auth: Auth | None) -> None:
        url = f"{ep.url}/{repo}/blobs/{digest}"
        status, _, _ = await self._request("HEAD", ep, url, scope, auth)
        if status == 200:
            return
        status, headers, body = await self._request("POST", ep, f"{ep.url}/{repo}/blobs/uploads/", scope, auth)
        if status != 202:
            raise RegistryError(f"starting upload of {digest} to {repo}: {status} {_registry_message(body)}")
        loc = urljoin(f"{urlsplit(ep.url).scheme}://{urlsplit(ep.url).netloc}/", headers.get("Location", ""))
        put_url = loc + ("&" if "?" in loc else "?") + urlencode({"digest": digest})
        data = store.read_blob(digest)
        status, _, body = await self._request("PUT", ep, put_url, scope, auth,
                                              {"Content-Type": "application/octet-stream"}, data)
        if status not in (201, 204):
            raise RegistryError(f"uploading {digest} to {repo}: {status} {_registry_message(body)}")

    async def _put_manifest(self, store: ImageStore, ep: Endpoint, repo: str, scope: str, digest: str, obj: str,
                            media_type: str, auth: Auth | None) -> None:
        url = f"{ep.url}/{repo}/manifests/{obj}"
        status, _, body = await self._request("PUT", ep, url, scope, auth, {"Content-Type": media_type},
                                              store.read_blob(digest))
        if status not in (200, 201):
            raise RegistryError(f"putting manifest {repo}:{obj}: {status} {_registry_message(body)}")


def _os_reason(e: aiohttp.ClientConnectorError) -> str:
    """Go's wording for a failed dial: `connection refused`, `no route to host`, ..."""
    err = e.os_error
    if err is not None and err.errno:
        return os.strerror(err.errno).lower()
    return str(err or e)


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""

