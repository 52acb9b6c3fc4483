"""Registry client against an in-process fake registry: auth challenges, indexes, digests, errors."""

from __future__ import annotations

import base64
import json
import os
from typing import Any, AsyncIterator

import pytest
from aiohttp import web

from kubeling.kubelet.images import media
from kubeling.kubelet.images.registries import Auth, parse_registries
from kubeling.kubelet.images.registry import (DigestMismatchError, NotFoundError, RegistryClient,
                                              UnauthorizedError, UnavailableError)
from kubeling.kubelet.images.store import ImageStore

from .test_images_store import BASE, make_image, sha

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="unpacking layers needs root")


class FakeRegistry:
    """Just enough of the distribution API: manifests, blobs, bearer or basic auth."""

    def __init__(self, auth: str = "") -> None:
        self.auth = auth  # "" | "bearer" | "basic"
        self.manifests: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.blobs: dict[str, bytes] = {}
        self.corrupt: set[str] = set()
        self.requests: list[str] = []
        self.url = ""

    def add(self, repo: str, tag: str, blobs: dict[str, bytes], digest: str, mt: str = media.OCI_MANIFEST) -> None:
        self.blobs.update(blobs)
        self.manifests[(repo, tag)] = (blobs[digest], mt)
        self.manifests[(repo, digest)] = (blobs[digest], mt)

    def _authorized(self, req: web.Request) -> bool:
        h = req.headers.get("Authorization", "")
        if self.auth == "bearer":
            return h == "Bearer tok-123"
        if self.auth == "basic":
            return h == "Basic " + base64.b64encode(b"alice:pw").decode()
        return True

    def _challenge(self, repo: str) -> web.Response:
        if self.auth == "bearer":
            www = f'Bearer realm="{self.url}/token",service="fake",scope="repository:{repo}:pull"'
        else:
            www = 'Basic realm="fake"'
        return web.json_response({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                                 status=401, headers={"WWW-Authenticate": www})

    async def token(self, req: web.Request) -> web.Response:
        self.requests.append(f"token {req.query.get('scope')} {req.query.get('service')}")
        if req.headers.get("Authorization") != "Basic " + base64.b64encode(b"alice:pw").decode():
            return web.Response(status=401)
        return web.json_response({"token": "tok-123"})

    async def manifest(self, req: web.Request) -> web.Response:
        repo, ref = req.match_info["repo"], req.match_info["ref"]
        self.requests.append(f"manifest {repo} {ref}")
        if not self._authorized(req):
            return self._challenge(repo)
        if (repo, ref) not in self.manifests and ref in self.blobs:  # child manifests of an index
            self.manifests[(repo, ref)] = (self.blobs[ref], json.loads(self.blobs[ref]).get("mediaType", ""))
        if (repo, ref) not in self.manifests:
            return web.json_response({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]},
                                     status=404)
        body, mt = self.manifests[(repo, ref)]
        return web.Response(body=body, headers={"Content-Type": mt, "Docker-Content-Digest": sha(body)})

    async def blob(self, req: web.Request) -> web.Response:
        repo, digest = req.match_info["repo"], req.match_info["digest"]
        self.requests.append(f"blob {digest[:15]}")
        if not self._authorized(req):
            return self._challenge(repo)
        if digest not in self.blobs:
            return web.Response(status=404)
        data = self.blobs[digest]
        return web.Response(body=data[:-1] + b"X" if digest in self.corrupt else data)


@pytest.fixture
async def fake() -> AsyncIterator[FakeRegistry]:
    reg = FakeRegistry()
    app = web.Application()
    app.router.add_get("/token", reg.token)
    app.router.add_get(r"/v2/{repo:.+}/manifests/{ref}", reg.manifest)
    app.router.add_get(r"/v2/{repo:.+}/blobs/{digest}", reg.blob)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    reg.url = f"http://127.0.0.1:{port}"
    yield reg
    await runner.cleanup()


def client_for(reg: FakeRegistry, **configs: Any) -> RegistryClient:
    host = reg.url.split("//")[1]
    return RegistryClient(parse_registries({"mirrors": {"docker.io": {"endpoint": [reg.url]}},
                                            "configs": {host: configs} if configs else {}}))


async def test_pull_through_mirror(fake: FakeRegistry, tmp_path) -> None:  # type: ignore[no-untyped-def]
    blobs, digest, cfg = make_image([BASE], {"Cmd": ["sh"]})
    fake.add("library/busybox", "latest", blobs, digest)
    store = ImageStore(str(tmp_path))
    async with client_for(fake) as c:
        rec = await c.pull("busybox", store)
    assert rec.name == "docker.io/library/busybox:latest" and rec.id == sha(cfg)
    assert rec.repo_digest == f"docker.io/library/busybox@{digest}"
    assert os.path.isfile(os.path.join(store.mount_info("busybox").lowerdirs[0], "bin", "busybox"))
    # by digest: no tag is added; the layer is not fetched again
    fake.requests.clear()
    async with client_for(fake) as c:
        rec2 = await c.pull(f"busybox@{digest}", store)
    assert rec2.name == f"docker.io/library/busybox@{digest}"
    assert not [r for r in fake.requests if r.startswith("blob")]


