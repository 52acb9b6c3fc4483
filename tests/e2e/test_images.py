"""End to end: build the busybox test image, push it to a real Debian `docker-registry` on
127.0.0.1, pull it through the registry client into a fresh store, and check the digests and
the unpacked snapshot. Also checks interop with skopeo (a third-party client) both ways."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from typing import Iterator

import pytest

from kubeling import images_cli
from kubeling.kubelet.images import build
from kubeling.kubelet.images.localregistry import LocalRegistry, registry_binary, start_registry
from kubeling.kubelet.images.registries import parse_registries
from kubeling.kubelet.images.registry import NotFoundError, RegistryClient
from kubeling.kubelet.images.store import ImageStore

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="unpacking layers needs root")


def _apt_install(*pkgs: str) -> None:
    """Install missing Debian packages if we can (root + apt); the caller re-checks."""
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", *pkgs], env=env, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    if registry_binary() is None:
        _apt_install("docker-registry")
    if registry_binary() is None:
        pytest.skip("docker-registry is not installed and `apt-get install -y docker-registry` failed")
    reg = start_registry(str(tmp_path_factory.mktemp("registry")))
    try:
        yield reg
    finally:
        reg.stop()  # by PID


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """Data dir with busybox built, imported and ready; returns (data dir, manifest digest)."""
    if build.missing_packages() and "busybox-static" in build.missing_packages():
        _apt_install("busybox-static")
    if not os.path.exists(build.BUSYBOX):
        pytest.skip("busybox-static is not installed and could not be installed")
    data = str(tmp_path_factory.mktemp("data"))
    t0 = time.monotonic()
    refs = build.ensure_test_images(data, only=["busybox"])
    print(f"build+import busybox: {time.monotonic() - t0:.3f}s")
    assert refs == {"busybox:latest": "docker.io/library/busybox:latest"}
    rec = ImageStore(os.path.join(data, "agent", "images")).get("busybox")
    assert rec is not None
    return data, rec.target


def test_build_is_deterministic(built: tuple[str, str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    again = build.build_images(str(tmp_path / "layout"), only=["busybox"])
    assert again["docker.io/library/busybox:latest"] == built[1]


async def test_push_then_pull(registry: LocalRegistry, built: tuple[str, str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    data, digest = built
    # push with the CLI, as `kubeling images build --push URL` does (it runs its own event loop)
    argv = ["images", "--data-dir", data, "build", "--only", "busybox", "--push", registry.url]
    assert await asyncio.to_thread(images_cli.main, argv) == 0
    src = ImageStore(os.path.join(data, "agent", "images"))
    src_rec = src.get("busybox")
    assert src_rec is not None

    cfg = parse_registries({"mirrors": {"docker.io": {"endpoint": [registry.url]}}})
    store = ImageStore(str(tmp_path / "node" / "agent" / "images"))
    async with RegistryClient(cfg) as client:
        t0 = time.monotonic()
        rec = await client.pull("busybox", store)
        elapsed = time.monotonic() - t0
        print(f"pull+unpack busybox from docker-registry: {elapsed:.3f}s")  # a number, not a test (bench/)
        assert rec.name == "docker.io/library/busybox:latest"
        assert rec.target == digest and rec.id == src_rec.id and rec.layers == src_rec.layers
        assert rec.repo_digest == f"docker.io/library/busybox@{digest}"
        for d in [rec.target, rec.config, *rec.layers]:  # content is byte-identical to the built image
            assert store.read_blob(d) == src.read_blob(d)
        m = store.mount_info("docker.io/library/busybox:latest")
        assert len(m.lowerdirs) == 1 and m.cmd == ["sh"]
        assert os.path.isfile(os.path.join(m.lowerdirs[0], "bin", "busybox"))
        assert os.readlink(os.path.join(m.lowerdirs[0], "bin", "sh")) == "busybox"

        with pytest.raises(NotFoundError) as e:
            await client.pull("busybox:1.161", store)
        assert str(e.value) == ('failed to pull and unpack image "docker.io/library/busybox:1.161": failed to '
                                'resolve reference "docker.io/library/busybox:1.161": docker.io/library/busybox:1.161: '
                                "not found")
        with pytest.raises(NotFoundError):
            await client.pull("no/such-repo", store)


def test_skopeo_interop(registry: LocalRegistry, built: tuple[str, str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    """What we push is readable by skopeo; what skopeo exports (docker-archive) we import."""
    if not shutil.which("skopeo"):
        pytest.skip("skopeo is not installed")
    data, digest = built
    assert images_cli.main(["images", "--data-dir", data, "build", "--only", "busybox", "--push", registry.url]) == 0
    src = f"docker://{registry.host}/library/busybox:latest"
    out = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", src],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == digest
    arc = str(tmp_path / "bb.tar")
    out = subprocess.run(["skopeo", "copy", "-q", "--src-tls-verify=false", src, f"docker-archive:{arc}:me/bb:v1"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    store = ImageStore(str(tmp_path / "store"))
    [rec] = store.import_archive(arc)
    assert rec.name == "docker.io/me/bb:v1"
    assert rec.id == ImageStore(os.path.join(data, "agent", "images")).get("busybox").id  # type: ignore[union-attr]
    assert os.path.isfile(os.path.join(store.mount_info("me/bb:v1").lowerdirs[0], "bin", "busybox"))
