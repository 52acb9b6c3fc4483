"""Image store: layer application (whiteouts, links, escapes), archives, sharing, removal."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
from typing import Any

import pytest

from kubeling.kubelet.images import media
from kubeling.kubelet.images.store import (ImageStore, InUse, NotFound, StoreError, apply_layer, chain_ids,
                                           resolve_in_root)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="unpacking layers needs root (mknod, chown, xattrs)")


def tar_bytes(entries: list[tuple[Any, ...]]) -> bytes:
    """entries: (name, 'f'|'d'|'l'|'h', data-or-linkname[, mode])."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            name, kind, arg = e[0], e[1], e[2] if len(e) > 2 else None
            ti = tarfile.TarInfo(name)
            ti.mtime = 1_000_000
            ti.mode = e[3] if len(e) > 3 else (0o755 if kind == "d" else 0o644)
            if kind == "d":
                ti.type = tarfile.DIRTYPE
                tf.addfile(ti)
            elif kind == "l":
                ti.type, ti.linkname = tarfile.SYMTYPE, arg
                tf.addfile(ti)
            elif kind == "h":
                ti.type, ti.linkname = tarfile.LNKTYPE, arg
                tf.addfile(ti)
            else:
                data = arg.encode() if isinstance(arg, str) else (arg or b"")
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


# ---- apply_layer ----

def test_whiteouts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    raw = tar_bytes([("etc/", "d"), ("etc/.wh.passwd", "f", ""), ("var/", "d"), ("var/.wh..wh..opq", "f", ""),
                     ("var/new", "f", "x"), (".wh..wh.plnk", "d"), ("bin/.wh.sh", "f", "")])
    dest = tmp_path / "l"
    dest.mkdir()
    diff_id = apply_layer(io.BytesIO(gz(raw)), str(dest))
    assert diff_id == sha(raw)  # the diff_id is over the uncompressed tar
    st = os.lstat(dest / "etc" / "passwd")
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 0 and os.minor(st.st_rdev) == 0
    assert os.getxattr(dest / "var", "trusted.overlay.opaque") == b"y"
    assert (dest / "var" / "new").read_text() == "x"
    assert not (dest / "var" / ".wh..wh..opq").exists()
    assert not os.path.lexists(dest / ".wh..wh.plnk")
    assert stat.S_ISCHR(os.lstat(dest / "bin" / "sh").st_mode)  # parent dir created implicitly


def test_modes_symlinks_and_hardlinks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    raw = tar_bytes([("./", "d"), ("bin/", "d"), ("bin/busybox", "f", "BB", 0o755), ("bin/sh", "l", "busybox"),
                     ("bin/ash", "h", "bin/busybox"), ("tmp/", "d", None, 0o1777)])
    dest = tmp_path / "l"
    dest.mkdir()
    apply_layer(io.BytesIO(raw), str(dest))  # plain (uncompressed) tar works too
    assert os.readlink(dest / "bin" / "sh") == "busybox"
    assert stat.S_IMODE(os.stat(dest / "bin" / "busybox").st_mode) == 0o755
    assert os.stat(dest / "bin" / "ash").st_ino == os.stat(dest / "bin" / "busybox").st_ino
    assert stat.S_IMODE(os.stat(dest / "tmp").st_mode) == 0o1777
    assert os.stat(dest / "bin" / "busybox").st_mtime == 1_000_000


def test_hardlink_to_lower_layer_is_copied_up(tmp_path) -> None:  # type: ignore[no-untyped-def]
    low, up = tmp_path / "low", tmp_path / "up"
    low.mkdir(), up.mkdir()
    apply_layer(io.BytesIO(tar_bytes([("usr/bin/tool", "f", "T")])), str(low))
    apply_layer(io.BytesIO(tar_bytes([("usr/bin/alias", "h", "usr/bin/tool")])), str(up), lowers=[str(low)])
    assert (up / "usr" / "bin" / "alias").read_text() == "T"


def test_symlinks_cannot_escape(tmp_path) -> None:  # type: ignore[no-untyped-def]
    dest = tmp_path / "l"
    dest.mkdir()
    outside = tmp_path / "outside"
    raw = tar_bytes([("evil", "l", str(tmp_path)), ("evil/outside", "f", "pwned"), ("rel", "l", "../../.."),
                     ("rel/x", "f", "y")])
    apply_layer(io.BytesIO(raw), str(dest))
    assert not outside.exists()
    # the absolute link is resolved inside the layer root, as if it were "/"
    assert (dest / str(tmp_path).lstrip("/") / "outside").read_text() == "pwned"
    assert (dest / "x").read_text() == "y"
    assert resolve_in_root(str(dest), "rel/x") == str(dest / "x")
    with pytest.raises(StoreError, match="escapes"):
        apply_layer(io.BytesIO(tar_bytes([("../x", "f", "no")])), str(dest))