async def test_index_picks_amd64(fake: FakeRegistry, tmp_path) -> None:  # type: ignore[no-untyped-def]
    blobs, digest, _ = make_image([BASE])
    index = json.dumps({"schemaVersion": 2, "mediaType": media.DOCKER_LIST, "manifests": [
        {"mediaType": media.DOCKER_MANIFEST, "digest": "sha256:" + "c" * 64, "size": 1,
         "platform": {"os": "linux", "architecture": "arm64"}},
        {"mediaType": media.OCI_MANIFEST, "digest": digest, "size": len(blobs[digest]),
         "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()
    fake.add("library/multi", "1", {**blobs, sha(index): index}, sha(index), media.DOCKER_LIST)
    async with client_for(fake) as c:
        rec = await c.pull("multi:1", ImageStore(str(tmp_path)))
    assert rec.target == sha(index) and rec.manifest == digest
    assert rec.target_media_type == media.DOCKER_LIST


async def test_not_found_message(fake: FakeRegistry, tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with client_for(fake) as c:
        with pytest.raises(NotFoundError) as e:
            await c.pull("nginx:1.161", ImageStore(str(tmp_path)))
    assert e.value.cri_message() == (
        'rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/nginx:1.161": '
        'failed to resolve reference "docker.io/library/nginx:1.161": docker.io/library/nginx:1.161: not found')


async def test_bearer_token_auth(fake: FakeRegistry, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fake.auth = "bearer"
    blobs, digest, _ = make_image([BASE])
    fake.add("library/private", "v1", blobs, digest)
    async with client_for(fake) as c:
        with pytest.raises(UnauthorizedError, match="failed to fetch anonymous token: unexpected status"):
            await c.pull("private:v1", ImageStore(str(tmp_path / "a")))
    async with client_for(fake, auth={"username": "alice", "password": "pw"}) as c:
        rec = await c.pull("private:v1", ImageStore(str(tmp_path / "b")))
    assert rec.target == digest
    assert "token repository:library/private:pull fake" in fake.requests
    # credentials from a pull secret override the registries.yaml ones
    async with client_for(fake) as c:
        await c.pull("private:v1", ImageStore(str(tmp_path / "c")), auth=Auth("alice", "pw"))


async def test_basic_auth(fake: FakeRegistry, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fake.auth = "basic"
    blobs, digest, _ = make_image([BASE])
    fake.add("library/private", "v1", blobs, digest)
    async with client_for(fake) as c:
        with pytest.raises(UnauthorizedError, match="pull access denied"):
            await c.pull("private:v1", ImageStore(str(tmp_path / "a")))
    async with client_for(fake, auth={"auth": base64.b64encode(b"alice:pw").decode()}) as c:
        assert (await c.pull("private:v1", ImageStore(str(tmp_path / "b")))).target == digest


async def test_corrupt_blob_is_rejected(fake: FakeRegistry, tmp_path) -> None:  # type: ignore[no-untyped-def]
    blobs, digest, _ = make_image([BASE])
    fake.add("library/bad", "1", blobs, digest)
    layer = json.loads(blobs[digest])["layers"][0]["digest"]
    fake.corrupt.add(layer)
    store = ImageStore(str(tmp_path))
    async with client_for(fake) as c:
        with pytest.raises(DigestMismatchError, match="digest mismatch"):
            await c.pull("bad:1", store)
    assert not store.has_blob(layer) and store.get("bad:1") is None


async def test_connection_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kubeling.kubelet.images.localregistry import free_port

    port = free_port()
    c = RegistryClient(parse_registries({"mirrors": {"docker.io": {"endpoint": [f"http://127.0.0.1:{port}"]}}}))
    async with c:
        with pytest.raises(UnavailableError) as e:
            await c.pull("nginx", ImageStore(str(tmp_path)))
    assert str(e.value).endswith(f"dial tcp 127.0.0.1:{port}: connect: connection refused")
    assert e.value.cri_message().startswith("rpc error: code = Unknown desc = failed to pull and unpack image")


async def test_service_dedupes_concurrent_pulls(fake: FakeRegistry, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from kubeling.kubelet.images.service import ImageService

    blobs, digest, _ = make_image([BASE], {"Cmd": ["sh"]})
    fake.add("library/busybox", "latest", blobs, digest)
    host = fake.url.split("//")[1]
    svc = ImageService(str(tmp_path), parse_registries({"mirrors": {"docker.io": {"endpoint": [f"http://{host}"]}}}))
    try:
        recs = await asyncio.gather(*(svc.pull(n) for n in ("busybox", "busybox:latest", "docker.io/library/busybox")))
        assert {r.target for r in recs} == {digest}
        assert fake.requests.count("manifest library/busybox latest") == 1
        assert svc.status("busybox") is not None and svc.status("busybox:2") is None
        m = await svc.mount_info("busybox")
        assert m.cmd == ["sh"]
        assert await svc.remove("busybox") == ["docker.io/library/busybox:latest"]
        assert svc.list() == []
    finally:
        await svc.close()
