"""Content-addressed image store, layer snapshots, and tarball import.

Layout under the store root (the node's `DATA/agent/images`):

    blobs/sha256/<hex>        manifests, indexes, configs and layers, by digest (shared)
    ingest/                   partial downloads, renamed into blobs/ once verified
    snapshots/<diffid hex>/   each layer unpacked once; overlay whiteouts applied
    index.json                image name → target digest (+ platform manifest, config)

A container's root filesystem is an overlay of the image's snapshots: `mount_info()`
returns them top layer first, which is the order overlayfs's `lowerdir=` wants.
`imageID` is the config digest; the repo digest is `name@<target digest>`, the digest
of what was pulled by tag (an index for multi-arch images), as containerd reports.

Callers serialize `remove`/`gc` against pulls (the ImageService holds one lock).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gzip
import hashlib
import json
import os
import shutil
import stat
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Iterable, Iterator

from . import media
from .reference import ReferenceError, normalize, parse

WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
CHUNK = 1 << 20


class StoreError(Exception):
    """A store operation failed (digest mismatch, missing content, bad archive)."""


class NotFound(StoreError):
    pass


class InUse(StoreError):
    pass


@dataclass
class ImageRecord:
    """One named image: `docker.io/library/nginx:1.14.2` → its digests."""

    name: str  # full normalized reference (tag or digest form)
    target: str  # digest of what the name points at (index or manifest)
    target_media_type: str
    manifest: str  # the linux/amd64 image manifest digest
    config: str  # config digest = image ID
    layers: list[str] = field(default_factory=list)  # layer blob digests, bottom first
    diff_ids: list[str] = field(default_factory=list)
    size: int = 0  # manifest + config + compressed layers, as containerd/CRI report
    created: float = 0.0

    @property
    def id(self) -> str:
        return self.config

    @property
    def repo_digest(self) -> str:
        """`docker.io/library/nginx@sha256:…`: what `kubectl describe pod` shows as Image ID."""
        return str(parse(self.name).with_digest(self.target))

    @property
    def repo_tag(self) -> str:
        ref = parse(self.name)
        return str(ref) if ref.tag else ""

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "targetMediaType": self.target_media_type, "manifest": self.manifest,
                "config": self.config, "layers": self.layers, "diffIDs": self.diff_ids, "size": self.size,
                "created": self.created}

    @classmethod
    def from_json(cls, name: str, d: dict[str, Any]) -> "ImageRecord":
        return cls(name=name, target=d["target"], target_media_type=d["targetMediaType"], manifest=d["manifest"],
                   config=d["config"], layers=list(d["layers"]), diff_ids=list(d["diffIDs"]), size=d["size"],
                   created=d.get("created", 0.0))


@dataclass
class ImageMount:
    """What a runtime needs to start a container from an image."""

    image: ImageRecord
    lowerdirs: list[str]  # top layer first (overlayfs lowerdir order)
    cmd: list[str]
    entrypoint: list[str]
    env: list[str]
    working_dir: str
    user: str
    exposed_ports: list[str]
    labels: dict[str, str]
    stop_signal: str
    volumes: list[str]


def hex_of(digest: str) -> str:
    algo, _, hx = digest.partition(":")
    if algo != "sha256" or len(hx) != 64 or not all(c in "0123456789abcdef" for c in hx):
        raise StoreError(f"unsupported or malformed digest {digest!r}")
    return hx


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class BlobWriter:
    """Streams a blob into ingest/, hashing as it goes; commit() verifies and publishes it."""

    def __init__(self, store: "ImageStore", expected: str | None = None, size: int | None = None) -> None:
        self.store, self.expected, self.size = store, expected, size
        self._hash = hashlib.sha256()
        self._n = 0
        fd, self._tmp = tempfile.mkstemp(dir=store.ingest_dir)
        self._f = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        self._hash.update(data)
        self._n += len(data)
        self._f.write(data)

    def commit(self) -> str:
        self._f.close()
        digest = "sha256:" + self._hash.hexdigest()
        try:
            if self.expected and digest != self.expected:
                raise StoreError(f"digest mismatch: expected {self.expected}, got {digest}")
            if self.size is not None and self._n != self.size:
                raise StoreError(f"size mismatch for {digest}: expected {self.size}, got {self._n}")
            os.chmod(self._tmp, 0o644)
            os.replace(self._tmp, self.store.blob_path(digest))
        finally:
            if os.path.exists(self._tmp):
                os.unlink(self._tmp)
        return digest

    def abort(self) -> None:
        self._f.close()
        if os.path.exists(self._tmp):
            os.unlink(self._tmp)


class ImageStore:
    def __init__(self, root: str) -> None:
        self.root = root
        self.blob_dir = os.path.join(root, "blobs", "sha256")
        self.ingest_dir = os.path.join(root, "ingest")
        self.snapshot_dir = os.path.join(root, "snapshots")
        self.index_path = os.path.join(root, "index.json")
        for d in (self.blob_dir, self.ingest_dir, self.snapshot_dir):
            os.makedirs(d, exist_ok=True)

    # ---- blobs ----
    def blob_path(self, digest: str) -> str:
        return os.path.join(self.blob_dir, hex_of(digest))

    def has_blob(self, digest: str) -> bool:
        return os.path.exists(self.blob_path(digest))

    def read_blob(self, digest: str) -> bytes:
        try:
            with open(self.blob_path(digest), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise NotFound(f"content {digest}: not found") from None

    def read_json(self, digest: str) -> dict[str, Any]:
        return json.loads(self.read_blob(digest))

    def blob_size(self, digest: str) -> int:
        return os.path.getsize(self.blob_path(digest))

    def writer(self, expected: str | None = None, size: int | None = None) -> BlobWriter:
        return BlobWriter(self, expected, size)

    def put_blob(self, data: bytes, expected: str | None = None) -> str:
        digest = sha256_digest(data)
        if expected and digest != expected:
            raise StoreError(f"digest mismatch: expected {expected}, got {digest}")
        if not self.has_blob(digest):
            w = self.writer()
            w.write(data)
            w.commit()
        return digest

    def put_stream(self, f: IO[bytes], expected: str | None = None, size: int | None = None) -> str:
        w = self.writer(expected, size)
        try:
            while chunk := f.read(CHUNK):
                w.write(chunk)
        except BaseException:
            w.abort()
            raise
        return w.commit()

    def put_file(self, path: str, expected: str | None = None) -> str:
        """Add a blob from a file, hard-linking when the digest is known and on the same fs."""
        if expected:
            dst = self.blob_path(expected)
            if os.path.exists(dst):
                return expected
            with open(path, "rb") as f:
                return self.put_stream(f, expected)
        with open(path, "rb") as f:
            return self.put_stream(f)

    # ---- index of names ----
    def _load_index(self) -> dict[str, dict[str, Any]]:
        try:
            with open(self.index_path) as f:
                return json.load(f).get("images", {})
        except FileNotFoundError:
            return {}

    @contextlib.contextmanager
    def _index_lock(self) -> Iterator[None]:
        """flock around read-modify-write of index.json (the CLI and a node may share a store)."""
        with open(os.path.join(self.root, "index.lock"), "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _save_index(self, images: dict[str, dict[str, Any]]) -> None:
        tmp = self.index_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"images": images}, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.index_path)

    def list(self) -> list[ImageRecord]:
        return [ImageRecord.from_json(n, d) for n, d in sorted(self._load_index().items())]

    def get(self, ref: str) -> ImageRecord | None:
        """Find an image by name (`nginx`, `nginx:1.14.2`), repo digest, or image ID (`sha256:…`)."""
        images = self._load_index()
        if ref.startswith("sha256:"):
            for n, d in sorted(images.items()):
                if d["config"] == ref:
                    return ImageRecord.from_json(n, d)
            return None
        try:
            r = normalize(ref)
        except ReferenceError:
            return None
        if str(r) in images:
            return ImageRecord.from_json(str(r), images[str(r)])
        if r.digest:  # name@digest matches any tag of that repository with that target
            for n, d in sorted(images.items()):
                if d["target"] == r.digest and parse(n).name == r.name:
                    return ImageRecord.from_json(n, d)
        return None

    def names_for(self, config: str) -> list[str]:
        return sorted(n for n, d in self._load_index().items() if d["config"] == config)

    def tag(self, name: str, target: str, media_type: str | None = None) -> ImageRecord:
        """Name `target` (a manifest or index already in the store) and unpack nothing yet."""
        ref = normalize(name)
        doc = self.read_json(target)
        media_type = media_type or doc.get("mediaType") or media.guess(doc)
        manifest_digest, manifest = self.resolve_platform(target, media_type, doc)
        config = manifest["config"]["digest"]
        cfg = self.read_json(config)
        layers = [layer["digest"] for layer in manifest.get("layers", [])]
        diff_ids = list(cfg.get("rootfs", {}).get("diff_ids", []))
        if len(diff_ids) != len(layers):
            raise StoreError(f"image {ref}: {len(layers)} layers but {len(diff_ids)} diff_ids in config")
        for d in layers:
            if not self.has_blob(d):
                raise StoreError(f"image {ref}: layer {d} is missing")
        size = self.blob_size(manifest_digest) + manifest["config"].get("size", 0) + \
            sum(layer.get("size", 0) for layer in manifest.get("layers", []))
        rec = ImageRecord(name=str(ref), target=target, target_media_type=media_type, manifest=manifest_digest,
                          config=config, layers=layers, diff_ids=diff_ids, size=size, created=time.time())
        with self._index_lock():
            images = self._load_index()
            images[rec.name] = rec.to_json()
            self._save_index(images)
        return rec

    def resolve_platform(self, digest: str, media_type: str, doc: dict[str, Any] | None = None
                         ) -> tuple[str, dict[str, Any]]:
        """Index/manifest list → the linux/amd64 manifest (which must be in the store)."""
        doc = doc if doc is not None else self.read_json(digest)
        seen = 0
        while media.is_index(media_type, doc):
            try:
                desc = media.pick_platform(doc.get("manifests", []))
            except LookupError as e:
                raise StoreError(str(e)) from None
            digest, media_type = desc["digest"], desc.get("mediaType", "")
            doc = self.read_json(digest)
            seen += 1
            if seen > 4:
                raise StoreError("nested indexes too deep")
        if not media.is_manifest(media_type, doc):
            raise StoreError(f"unsupported manifest media type {media_type!r}")
        return digest, doc

    def remove(self, ref: str, in_use: Callable[[ImageRecord], bool] | None = None) -> list[str]:
        """Untag `ref` (an image ID removes every name of that image), then collect garbage.

        Refuses (InUse) only when the `in_use` callback says a container uses the image.
        Returns the names removed.
        """
        rec = self.get(ref)
        if rec is None:
            raise NotFound(f"image {ref!r}: not found")
        if in_use is not None and in_use(rec):
            raise InUse(f"image {rec.name} ({rec.id}) is in use by a container")
        with self._index_lock():
            images = self._load_index()
            names = self.names_for(rec.config) if ref.startswith("sha256:") else [rec.name]
            for n in names:
                images.pop(n, None)
            self._save_index(images)
            self.gc()
        return names

    def gc(self) -> None:
        """Delete blobs and snapshots no named image reaches."""
        keep_blobs: set[str] = set()
        keep_snaps: set[str] = set()
        for rec in self.list():
            keep_blobs.update(self._reachable(rec.target))
            keep_snaps.update(hex_of(d) for d in rec.diff_ids)
        for hx in os.listdir(self.blob_dir):
            if "sha256:" + hx not in keep_blobs:
                os.unlink(os.path.join(self.blob_dir, hx))
        for hx in os.listdir(self.snapshot_dir):
            if hx not in keep_snaps:
                _rmtree(os.path.join(self.snapshot_dir, hx))

    def _reachable(self, digest: str) -> set[str]:
        out = {digest}
        try:
            doc = self.read_json(digest)
        except (NotFound, ValueError):
            return out
        for desc in doc.get("manifests", []):
            if self.has_blob(desc["digest"]):
                out |= self._reachable(desc["digest"])
        if "config" in doc:
            out.add(doc["config"]["digest"])
        out.update(layer["digest"] for layer in doc.get("layers", []))
        return out

    # ---- snapshots ----
    def snapshot_path(self, diff_id: str) -> str:
        return os.path.join(self.snapshot_dir, hex_of(diff_id))

    def unpack(self, rec: ImageRecord) -> list[str]:
        """Unpack each missing layer once (verifying its diff_id); returns dirs bottom first."""
        manifest = self.read_json(rec.manifest)
        dirs: list[str] = []
        for desc, diff_id in zip(manifest.get("layers", []), rec.diff_ids):
            path = self.snapshot_path(diff_id)
            if not os.path.isdir(path):
                tmp = tempfile.mkdtemp(dir=self.snapshot_dir, prefix=".tmp-")
                os.chmod(tmp, 0o755)
                try:
                    with open(self.blob_path(desc["digest"]), "rb") as f:
                        got = apply_layer(f, tmp, lowers=list(reversed(dirs)))
                    if got != diff_id:
                        raise StoreError(f"layer {desc['digest']}: diff_id mismatch: expected {diff_id}, got {got}")
                    try:
                        os.rename(tmp, path)
                    except OSError as e:  # someone else unpacked it meanwhile
                        if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                            raise
                finally:
                    if os.path.exists(tmp):
                        _rmtree(tmp)
            dirs.append(path)
        return dirs

    def mount_info(self, ref: str) -> ImageMount:
        """Snapshots (top first) and the image config a runtime needs; unpacks if needed."""
        rec = self.get(ref)
        if rec is None:
            raise NotFound(f"image {ref!r}: not found")
        dirs = self.unpack(rec)
        cfg = self.read_json(rec.config).get("config") or {}
        return ImageMount(
            image=rec, lowerdirs=list(reversed(dirs)), cmd=list(cfg.get("Cmd") or []),
            entrypoint=list(cfg.get("Entrypoint") or []), env=list(cfg.get("Env") or []),
            working_dir=cfg.get("WorkingDir") or "", user=cfg.get("User") or "",
            exposed_ports=sorted((cfg.get("ExposedPorts") or {}).keys()), labels=dict(cfg.get("Labels") or {}),
            stop_signal=cfg.get("StopSignal") or "", volumes=sorted((cfg.get("Volumes") or {}).keys()))

    # ---- import ----
    def import_archive(self, path: str, base_name: str = "") -> list[ImageRecord]:
        """Import a `docker save` archive (manifest.json) or an OCI archive (index.json)."""
        with tarfile.open(path, "r:*") as tf:
            names = set(tf.getnames())
            names |= {n[2:] for n in names if n.startswith("./")}
            if "manifest.json" in names:
                recs = self._import_docker(tf, base_name)
            elif "index.json" in names:
                recs = self._import_oci(tf, base_name)
            else:
                raise StoreError(f"{path}: neither a docker-save archive (manifest.json) nor an OCI archive "
                                 "(index.json)")
        for rec in recs:
            self.unpack(rec)
        return recs

    def import_oci_layout(self, layout_dir: str, only: Iterable[str] | None = None) -> list[ImageRecord]:
        """Import named images from an OCI layout directory (what the test-image builder writes)."""
        with open(os.path.join(layout_dir, "index.json")) as f:
            index = json.load(f)
        wanted = set(only) if only is not None else None
        recs = []
        for desc in index.get("manifests", []):
            name = _oci_name(desc, "")
            if not name or (wanted is not None and name not in wanted):
                continue
            for d in _walk_descriptors(desc, lambda dg: _read_json_file(os.path.join(layout_dir, "blobs", "sha256",
                                                                                      hex_of(dg)))):
                src = os.path.join(layout_dir, "blobs", "sha256", hex_of(d))
                if os.path.exists(src):
                    self.put_file(src, d)
            recs.append(self.tag(name, desc["digest"], desc.get("mediaType")))
        return recs

    def _import_oci(self, tf: tarfile.TarFile, base_name: str) -> list[ImageRecord]:
        index = json.loads(_member_bytes(tf, "index.json"))
        for m in tf.getmembers():
            n = m.name[2:] if m.name.startswith("./") else m.name
            if m.isfile() and n.startswith("blobs/sha256/"):
                f = tf.extractfile(m)
                assert f is not None
                self.put_stream(f, "sha256:" + n.rsplit("/", 1)[1], m.size)
        recs = []
        for desc in index.get("manifests", []):
            name = _oci_name(desc, base_name)
            if not name:
                raise StoreError("OCI archive entry has no image name annotation; give a base name "
                                 "(kubeling images import --base-name REPO)")
            recs.append(self.tag(name, desc["digest"], desc.get("mediaType")))
        return recs

    def _import_docker(self, tf: tarfile.TarFile, base_name: str) -> list[ImageRecord]:
        """docker save: config JSON + layer tars, named by RepoTags; we write an OCI manifest for them."""
        entries = json.loads(_member_bytes(tf, "manifest.json"))
        recs = []
        for entry in entries:
            cfg_bytes = _member_bytes(tf, entry["Config"])
            config = self.put_blob(cfg_bytes)
            layers = []
            for lp in entry["Layers"]:
                data = _member_bytes(tf, lp)
                digest = self.put_blob(data)
                mt = media.OCI_LAYER_GZIP if data[:2] == b"\x1f\x8b" else media.OCI_LAYER
                layers.append({"mediaType": mt, "digest": digest, "size": len(data)})
            manifest = {"schemaVersion": 2, "mediaType": media.OCI_MANIFEST,
                        "config": {"mediaType": media.OCI_CONFIG, "digest": config, "size": len(cfg_bytes)},
                        "layers": layers}
            target = self.put_blob(media.canonical_json(manifest))
            tags = entry.get("RepoTags") or ([base_name] if base_name else [])
            if not tags:
                raise StoreError("docker archive entry has no RepoTags; give a name (--base-name REPO:TAG)")
            for t in tags:
                recs.append(self.tag(t, target, media.OCI_MANIFEST))
        return recs


def _member_bytes(tf: tarfile.TarFile, name: str) -> bytes:
    for cand in (name, "./" + name):
        try:
            f = tf.extractfile(cand)
        except KeyError:
            continue
        if f is not None:
            return f.read()
    raise StoreError(f"archive member {name!r} is missing")


def _read_json_file(path: str) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except (FileNotFoundError, ValueError):
        return None


def _walk_descriptors(desc: dict[str, Any], load: Callable[[str], dict[str, Any] | None]) -> Iterator[str]:
    """Every digest reachable from a descriptor (children first, so parents are added last)."""
    doc = load(desc["digest"])
    if doc is not None:
        for child in doc.get("manifests", []):
            yield from _walk_descriptors(child, load)
        if "config" in doc:
            yield doc["config"]["digest"]
            for layer in doc.get("layers", []):
                yield layer["digest"]
    yield desc["digest"]


def _oci_name(desc: dict[str, Any], base_name: str) -> str:
    """Name of an OCI index entry: containerd's full-name annotation, else ref.name (+ base)."""
    ann = desc.get("annotations") or {}
    if ann.get("io.containerd.image.name"):
        return ann["io.containerd.image.name"]
    ref_name = ann.get("org.opencontainers.image.ref.name", "")
    if not ref_name:
        return base_name
    if any(c in ref_name for c in ":/@"):
        return ref_name
    if base_name:
        return f"{base_name}:{ref_name}"
    return ""


