"""Build the project's test images from this host's Debian binaries (no network needed).

The machine cannot reach Docker Hub, so `nginx`, `redis` and `busybox` are made here as
real OCI images (an OCI layout directory, then imported or pushed like any image).
What they contain, plainly:

* every image's bottom layer (shared): `busybox-static`'s `/bin/busybox` with a
  symlink per applet in `/bin` (`sh`, `ls`, `wget`, `nc`, …), a minimal `/etc`
  (`passwd`, `group`, `nsswitch.conf`, `hosts`, `os-release`) and the usual empty
  dirs (`/tmp` 1777, `/root`, `/dev`, `/proc`, `/sys`, `/run`, `/var`, ...).
* `busybox:latest` — that layer alone; Cmd `["sh"]`.
* `nginx:1.14.2`, `nginx:1.16.1`, `nginx:latest` — plus Debian `nginx-light`'s
  `/usr/sbin/nginx` with the shared libraries `ldd` lists (copied from the host), an
  `/etc/nginx/nginx.conf` like the official image's (`user nginx`, one worker,
  `/var/log/nginx/access.log` → `/dev/stdout`, `error.log` → `/dev/stderr`, `listen 80`,
  root `/usr/share/nginx/html`), and a top layer with an `index.html` naming the tag.
  The tags differ in that page, the `NGINX_VERSION` env and the
  `org.opencontainers.image.version` label; the binary is the host's nginx (1.22.x) in
  all three. Like the official image: Entrypoint `/docker-entrypoint.sh` (runs
  `/docker-entrypoint.d/*.sh`), Cmd `["nginx", "-g", "daemon off;"]`, StopSignal SIGQUIT,
  port 80/tcp, master as root and workers as nginx (101).
* `redis:latest` — plus Debian `redis-server`'s `redis-server` (a symlink to
  `redis-check-rdb`, as packaged), `redis-cli`, util-linux's `setpriv` and their
  libraries; `/data` owned by redis (999). Like the official image: Entrypoint
  `docker-entrypoint.sh` (as root: chown the working dir, re-run as redis 999), Cmd
  `["redis-server"]`, WorkingDir `/data`, port 6379/tcp, volume `/data`, protected mode
  off by default.
* `kubeling/grpc-health:latest` (optional: built only when asked for, e.g. by the probe
  tests, and only if Debian's `python3-grpcio` is installed) — plus the host's `python3`,
  the standard-library and `grpc` modules a health server loads (found by running it once
  on 127.0.0.1) with their libraries, and `grpc_health_server.py`: the standard
  `grpc.health.v1.Health/Check` on port 9000 (`--fail-after N` answers NOT_SERVING after N
  checks). Entrypoint `["python3", "-S", "/usr/local/lib/grpc_health_server.py"]`.

Layers are deterministic (sorted entries, fixed mtimes, uid/gid from the recipe, gzip
without name or time), so the digests only change when the host binaries change.
Needs the Debian packages busybox-static, nginx-light and redis-server (and util-linux).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import stat
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from . import media
from .store import ImageStore

BUILD_VERSION = "1"
MTIME = 1704067200  # 2024-01-01T00:00:00Z
CREATED = "2024-01-01T00:00:00Z"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NGINX_TAGS = ("1.14.2", "1.16.1", "latest")
APT_PACKAGES = ("busybox-static", "nginx-light", "redis-server")
BUSYBOX = "/bin/busybox"
SETPRIV = "/usr/bin/setpriv"  # util-linux (Essential on Debian)
PYTHON = "/usr/bin/python3"
GRPC_HEALTH = "docker.io/kubeling/grpc-health:latest"
GRPC_SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grpc_health_server.py")


@dataclass
class Entry:
    """One file in a layer: a regular file (data or host source), dir, or symlink."""

    path: str  # relative, no leading slash
    kind: str = "file"  # file | dir | symlink
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    data: bytes | None = None
    source: str = ""  # host file to copy (followed if a symlink)
    target: str = ""  # symlink target


@dataclass
class Layer:
    entries: dict[str, Entry] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)  # host files (for the cache key)

    def add(self, e: Entry) -> None:
        self.entries[e.path] = e
        if e.source:
            self.inputs.append(e.source)

    def dir(self, path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> None:
        self.add(Entry(path.strip("/"), "dir", mode, uid, gid))

    def text(self, path: str, text: str, mode: int = 0o644) -> None:
        self.add(Entry(path.strip("/"), "file", mode, data=text.encode()))

    def symlink(self, path: str, target: str) -> None:
        self.add(Entry(path.strip("/"), "symlink", 0o777, target=target))

    def host_file(self, host_path: str, path: str | None = None) -> None:
        st = os.stat(host_path)
        self.add(Entry((path or host_path).strip("/"), "file", stat.S_IMODE(st.st_mode), source=host_path))

    def binary(self, host_path: str) -> None:
        """A host executable and every library ldd lists, at the same paths (symlinks kept)."""
        if os.path.islink(host_path):
            target = os.readlink(host_path)
            self.symlink(host_path, target)
            self.binary(os.path.join(os.path.dirname(host_path), target) if not target.startswith("/") else target)
            return
        self.host_file(host_path)
        for lib in ldd(host_path):
            self.host_file(os.path.realpath(lib), lib)


def ldd(binary: str) -> list[str]:
    """Paths of the shared libraries (and the dynamic loader) `binary` needs."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True)
    if out.returncode != 0:  # "not a dynamic executable" (static binaries)
        return []
    libs = []
    for line in out.stdout.splitlines():
        m = re.search(r"=>\s+(/\S+)", line) or re.match(r"\s*(/\S+)", line)
        if m:
            libs.append(m.group(1))
    return sorted(set(libs))