def test_entry_replaces_previous_type(tmp_path) -> None:  # type: ignore[no-untyped-def]
    dest = tmp_path / "l"
    dest.mkdir()
    apply_layer(io.BytesIO(tar_bytes([("a/", "d"), ("a/f", "f", "1"), ("a", "f", "now a file")])), str(dest))
    assert (dest / "a").read_text() == "now a file"


def test_chain_ids() -> None:
    a, b = sha(b"a"), sha(b"b")
    assert chain_ids([a]) == [a]
    assert chain_ids([a, b]) == [a, sha(f"{a} {b}".encode())]


# ---- images ----

def make_image(layers: list[bytes], config: dict[str, Any] | None = None, compress: bool = True
               ) -> tuple[dict[str, bytes], str, bytes]:
    """Blobs by digest, the manifest digest, and the config bytes of an image."""
    blobs: dict[str, bytes] = {}
    descs, diff_ids = [], []
    for raw in layers:
        data = gz(raw) if compress else raw
        blobs[sha(data)] = data
        descs.append({"mediaType": media.OCI_LAYER_GZIP if compress else media.OCI_LAYER, "digest": sha(data),
                      "size": len(data)})
        diff_ids.append(sha(raw))
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": config or {},
                      "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    blobs[sha(cfg)] = cfg
    manifest = json.dumps({"schemaVersion": 2, "mediaType": media.OCI_MANIFEST,
                           "config": {"mediaType": media.OCI_CONFIG, "digest": sha(cfg), "size": len(cfg)},
                           "layers": descs}).encode()
    blobs[sha(manifest)] = manifest
    return blobs, sha(manifest), cfg


BASE = tar_bytes([("bin/", "d"), ("bin/busybox", "f", "BB", 0o755), ("bin/sh", "l", "busybox"),
                  ("etc/", "d"), ("etc/passwd", "f", "root:x:0:0::/root:/bin/sh\n")])
APP = tar_bytes([("etc/.wh.passwd", "f", ""), ("app/", "d"), ("app/run", "f", "#!/bin/sh\n", 0o755)])
CONFIG = {"Cmd": ["run"], "Entrypoint": ["/bin/sh"], "Env": ["PATH=/bin", "A=1"], "WorkingDir": "/app",
          "User": "1000:1000", "ExposedPorts": {"8080/tcp": {}}, "Labels": {"k": "v"}}