def _rmtree(path: str) -> None:
    """rmtree that also clears the immutable-ish modes layers may carry (e.g. 0555 dirs)."""
    def onerror(func: Callable[..., Any], p: str, exc: Any) -> None:
        parent = os.path.dirname(p)
        try:
            os.chmod(parent, 0o755)
            func(p)
        except OSError:
            pass
    shutil.rmtree(path, onerror=onerror)


# ---- layer application ----

class _HashReader:
    """Hashes what tarfile reads, so the diff_id is checked without a second pass."""

    def __init__(self, f: IO[bytes]) -> None:
        self.f, self.h = f, hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.h.update(data)
        return data

    def drain(self) -> str:
        while self.read(CHUNK):
            pass
        return "sha256:" + self.h.hexdigest()


def open_layer(f: IO[bytes]) -> IO[bytes]:
    """Decompress by magic bytes: gzip, zstd (if available), or plain tar."""
    head = f.read(4)
    f.seek(0)
    if head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    if head == b"\x28\xb5\x2f\xfd":
        try:
            import zstandard  # type: ignore[import-not-found]
        except ImportError:
            raise StoreError("zstd-compressed layers need the 'zstandard' package") from None
        return zstandard.ZstdDecompressor().stream_reader(f)  # type: ignore[no-any-return]
    return f