def layer_tar(layer: Layer) -> bytes:
    """Deterministic uncompressed tar: parents implied, entries sorted, fixed owner/mtime."""
    entries = dict(layer.entries)
    for p in list(entries):
        parts = p.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            entries.setdefault(parent, Entry(parent, "dir", 0o755))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for path in sorted(entries):
            e = entries[path]
            ti = tarfile.TarInfo(path)
            ti.mode, ti.uid, ti.gid, ti.mtime, ti.uname, ti.gname = e.mode, e.uid, e.gid, MTIME, "", ""
            if e.kind == "dir":
                ti.type = tarfile.DIRTYPE
                tf.addfile(ti)
            elif e.kind == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, e.target
                tf.addfile(ti)
            else:
                data = e.data
                if data is None:
                    with open(e.source, "rb") as f:
                        data = f.read()
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6) as gz:
        gz.write(data)
    return out.getvalue()


# ---- recipes ----

PASSWD = ("root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
          "bin:x:2:2:bin:/bin:/bin/false\nsys:x:3:3:sys:/dev:/bin/false\nwww-data:x:33:33:www-data:/var/www:/bin/false\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
GROUP = ("root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\ntty:x:5:\nwww-data:x:33:\nnogroup:x:65534:\n")


def base_layer() -> Layer:
    """busybox-static + /etc basics: the bottom layer every test image shares."""
    layer = Layer()
    for d in ("bin", "dev", "etc", "home", "proc", "run", "sys", "usr/bin", "usr/sbin", "usr/local/bin",
              "var/log", "var/lib", "var/spool"):
        layer.dir(d)
    layer.dir("root", 0o700)
    layer.dir("tmp", 0o1777)
    layer.dir("var/tmp", 0o1777)
    layer.host_file(BUSYBOX, "bin/busybox")
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for a in sorted(set(applets)):
        if a != "busybox" and "/" not in a:
            layer.symlink(f"bin/{a}", "busybox")
    layer.text("etc/passwd", PASSWD)
    layer.text("etc/group", GROUP)
    layer.text("etc/nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"
                                    "networks: files\nprotocols: files\nservices: files\n")
    layer.text("etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    layer.text("etc/os-release", 'NAME="kubeling test image"\nID=kubeling\nPRETTY_NAME="kubeling test image '
                                 '(busybox-static + Debian binaries)"\n')
    return layer


def nginx_layer() -> Layer:
    layer = Layer()
    layer.binary("/usr/sbin/nginx")
    layer.host_file("/etc/nginx/mime.types")
    layer.text("etc/nginx/nginx.conf", NGINX_CONF)
    layer.text("etc/nginx/conf.d/default.conf", NGINX_DEFAULT_CONF)
    layer.text("etc/passwd", PASSWD + "nginx:x:101:101:nginx user:/nonexistent:/bin/false\n")
    layer.text("etc/group", GROUP + "nginx:x:101:\n")
    layer.dir("var/log/nginx")
    layer.symlink("var/log/nginx/access.log", "/dev/stdout")
    layer.symlink("var/log/nginx/error.log", "/dev/stderr")
    layer.dir("var/lib/nginx")
    layer.dir("var/cache/nginx")
    layer.dir("usr/share/nginx/html")
    layer.text("docker-entrypoint.sh", NGINX_ENTRYPOINT, 0o755)
    layer.dir("docker-entrypoint.d")
    layer.text("usr/share/nginx/html/50x.html", "<!DOCTYPE html>\n<html><head><title>Error</title></head>\n"
                                                "<body><h1>An error occurred.</h1></body></html>\n")
    return layer


def nginx_host_version() -> str:
    out = subprocess.run(["/usr/sbin/nginx", "-v"], capture_output=True, text=True)
    m = re.search(r"nginx/(\S+)", out.stderr + out.stdout)
    return m.group(1) if m else "unknown"


def nginx_tag_layer(tag: str) -> Layer:
    layer = Layer()
    layer.text("usr/share/nginx/html/index.html", NGINX_INDEX.format(tag=tag, host=nginx_host_version()))
    return layer


def redis_layer() -> Layer:
    layer = Layer()
    layer.binary("/usr/bin/redis-server")
    layer.binary("/usr/bin/redis-cli")
    layer.binary(SETPRIV)
    layer.text("usr/local/bin/docker-entrypoint.sh", REDIS_ENTRYPOINT, 0o755)
    layer.text("usr/local/bin/redis-server", REDIS_SERVER_WRAPPER, 0o755)
    layer.text("etc/passwd", PASSWD + "redis:x:999:999::/home/redis:/bin/false\n")
    layer.text("etc/group", GROUP + "redis:x:999:\n")
    layer.dir("data", 0o755, 999, 999)
    return layer


def redis_host_version() -> str:
    out = subprocess.run(["/usr/bin/redis-server", "--version"], capture_output=True, text=True)
    m = re.search(r"v=(\S+)", out.stdout)
    return m.group(1) if m else "unknown"


# The official redis image's entrypoint, same behaviour: options or a *.conf as first argument
# mean redis-server; as root, the working dir (/data) is given to redis and the server runs as
# redis (999) through setpriv (util-linux's, copied from the host, by its path: busybox's sh prefers
# its own applets, and busybox's setpriv cannot change ids).
REDIS_ENTRYPOINT = """#!/bin/sh
set -e

# `docker run redis --appendonly yes` or `redis my.conf`: the arguments are for redis-server
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi

# started as root: hand the data dir to redis and run again as redis (999)
if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
	find . \\! -user redis -exec chown redis '{}' +
	exec /usr/bin/setpriv --reuid=redis --regid=redis --clear-groups -- "$0" "$@"
fi

# redis' own systemd unit uses umask 0077; keep a umask someone set on purpose
if [ "$(umask)" = '0022' ]; then
	umask 0077
fi

exec "$@"
"""

# The official image's redis-server is built with protected mode off (it listens on every
# address of the container and answers other pods without a password); Debian's defaults to on.
REDIS_SERVER_WRAPPER = """#!/bin/sh
# kubeling test image: Debian's redis-server with the official image's default of protected-mode no
for a in "$@"; do
	[ "$a" = "--protected-mode" ] && exec /usr/bin/redis-server "$@"
done
exec /usr/bin/redis-server "$@" --protected-mode no
"""

# The official nginx image's /docker-entrypoint.sh, same behaviour: before `nginx`, run the
# *.sh (and source the *.envsh) in /docker-entrypoint.d in version order, then exec the command.
NGINX_ENTRYPOINT = """#!/bin/sh
set -e

entrypoint_log() {
    if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then
        echo "$@"
    fi
}

if [ "$1" = "nginx" ] || [ "$1" = "nginx-debug" ]; then
    if [ -n "$(find /docker-entrypoint.d/ -mindepth 1 -maxdepth 1 -type f 2>/dev/null)" ]; then
        entrypoint_log "$0: /docker-entrypoint.d/ is not empty, will attempt to perform configuration"
        entrypoint_log "$0: Looking for shell scripts in /docker-entrypoint.d/"
        for f in $(find /docker-entrypoint.d/ -follow -type f | sort -V); do
            case "$f" in
                *.envsh)
                    if [ -x "$f" ]; then entrypoint_log "$0: Sourcing $f"; . "$f"
                    else entrypoint_log "$0: Ignoring $f, not executable"; fi ;;
                *.sh)
                    if [ -x "$f" ]; then entrypoint_log "$0: Launching $f"; "$f"
                    else entrypoint_log "$0: Ignoring $f, not executable"; fi ;;
                *) entrypoint_log "$0: Ignoring $f" ;;
            esac
        done
        entrypoint_log "$0: Configuration complete; ready for start up"
    else
        entrypoint_log "$0: No files found in /docker-entrypoint.d/, skipping configuration"
    fi
fi

exec "$@"
"""
# Run the health server on 127.0.0.1 for a moment and list the module files it loaded.
_LIST_MODULES = """
import sys, importlib.util
sys.path.append("/usr/lib/python3/dist-packages")
spec = importlib.util.spec_from_file_location("grpc_health_server", sys.argv[1])
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
import grpc, argparse
from concurrent import futures
server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("grpc.health.v1.Health", {}),))
server.add_insecure_port("127.0.0.1:0"); server.start(); server.stop(0)
argparse.ArgumentParser().parse_args([])
print("\\n".join(sorted({getattr(x, "__file__", None) or "" for x in list(sys.modules.values())} - {""})))
"""


def grpc_available() -> bool:
    """Debian's python3 and python3-grpcio are installed (the gRPC test image needs them)."""
    return os.path.exists(PYTHON) and os.path.isdir("/usr/lib/python3/dist-packages/grpc")


def grpc_health_layer() -> Layer:
    """python3 + the modules the health server loads (with their .pyc and libraries) + the server."""
    import importlib.util

    out = subprocess.run([PYTHON, "-S", "-c", _LIST_MODULES, GRPC_SERVER], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    layer = Layer()
    layer.binary(os.path.realpath(PYTHON))
    layer.symlink("usr/bin/python3", os.path.basename(os.path.realpath(PYTHON)))
    for path in out:
        if not path.startswith("/usr/lib/python3") or path == GRPC_SERVER:
            continue
        layer.host_file(path)
        if path.endswith(".py"):
            pyc = importlib.util.cache_from_source(path)
            if os.path.exists(pyc):
                layer.host_file(pyc)
        elif path.endswith(".so"):
            for lib in ldd(path):
                layer.host_file(os.path.realpath(lib), lib)
    with open(GRPC_SERVER) as f:
        layer.text("usr/local/lib/grpc_health_server.py", f.read())
    return layer


NGINX_CONF = """user  nginx;
worker_processes  1;

error_log  /var/log/nginx/error.log notice;
pid        /run/nginx.pid;

events {
    worker_connections  1024;
}

http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;

    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';

    access_log  /var/log/nginx/access.log  main;

    sendfile        on;
    keepalive_timeout  65;

    include /etc/nginx/conf.d/*.conf;
}
"""

NGINX_DEFAULT_CONF = """server {
    listen       80;
    listen  [::]:80;
    server_name  localhost;

    location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }

    error_page   500 502 503 504  /50x.html;
    location = /50x.html {
        root   /usr/share/nginx/html;
    }
}
"""

NGINX_INDEX = """<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>kubeling test image nginx:{tag} (binary: Debian nginx {host})</p>
</body>
</html>
"""


@dataclass
class ImageSpec:
    name: str  # full reference, e.g. docker.io/library/nginx:1.14.2
    layers: list[Callable[[], Layer]]
    config: dict[str, Any]
    optional: bool = False  # built only when asked for by name (`only`)


def specs() -> list[ImageSpec]:
    """Every test image the project builds."""
    out = [ImageSpec("docker.io/library/busybox:latest", [base_layer],
                     {"Env": [PATH_ENV], "Cmd": ["sh"],
                      "Labels": {"org.opencontainers.image.description": "kubeling test image: busybox-static"}})]
    for tag in NGINX_TAGS:
        version = nginx_host_version() if tag == "latest" else tag
        out.append(ImageSpec(
            f"docker.io/library/nginx:{tag}", [base_layer, nginx_layer, lambda t=tag: nginx_tag_layer(t)],
            {"Env": [PATH_ENV, f"NGINX_VERSION={version}"], "Entrypoint": ["/docker-entrypoint.sh"],
             "Cmd": ["nginx", "-g", "daemon off;"], "ExposedPorts": {"80/tcp": {}}, "StopSignal": "SIGQUIT",
             "Labels": {"org.opencontainers.image.version": version,
                        "org.opencontainers.image.description": f"kubeling test image: nginx:{tag} "
                                                                "(Debian nginx-light binary)"}}))
    out.append(ImageSpec(
        "docker.io/library/redis:latest", [base_layer, redis_layer],
        {"Env": [PATH_ENV, f"REDIS_VERSION={redis_host_version()}"], "Entrypoint": ["docker-entrypoint.sh"],
         "Cmd": ["redis-server"], "WorkingDir": "/data", "ExposedPorts": {"6379/tcp": {}}, "Volumes": {"/data": {}},
         "Labels": {"org.opencontainers.image.description": "kubeling test image: redis (Debian redis-server)"}}))
    out.append(ImageSpec(
        GRPC_HEALTH, [base_layer, grpc_health_layer],
        {"Env": [PATH_ENV, "PYTHONPATH=/usr/lib/python3/dist-packages"],
         "Entrypoint": ["python3", "-S", "/usr/local/lib/grpc_health_server.py"], "Cmd": ["--port", "9000"],
         "ExposedPorts": {"9000/tcp": {}},
         "Labels": {"org.opencontainers.image.description": "kubeling test image: gRPC health server "
                                                            "(Debian python3-grpcio)"}}, optional=True))
    return out


def _wanted(spec: ImageSpec, only: list[str] | None) -> bool:
    """`only` names images by repository (busybox, nginx, kubeling/grpc-health); optional images
    are built only when named."""
    if not only:
        return not spec.optional
    repo = spec.name.removeprefix("docker.io/").removeprefix("library/").split(":")[0]
    return any(repo == o or spec.name.startswith(f"docker.io/library/{o}") for o in only)


# ---- OCI layout writer ----

class LayoutWriter:
    """Writes blobs and an index.json into an OCI image layout directory."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.blobs = os.path.join(root, "blobs", "sha256")
        os.makedirs(self.blobs, exist_ok=True)
        with open(os.path.join(root, "oci-layout"), "w") as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')

    def put(self, data: bytes) -> str:
        hx = hashlib.sha256(data).hexdigest()
        path = os.path.join(self.blobs, hx)
        if not os.path.exists(path):
            tmp = path + ".tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        return "sha256:" + hx

    def index(self) -> dict[str, Any]:
        try:
            with open(os.path.join(self.root, "index.json")) as f:
                return json.load(f)
        except FileNotFoundError:
            return {"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": []}

    def set_ref(self, name: str, desc: dict[str, Any]) -> None:
        idx = self.index()
        idx["manifests"] = [m for m in idx["manifests"]
                            if (m.get("annotations") or {}).get("io.containerd.image.name") != name] + [desc]
        idx["manifests"].sort(key=lambda m: m["annotations"]["io.containerd.image.name"])
        tmp = os.path.join(self.root, "index.json.tmp")
        with open(tmp, "w") as f:
            json.dump(idx, f, indent=1, sort_keys=True)
        os.replace(tmp, os.path.join(self.root, "index.json"))


def _fingerprint(spec: ImageSpec, layers: list[Layer]) -> str:
    h = hashlib.sha256(f"{BUILD_VERSION}\n{spec.name}\n{json.dumps(spec.config, sort_keys=True)}\n".encode())
    for layer in layers:
        for p in sorted(set(layer.inputs)):
            st = os.stat(p)
            h.update(f"{p} {st.st_size} {st.st_mtime_ns}\n".encode())
        for path in sorted(layer.entries):
            e = layer.entries[path]
            h.update(f"{path} {e.kind} {e.mode} {e.uid} {e.gid} {e.target} {e.source}\n".encode())
            if e.data is not None:
                h.update(hashlib.sha256(e.data).digest())
    return h.hexdigest()


def build_image(spec: ImageSpec, out: LayoutWriter, layer_cache: dict[str, tuple[Layer, bytes, str]]) -> str:
    """Build one image into the layout unless an identical build is already there; returns its digest."""
    layers = []
    for make in spec.layers:
        key = f"{make.__name__}:{make.__defaults__}"  # type: ignore[attr-defined]
        if key not in layer_cache:
            layer_cache[key] = (make(), b"", "")
        layers.append(layer_cache[key][0])
    fp = _fingerprint(spec, layers)
    for m in out.index()["manifests"]:
        ann = m.get("annotations") or {}
        if ann.get("io.containerd.image.name") == spec.name and ann.get("io.kubeling.build.key") == fp:
            if os.path.exists(os.path.join(out.blobs, m["digest"].split(":")[1])):
                return str(m["digest"])
    descs, diff_ids = [], []
    for make in spec.layers:
        key = f"{make.__name__}:{make.__defaults__}"  # type: ignore[attr-defined]
        layer, gz, diff_id = layer_cache[key]
        if not gz:
            raw = layer_tar(layer)
            diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
            gz = gzip_bytes(raw)
            layer_cache[key] = (layer, gz, diff_id)
        descs.append({"mediaType": media.OCI_LAYER_GZIP, "digest": out.put(gz), "size": len(gz)})
        diff_ids.append(diff_id)
    config = {"architecture": "amd64", "os": "linux", "created": CREATED,
              "config": spec.config, "rootfs": {"type": "layers", "diff_ids": diff_ids},
              "history": [{"created": CREATED, "created_by": f"kubeling images build ({make.__name__})"}
                          for make in spec.layers]}
    cfg = media.canonical_json(config)
    manifest = {"schemaVersion": 2, "mediaType": media.OCI_MANIFEST,
                "config": {"mediaType": media.OCI_CONFIG, "digest": out.put(cfg), "size": len(cfg)},
                "layers": descs}
    mb = media.canonical_json(manifest)
    digest = out.put(mb)
    out.set_ref(spec.name, {"mediaType": media.OCI_MANIFEST, "digest": digest, "size": len(mb),
                            "annotations": {"io.containerd.image.name": spec.name,
                                            "org.opencontainers.image.ref.name": spec.name,
                                            "io.kubeling.build.key": fp}})
    return digest


def missing_packages() -> list[str]:
    need = {"busybox-static": BUSYBOX, "nginx-light": "/usr/sbin/nginx", "redis-server": "/usr/bin/redis-server"}
    return [pkg for pkg, path in need.items() if not os.path.exists(path)]


def build_images(layout_dir: str, only: list[str] | None = None) -> dict[str, str]:
    """Build (or reuse) the test images in an OCI layout dir → {full name: manifest digest}."""
    missing = missing_packages()
    if missing:
        raise RuntimeError(f"building the test images needs the Debian packages: {' '.join(missing)} "
                           f"(apt-get install -y {' '.join(APT_PACKAGES)})")
    out = LayoutWriter(layout_dir)
    cache: dict[str, tuple[Layer, bytes, str]] = {}
    result = {}
    for spec in specs():
        if not _wanted(spec, only):
            continue
        if spec.name == GRPC_HEALTH and not grpc_available():
            raise RuntimeError("the gRPC test image needs the Debian package python3-grpcio")
        result[spec.name] = build_image(spec, out, cache)
    return result


def default_cache_dir(data_dir: str) -> str:
    return os.path.join(data_dir, "agent", "images", "build")


def ensure_test_images(data_dir: str, cache_dir: str | None = None, only: list[str] | None = None
                       ) -> dict[str, str]:
    """Build what's missing into the cache dir and import it into the node's image store.

    Returns {short name: full reference}, e.g. {"nginx:1.14.2": "docker.io/library/nginx:1.14.2"}.
    The store is `DATA/agent/images`; the cache (an OCI layout) defaults to
    `DATA/agent/images/build` and is reused while the host binaries are unchanged.
    """
    layout = cache_dir or default_cache_dir(data_dir)
    built = build_images(layout, only)
    store = ImageStore(os.path.join(data_dir, "agent", "images"))
    todo = [n for n, d in built.items() if (rec := store.get(n)) is None or rec.target != d]
    if todo:
        for rec in store.import_oci_layout(layout, todo):
            store.unpack(rec)
    return {n.removeprefix("docker.io/library/"): n for n in built}


async def push_test_images(data_dir: str, url: str, names: list[str] | None = None) -> list[str]:
    """Push stored images (default: every test image) to the registry at `url`
    (`http://127.0.0.1:5000`) under the same repository paths (`library/nginx:1.14.2`),
    so a `docker.io` mirror pointing at `url` serves them. Returns the pushed references."""
    from urllib.parse import urlsplit

    from .reference import parse
    from .registries import RegistryConfig
    from .registry import RegistryClient

    url = url if "://" in url else f"http://{url}"
    host = urlsplit(url).netloc
    store = ImageStore(os.path.join(data_dir, "agent", "images"))
    pushed = []
    async with RegistryClient(RegistryConfig(mirrors={host: {"endpoint": [url]}})) as client:
        for name in names or [s.name for s in specs() if not s.optional]:
            rec = store.get(name)
            if rec is None:
                raise RuntimeError(f"image {name} is not in the store; run `kubeling images build` first")
            ref = parse(name)
            dest = f"{host}/{ref.path}:{ref.tag or 'latest'}"
            await client.push(store, rec, dest)
            pushed.append(f"{dest}@{rec.target}")
    return pushed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kubeling.kubelet.images.build", description=__doc__.split("\n")[0])
    p.add_argument("--out", default="build/images", help="OCI layout directory to write")
    p.add_argument("--only", action="append", help="image name (busybox, nginx, redis, kubeling/grpc-health); "
                                                    "repeatable")
    args = p.parse_args(argv)
    t0 = time.monotonic()
    for name, digest in build_images(args.out, args.only).items():
        print(f"{name}\t{digest}")
    print(f"built in {time.monotonic() - t0:.2f}s into {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