def add_to_tar(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    tf.addfile(ti, io.BytesIO(data))


def oci_archive(path: str, images: list[tuple[dict[str, bytes], str, dict[str, str]]],
                index_entries: list[dict[str, Any]] | None = None) -> None:
    with tarfile.open(path, "w") as tf:
        add_to_tar(tf, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        entries = index_entries or []
        for blobs, digest, ann in images:
            for d, data in blobs.items():
                add_to_tar(tf, f"blobs/sha256/{d.split(':')[1]}", data)
            if index_entries is None:
                entries.append({"mediaType": media.OCI_MANIFEST, "digest": digest, "size": len(blobs[digest]),
                                "annotations": ann})
        add_to_tar(tf, "index.json", json.dumps({"schemaVersion": 2, "manifests": entries}).encode())


def test_import_oci_archive_and_mount_info(tmp_path) -> None:  # type: ignore[no-untyped-def]
    blobs, digest, cfg = make_image([BASE, APP], CONFIG)
    arc = str(tmp_path / "img.tar")
    oci_archive(arc, [(blobs, digest, {"io.containerd.image.name": "localhost:5000/team/app:v1"})])
    store = ImageStore(str(tmp_path / "store"))
    [rec] = store.import_archive(arc)
    assert rec.name == "localhost:5000/team/app:v1"
    assert rec.id == sha(cfg) and rec.target == digest == rec.manifest
    assert rec.repo_digest == f"localhost:5000/team/app@{digest}"
    assert rec.size == sum(len(b) for b in blobs.values())
    m = store.mount_info("localhost:5000/team/app:v1")
    assert [os.path.basename(d) for d in m.lowerdirs] == [sha(APP).split(":")[1], sha(BASE).split(":")[1]]
    assert (m.cmd, m.entrypoint, m.env, m.working_dir, m.user) == (["run"], ["/bin/sh"], ["PATH=/bin", "A=1"],
                                                                   "/app", "1000:1000")
    assert m.exposed_ports == ["8080/tcp"] and m.labels == {"k": "v"}
    top, bottom = m.lowerdirs
    assert os.path.isfile(os.path.join(bottom, "bin", "busybox"))
    assert stat.S_ISCHR(os.lstat(os.path.join(top, "etc", "passwd")).st_mode)
    # lookups by image ID and by repo digest
    assert store.get(rec.id).name == rec.name  # type: ignore[union-attr]
    assert store.get(f"localhost:5000/team/app@{digest}").name == rec.name  # type: ignore[union-attr]
    assert store.get("localhost:5000/team/app:v2") is None


def test_import_oci_archive_index_and_tag_names(tmp_path) -> None:  # type: ignore[no-untyped-def]
    blobs, digest, _ = make_image([BASE])
    arm_missing = "sha256:" + "b" * 64
    index = json.dumps({"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": [
        {"mediaType": media.OCI_MANIFEST, "digest": arm_missing, "size": 1,
         "platform": {"os": "linux", "architecture": "arm64"}},
        {"mediaType": media.OCI_MANIFEST, "digest": digest, "size": len(blobs[digest]),
         "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()
    blobs = {**blobs, sha(index): index}
    arc = str(tmp_path / "img.tar")
    oci_archive(arc, [(blobs, digest, {})], index_entries=[
        {"mediaType": media.OCI_INDEX, "digest": sha(index), "size": len(index),
         "annotations": {"org.opencontainers.image.ref.name": "v2"}}])
    store = ImageStore(str(tmp_path / "store"))
    with pytest.raises(StoreError, match="base name"):
        store.import_archive(arc)
    [rec] = store.import_archive(arc, base_name="docker.io/me/multi")
    assert rec.name == "docker.io/me/multi:v2"
    assert rec.target == sha(index) and rec.manifest == digest  # amd64 picked from the index
    assert rec.repo_digest == f"docker.io/me/multi@{sha(index)}"


def test_import_docker_save(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                      "rootfs": {"type": "layers", "diff_ids": [sha(BASE), sha(APP)]}}).encode()
    arc = str(tmp_path / "save.tar")
    with tarfile.open(arc, "w") as tf:
        add_to_tar(tf, "c0ffee.json", cfg)
        add_to_tar(tf, "l1/layer.tar", BASE)  # docker save layers are plain tars
        add_to_tar(tf, "l2/layer.tar", gz(APP))  # some tools gzip them: both are accepted
        add_to_tar(tf, "manifest.json", json.dumps([{"Config": "c0ffee.json", "RepoTags": ["busybox:1.35", "me/bb:x"],
                                                     "Layers": ["l1/layer.tar", "l2/layer.tar"]}]).encode())
    store = ImageStore(str(tmp_path / "store"))
    recs = store.import_archive(arc)
    assert [r.name for r in recs] == ["docker.io/library/busybox:1.35", "docker.io/me/bb:x"]
    assert {r.id for r in recs} == {sha(cfg)}
    m = store.mount_info("busybox:1.35")
    assert m.cmd == ["sh"] and len(m.lowerdirs) == 2
    assert os.path.isfile(os.path.join(m.lowerdirs[1], "bin", "busybox"))


def test_layer_sharing_remove_and_gc(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = ImageStore(str(tmp_path / "store"))
    recs = []
    for name, layers in (("a:1", [BASE]), ("b:1", [BASE, APP])):
        blobs, digest, _ = make_image(layers, {"Cmd": [name]})
        for d, data in blobs.items():
            store.put_blob(data, d)
        recs.append(store.tag(name, digest))
        store.unpack(recs[-1])
    snaps = sorted(os.listdir(store.snapshot_dir))
    assert snaps == sorted([sha(BASE).split(":")[1], sha(APP).split(":")[1]])  # BASE unpacked once
    assert recs[0].layers[0] == recs[1].layers[0]
    with pytest.raises(InUse, match="in use"):
        store.remove("b:1", in_use=lambda r: r.name.endswith("/b:1"))
    assert store.remove("b:1", in_use=lambda r: False) == ["docker.io/library/b:1"]
    assert os.listdir(store.snapshot_dir) == [sha(BASE).split(":")[1]]  # the shared layer stays
    assert store.has_blob(recs[0].layers[0]) and not store.has_blob(recs[1].layers[1])
    store.tag("a:alias", recs[0].target)
    assert sorted(store.remove(recs[0].id)) == ["docker.io/library/a:1", "docker.io/library/a:alias"]
    assert os.listdir(store.snapshot_dir) == [] and os.listdir(store.blob_dir) == []
    with pytest.raises(NotFound):
        store.remove("a:1")


def test_digest_checks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = ImageStore(str(tmp_path / "store"))
    with pytest.raises(StoreError, match="digest mismatch"):
        store.put_blob(b"data", "sha256:" + "0" * 64)
    with pytest.raises(StoreError, match="size mismatch"):
        store.put_stream(io.BytesIO(b"data"), sha(b"data"), size=5)
    assert os.listdir(store.ingest_dir) == []  # failed ingests leave nothing behind
    # a layer whose content does not match the config's diff_id is refused at unpack time
    blobs, digest, _ = make_image([BASE])
    cfg = json.dumps({"rootfs": {"type": "layers", "diff_ids": [sha(b"other")]}}).encode()
    m = json.loads(blobs[digest])
    m["config"] = {"mediaType": media.OCI_CONFIG, "digest": sha(cfg), "size": len(cfg)}
    mb = json.dumps(m).encode()
    for data in [*blobs.values(), cfg, mb]:
        store.put_blob(data)
    rec = store.tag("bad:1", sha(mb))
    with pytest.raises(StoreError, match="diff_id mismatch"):
        store.unpack(rec)
    assert [n for n in os.listdir(store.snapshot_dir)] == []