def _clean_name(name: str) -> str | None:
    """Tar member name → a relative path inside the layer, or None for the root itself."""
    parts: list[str] = []
    for p in name.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            raise StoreError(f"layer entry {name!r} escapes the layer root")
        parts.append(p)
    return "/".join(parts) or None


def resolve_in_root(root: str, rel: str) -> str:
    """Resolve `rel` inside `root` following symlinks as if `root` were `/` (never escaping it)."""
    parts = [p for p in rel.split("/") if p]
    cur: list[str] = []
    hops = 0
    while parts:
        p = parts.pop(0)
        if p == ".":
            continue
        if p == "..":
            if cur:
                cur.pop()
            continue
        full = os.path.join(root, *cur, p)
        if os.path.islink(full):
            hops += 1
            if hops > 40:
                raise StoreError(f"too many levels of symbolic links resolving {rel!r}")
            target = os.readlink(full)
            if target.startswith("/"):
                cur = []
            parts = [x for x in target.split("/") if x] + parts
            continue
        cur.append(p)
    return os.path.join(root, *cur)


def _remove(path: str) -> None:
    if os.path.islink(path) or not os.path.isdir(path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    else:
        _rmtree(path)


def _find_in_lowers(rel: str, lowers: list[str]) -> str | None:
    for low in lowers:
        p = resolve_in_root(low, rel)
        if os.path.lexists(p):
            return p
    return None


def apply_layer(f: IO[bytes], dest: str, lowers: list[str] | None = None) -> str:
    """Unpack one layer tar (gzip/plain) into `dest` as an overlayfs layer; returns its diff_id.

    `.wh.NAME` becomes a 0/0 character device NAME (an overlay whiteout); `.wh..wh..opq`
    marks its directory opaque with the `trusted.overlay.opaque=y` xattr. Hard links to
    files of lower layers (`lowers`, top first) are copied up. Needs root (mknod, chown).
    """
    lowers = lowers or []
    hr = _HashReader(open_layer(f))
    dir_times: list[tuple[str, int]] = []
    with tarfile.open(fileobj=hr, mode="r|", bufsize=CHUNK) as tf:  # type: ignore[call-overload]
        for m in tf:
            rel = _clean_name(m.name)
            if rel is None:
                if m.isdir():
                    os.chmod(dest, m.mode & 0o7777)
                    os.chown(dest, m.uid, m.gid)
                    dir_times.append((dest, m.mtime))
                continue
            parent_rel, _, base = rel.rpartition("/")
            parent = resolve_in_root(dest, parent_rel)
            if not os.path.isdir(parent):
                if os.path.lexists(parent):
                    _remove(parent)
                os.makedirs(parent, 0o755, exist_ok=True)
            if base.startswith(WHITEOUT_PREFIX):
                if base == WHITEOUT_OPAQUE:
                    os.setxattr(parent, OPAQUE_XATTR, b"y")
                elif not base.startswith(WHITEOUT_META_PREFIX):
                    target = os.path.join(parent, base[len(WHITEOUT_PREFIX):])
                    _remove(target)
                    os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0))
                continue
            path = os.path.join(parent, base)
            _extract_member(tf, m, path, dest, lowers)
            if m.isdir():
                dir_times.append((path, m.mtime))
        diff_id = hr.drain()
    for path, mtime in reversed(dir_times):
        os.utime(path, (mtime, mtime))
    return diff_id


def _extract_member(tf: tarfile.TarFile, m: tarfile.TarInfo, path: str, dest: str, lowers: list[str]) -> None:
    exists = os.path.lexists(path)
    if m.isdir():
        if exists and not (os.path.isdir(path) and not os.path.islink(path)):
            _remove(path)
            exists = False
        if not exists:
            os.mkdir(path, 0o700)
    else:
        if exists:
            _remove(path)
        if m.isreg():
            src = tf.extractfile(m)
            assert src is not None
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
        elif m.issym():
            os.symlink(m.linkname, path)
        elif m.islnk():
            rel = _clean_name(m.linkname) or ""
            target = resolve_in_root(dest, rel)
            if os.path.lexists(target):
                os.link(target, path, follow_symlinks=False)
            else:
                low = _find_in_lowers(rel, lowers)
                if low is None:
                    raise StoreError(f"hard link {m.name} → {m.linkname}: target not found")
                shutil.copy2(low, path, follow_symlinks=False)
            return  # a hard link shares the target's attributes
        elif m.ischr() or m.isblk() or m.isfifo():
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK if m.isblk() else stat.S_IFIFO
            os.mknod(path, kind | (m.mode & 0o7777), os.makedev(m.devmajor, m.devminor))
        else:
            return  # unknown member types (e.g. GNU sparse headers handled by tarfile) are skipped
    os.lchown(path, m.uid, m.gid)
    if not m.issym():
        os.chmod(path, m.mode & 0o7777)
    for key, value in (m.pax_headers or {}).items():
        if key.startswith("SCHILY.xattr."):
            try:
                os.setxattr(path, key[len("SCHILY.xattr."):], value.encode("utf-8", "surrogateescape"),
                            follow_symlinks=False)
            except OSError:
                pass
    if not m.isdir():
        os.utime(path, (m.mtime, m.mtime), follow_symlinks=False)


def chain_ids(diff_ids: list[str]) -> list[str]:
    """OCI ChainID of each layer: chain[0] = diff[0]; chain[n] = sha256(chain[n-1] + " " + diff[n])."""
    out: list[str] = []
    for d in diff_ids:
        out.append(d if not out else sha256_digest(f"{out[-1]} {d}".encode()))
    return out

