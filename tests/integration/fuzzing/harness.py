"""The fuzz loop: hypothesis draws cases, `Fuzzer` turns them into HTTPS requests and judges them.

One case is one request (plus, for PUT, the GET of the object it replaces): a create, update,
JSON/merge/strategic patch, apply (YAML or JSON), delete with options, subresource write, raw
hostile body, bad query or bad Authorization header. Every `batch` cases the fuzzer LISTs every
resource and type-checks each stored object, then moves to a fresh namespace.
"""

from __future__ import annotations

import json
import os
import random
import time
from typing import Any, Callable

import requests  # type: ignore[import-untyped]
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from . import corpus, oracles
from .gen import SENTINEL, Gen, get_path, patch_for, pointer, set_path
from .oracles import Tally, check_response
from .schema import Operation, ServedAPI

JSON, YAML = "application/json", "application/yaml"
PATCH_TYPES = {"json-patch": "application/json-patch+json", "merge-patch": "application/merge-patch+json",
               "strategic-merge-patch": "application/strategic-merge-patch+json", "apply": "application/apply-patch+yaml"}
# case kinds, repeated by weight
CASES = (["create"] * 6 + ["update"] * 4 + ["json-patch"] * 3 + ["merge-patch"] * 3 + ["strategic-merge-patch"] * 3
         + ["apply"] * 4 + ["delete"] * 2 + ["raw-json"] * 2 + ["raw-yaml"] * 2 + ["raw-bytes"] + ["query"] * 3 + ["auth"])
_POD_SPEC = {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}
_TEMPLATE = {"metadata": {"labels": {"app": "fz"}}, "spec": _POD_SPEC}
_SELECTOR = {"matchLabels": {"app": "fz"}}
# valid objects for kinds a schema walk rarely makes valid (so updates and patches have targets)
SEEDS: dict[str, dict[str, Any]] = {
    "Pod": {"spec": _POD_SPEC},
    "Service": {"spec": {"selector": {"app": "fz"}, "ports": [{"port": 80, "name": "http"}]}},
    "Deployment": {"spec": {"replicas": 1, "selector": _SELECTOR, "template": _TEMPLATE}},
    "ReplicaSet": {"spec": {"replicas": 1, "selector": _SELECTOR, "template": _TEMPLATE}},
    "StatefulSet": {"spec": {"replicas": 1, "serviceName": "x", "selector": _SELECTOR, "template": _TEMPLATE}},
    "DaemonSet": {"spec": {"selector": _SELECTOR, "template": _TEMPLATE}},
    "ReplicationController": {"spec": {"replicas": 1, "selector": {"app": "fz"}, "template": _TEMPLATE}},
    "Job": {"spec": {"template": {"spec": {**_POD_SPEC, "restartPolicy": "Never"}}}},
    "CronJob": {"spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {**_POD_SPEC, "restartPolicy": "Never"}}}}}},
    "ConfigMap": {"data": {"a": "b"}}, "Secret": {"data": {"a": "aGVsbG8="}}, "ServiceAccount": {},
    "PersistentVolumeClaim": {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
    "HorizontalPodAutoscaler": {"spec": {"maxReplicas": 2, "scaleTargetRef": {"kind": "Deployment", "name": "x", "apiVersion": "apps/v1"}}},
    "PodDisruptionBudget": {"spec": {"minAvailable": 1, "selector": _SELECTOR}},
    "Role": {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
}


def fetch_api(get: Callable[[str], requests.Response]) -> ServedAPI:
    index = get("/openapi/v3").json()["paths"]
    return ServedAPI([get(ref["serverRelativeURL"]).json() for ref in index.values()])


class ServerGone(Exception):
    """The server process exited (or was killed by a guard): stop fuzzing, keep the counts."""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Fuzzer:
    """Sends fuzz cases to one cluster and keeps the `Tally` of what the oracles found."""

    def __init__(self, url: str, session: requests.Session, pid: int, log_path: str = "", big: bool = False,
                 bomb: tuple[int, int] = (4, 4), batch: int = 150, timeout: float = 60.0) -> None:
        self.url, self.s, self.pid, self.log_path = url, session, pid, log_path
        self.big, self.bomb, self.batch, self.timeout = big, bomb, batch, timeout
        self.api = fetch_api(lambda p: self.s.get(url + p, timeout=timeout))
        self.tally = Tally()
        self.by_gvk = {(g["group"] + "/" + g["version"]).lstrip("/") + ":" + g["kind"]: n
                       for n, sc in self.api.schemas.items() for g in sc.get("x-kubernetes-group-version-kind", [])}
        self.ops = {m: [o for o in self.api.ops if o.method == m] for m in ("post", "put", "patch", "delete")}
        self.targets: dict[str, list[str]] = {}  # collection path template → names (current namespace only)
        self.ns, self.ns_count, self.cases_run = "", 0, 0
        self.last_rss_kib = rss_kib(pid)
        self.last_write: dict[tuple[str, ...], str] = {}  # object → the last 2xx write of it (for findings)
        self.log_start = os.path.getsize(log_path) if log_path and os.path.exists(log_path) else 0

    # -- requests ------------------------------------------------------------------------------

    def send(self, case: str, method: str, path: str, body: bytes | None = None, ctype: str = JSON,
             params: dict[str, Any] | None = None, headers: dict[str, Any] | None = None,
             watch: bool = False) -> tuple[int, Any]:
        """One judged request (`watch`: a LIST that upstream serves as a watch); (status, parsed body)."""
        params = {k: v for k, v in (params or {}).items() if v is not None}
        h = {"Content-Type": ctype, **(headers or {})}
        shown = {k: v if len(str(v)) <= 40 else f"{str(v)[:20]}…({len(str(v))} chars)" for k, v in params.items()}
        desc = f"{method} {path} ?{shown} [{ctype}] {body[:400]!r}" if body is not None else f"{method} {path} ?{shown}"
        self.tally.by_case[case] += 1
        try:
            r = self.s.request(method, self.url + path, data=body, params=params, headers=h, stream=watch,
                               timeout=(10, 0.5 if watch else self.timeout))
        except requests.RequestException as e:
            if not alive(self.pid):
                raise ServerGone(desc) from e
            self.tally.requests += 1
            self.tally.find(oracles.NO_ANSWER, type(e).__name__, desc, 0, str(e))
            return 0, None
        if watch and r.status_code == 200:
            self.tally.requests += 1
            self.tally.by_status[200] += 1
            self.check_watch_events(r, desc)
            return 200, None
        text = r.text
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        warnings = [v for k, v in r.raw.headers.items() if k.lower() == "warning"]
        check_response(self.tally, desc, ctype, r.status_code, text, parsed, warnings)
        if method != "GET" and r.status_code < 300 and isinstance(parsed, dict) and parsed.get("kind") not in (None, "Status"):
            self.check_object(parsed, "returned", desc, write=f"{method} {ctype}")
            if not params.get("dryRun"):
                self.last_write[self.object_key(parsed)] = desc
        self.watch_rss(case, desc, r.status_code)
        return r.status_code, parsed

    def check_watch_events(self, r: requests.Response, desc: str, most: int = 2) -> None:
        """The first events of an accepted watch are `{"type": ..., "object": {...}}` lines."""
        try:
            for n, line in enumerate(r.iter_lines()):
                if n >= most:
                    break
                event = json.loads(line) if line else None
                if line and not (isinstance(event, dict) and isinstance(event.get("object"), dict)
                                 and event.get("type") in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR")):
                    self.tally.find(oracles.BAD_WATCH_EVENT, line[:80].decode("utf-8", "replace"), desc, 200,
                                    line[:600].decode("utf-8", "replace"))
                    break
        except (requests.RequestException, ValueError):
            pass  # a quiet watch (read timeout) or a cut stream says nothing about the events
        finally:
            r.close()

    def watch_rss(self, case: str, desc: str, status: int) -> None:
        """Track peak RSS, its growth by case kind, and the request after which it jumped."""
        try:
            now = rss_kib(self.pid)
        except OSError:
            return
        self.tally.rss_growth_kib[case] += max(0, now - self.last_rss_kib)
        if now - self.last_rss_kib > 32 * 1024:
            self.tally.find(oracles.RSS_JUMP, f"+{(now - self.last_rss_kib) // 1024} MiB",
                            desc, status, f"RSS now {now // 1024} MiB")
        self.last_rss_kib = now
        self.tally.peak_rss_kib = max(self.tally.peak_rss_kib, now)

    def check_object(self, obj: dict[str, Any], how: str, desc: str, schema_name: str = "", write: str = "") -> bool:
        """Type-check one object against its served schema; record a finding if it fails."""
        schema_name = schema_name or self.by_gvk.get(f"{obj.get('apiVersion')}:{obj.get('kind')}", "")
        if not schema_name:
            return True
        errors = list(self.api.check(obj, {"$ref": "#/components/schemas/" + schema_name}))
        meta = obj.get("metadata")
        if how == "stored" and not (isinstance(meta, dict) and isinstance(meta.get("name"), str) and meta["name"]):
            errors.append("metadata.name missing or not a string")
        if errors:
            kind = schema_name.rsplit(".", 1)[-1]
            key = self.object_key(obj, kind)
            desc = self.last_write.get(key, desc) if how == "stored" else desc  # the write that stored it
            if how == "stored" and key in self.tally.wrongly_typed_keys:
                return False  # seen by an earlier LIST: count each stored object once
            if how == "stored":
                self.tally.wrongly_typed_keys.add(key)
            self.tally.find(oracles.TYPED_STORED if how == "stored" else oracles.TYPED_RETURNED, f"{kind}: {errors[0][:120]}", desc, 0,
                            json.dumps(obj)[:600])
            if write:  # which write path let it through: method and content type
                self.tally.typed_by_write[write] += 1
        return not errors

    @staticmethod
    def object_key(obj: dict[str, Any], kind: str = "") -> tuple[str, ...]:
        m = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        return (kind or str(obj.get("kind")), str(m.get("namespace")), str(m.get("name")), str(m.get("uid")))

    # -- namespaces, targets, seeds ------------------------------------------------------------

    def fill(self, op: Operation, rnd: random.Random | None = None) -> str | None:
        """The URL of `op` in the current namespace, `{name}` a live target (None if there is none)."""
        path = op.path.replace("{namespace}", self.ns)
        if "{name}" in path:
            names = self.targets.get(op.collection, [])
            if not names:
                return None
            path = path.replace("{name}", rnd.choice(names) if rnd else names[-1])
        return path

    @staticmethod
    def target(path: str, op: Operation) -> str:
        """The `{name}` that `fill` put into `path`."""
        return path.split("/")[op.path.split("/").index("{name}")]

    def new_namespace(self, rnd: random.Random) -> None:
        """A fresh namespace with one seed per kind the schema walk rarely gets valid."""
        if self.ns:
            self.send("seed", "DELETE", f"/api/v1/namespaces/{self.ns}")
        self.ns_count += 1
        self.ns = f"fz-ns-{self.ns_count}-{rnd.randrange(16**6):06x}"
        self.send("seed", "POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": self.ns}}).encode())
        self.targets = {k: v for k, v in self.targets.items() if "{namespace}" not in k}
        for op in self.ops["post"]:
            if "{name}" in op.path or not op.namespaced or op.kind not in SEEDS:
                continue
            body = {"apiVersion": op.api_version, "kind": op.kind, "metadata": {"name": "fz-seed"}, **SEEDS[op.kind]}
            status, _ = self.send("seed", "POST", self.fill(op) or "", json.dumps(body).encode())
            if status == 201:
                self.targets.setdefault(op.path, []).append("fz-seed")

    def check_stored(self) -> None:
        """LIST every resource and type-check every stored object."""
        for listing in self.api.lists:
            status, body = self.send("list-check", "GET", listing.path)
            if status != 200 or not isinstance(body, dict):
                continue
            for item in body.get("items") or []:
                self.tally.stored_checked += 1
                if isinstance(item, dict):
                    self.check_object(item, "stored", f"GET {listing.path}", listing.item)
                else:
                    self.tally.find(oracles.TYPED_STORED, "list item not an object", listing.path, 200, repr(item))
        self.tally.peak_rss_kib = max(self.tally.peak_rss_kib, rss_kib(self.pid))

    def finish(self, check: bool = True) -> None:
        """A last stored check and the server log's growth and tracebacks."""
        if check:
            self.check_stored()
        if self.log_path and os.path.exists(self.log_path):
            self.tally.log_bytes = os.path.getsize(self.log_path) - self.log_start
            with open(self.log_path, "rb") as f:
                f.seek(self.log_start)
                self.tally.log_tracebacks = sum(chunk.count(b"Traceback (most recent call last)")
                                                for chunk in iter(lambda: f.read(1 << 20), b""))

    # -- one case --------------------------------------------------------------------------------

    def run_case(self, case: dict[str, Any]) -> None:
        rnd = random.Random(case["seed"])
        if not self.ns or self.cases_run % self.batch == 0:
            if self.ns:
                self.check_stored()
            self.new_namespace(rnd)
        self.cases_run += 1
        getattr(self, "case_" + case["kind"].replace("-", "_"))(case, rnd, Gen(self.api, rnd, self.big))

    def _pick(self, method: str, case: dict[str, Any], want: Callable[[Operation], bool] = lambda o: True) -> Operation:
        """The case's operation among those of `method` that `want` and that have a live target."""
        ops = [o for o in self.ops[method] if want(o) and ("{name}" not in o.path or self.targets.get(o.collection))]
        return ops[case["op"] % len(ops)]

    def _body_for(self, op: Operation, gen: Gen, name: str) -> dict[str, Any]:
        gvk = self.api.schemas[op.body].get("x-kubernetes-group-version-kind", [])
        own = [g for g in gvk if g["kind"] == op.kind] or gvk
        api_version = (f"{own[0]['group']}/{own[0]['version']}".lstrip("/")) if own else op.api_version
        kind = own[0]["kind"] if own else op.kind
        obj = gen.obj(op.body, api_version, kind, name, self.ns if op.namespaced else None)
        if kind in SEEDS and op.kind == kind and gen.rnd.random() < 0.5:
            obj.update(json.loads(json.dumps(SEEDS[kind])))
        return obj

    def _mutated(self, obj: dict[str, Any], schema: str, case: dict[str, Any], gen: Gen) -> dict[str, Any]:
        return gen.mutate(obj, schema)[0] if case["hostile"] else obj

    def _encode(self, obj: Any, rnd: random.Random) -> tuple[bytes, str]:
        if rnd.random() < 0.25:
            return yaml.safe_dump(obj, width=10**9).encode("utf-8", "surrogatepass"), YAML
        return json.dumps(obj).encode("utf-8", "surrogatepass"), JSON

    def case_create(self, case: dict[str, Any], rnd: random.Random, gen: Gen) -> None:
        op = self._pick("post", case)
        path = self.fill(op, rnd)
        if path is None:
            return
        target = self.target(path, op) if "{name}" in op.path else gen.name()
        obj = self._mutated(self._body_for(op, gen, target), op.body, case, gen)
        body, ctype = self._encode(obj, rnd)
        status, _ = self.send("create", "POST", path, body, ctype, case["params"])
        if status == 201 and "{name}" not in op.path and not case["params"].get("dryRun"):
            self.targets.setdefault(op.path, []).append(target)

    def case_update(self, case: dict[str, Any], rnd: random.Random, gen: Gen) -> None:
        op = self._pick("put", case)
        path = self.fill(op, rnd)
        if path is None:
            return
        name = self.target(path, op)
        current: Any = None
        if rnd.random() < 0.6 and op.subresource != "finalize":
            status, current = self.send("update", "GET", path)
        if not isinstance(current, dict) or current.get("kind") in (None, "Status"):
            current = self._body_for(op, gen, name)
        obj = self._mutated(current, op.body, case, gen)
        body, ctype = self._encode(obj, rnd)
        self.send("update", "PUT", path, body, ctype, case["params"])

    def _patch(self, case: dict[str, Any], rnd: random.Random, gen: Gen, ptype: str) -> None:
        op = self._pick("patch", case)
        path = self.fill(op, rnd)
        if path is None:
            return
        name = self.target(path, op)
        base = self._body_for(op, gen, name)
        sites = gen.sites(base, {"$ref": "#/components/schemas/" + op.body})
        site, schema = rnd.choice(sites[1:] or sites)
        value = gen.hostile(schema) if case["hostile"] else get_path(base, site)
        params = dict(case["params"])
        ctype = PATCH_TYPES[ptype]
        if ptype == "json-patch":
            doc: Any = [{"op": rnd.choice(["add", "replace"]), "path": pointer(site), "value": value}]
            if rnd.random() < 0.25:
                doc = corpus.json_patch_hostile(rnd, pointer(site), value)
            body = doc.encode() if isinstance(doc, str) else json.dumps(doc).encode("utf-8", "surrogatepass")
        elif ptype == "apply":
            obj = set_path(base, site, value) if site else base
            params["fieldManager"] = params.get("fieldManager") or "fz"
            params["force"] = rnd.choice([None, "true", "false", "maybe"])
            body, _ = self._encode(obj, rnd)
        else:
            doc = patch_for(site, value) if site else {"metadata": {"labels": value}}
            if ptype == "strategic-merge-patch" and rnd.random() < 0.3:
                doc = corpus.smp_directives(rnd, doc)
            body = json.dumps(doc).encode("utf-8", "surrogatepass")
            if rnd.random() < 0.08:
                body = corpus.merge_patch_depth(rnd.choice([100, 1000, 10_001, 30_000]))
        self.send(ptype, "PATCH", path, body, ctype, params)

    def case_json_patch(self, case: dict[str, Any], rnd: random.Random, gen: Gen) -> None:
        self._patch(case, rnd, gen, "json-patch")

    def case_merge_patch(self, case: dict[str, Any], rnd: random.Random, gen: Gen) -> None:
        self._patch(case, rnd, gen, "merge-patch")

    def case_strategic_merge_patch(self, case: dict[str, Any], rnd: random.Random, gen: Gen) -> None:
        self._patch(case, rnd, gen, "strategic-merge-patch")

    def case_apply(self, case: dict[str, Any], rnd: random.Random, gen: Gen) -> None:
        self._patch(case, rnd, gen, "apply")

    def case_delete(self, case: dict[str, Any], rnd: random.Random, gen: Gen) -> None:
        op = self._pick("delete", case, lambda o: o.action == "delete")
        path = self.fill(op, rnd)
        if path is None:
            return
        opts = gen.value({"$ref": "#/components/schemas/" + op.body})
        if case["hostile"]:
            opts = gen.mutate(opts, op.body)[0]
        params = {k: rnd.choice(corpus.BAD_QUERY[k]) for k in ("propagationPolicy", "gracePeriodSeconds") if rnd.random() < 0.2}
        status, _ = self.send("delete", "DELETE", path, json.dumps(opts).encode("utf-8", "surrogatepass"), JSON,
                              {**case["params"], **params})
        name = self.target(path, op)
        if status in (200, 202) and not case["params"].get("dryRun") and name in self.targets[op.collection]:
            self.targets[op.collection].remove(name)

    def _raw_target(self, case: dict[str, Any], rnd: random.Random, gen: Gen) -> tuple[str, str, Operation, dict[str, Any]] | None:
        """A create, update or apply with SENTINEL at one random field of a valid-ish object."""
        method = rnd.choice(["post", "put", "patch"])
        op = self._pick(method, case, lambda o: "{name}" not in o.path or o.method != "post")
        path = self.fill(op, rnd)
        if path is None:
            return None
        name = gen.name() if method == "post" else self.target(path, op)
        obj = self._body_for(op, gen, name)
        sites = gen.sites(obj, {"$ref": "#/components/schemas/" + op.body})
        site, _ = rnd.choice(sites[1:] or sites)
        return method.upper(), path, op, set_path(obj, site, SENTINEL)

    def case_raw_json(self, case: dict[str, Any], rnd: random.Random, gen: Gen) -> None:
        t = self._raw_target(case, rnd, gen)
        if t:
            method, path, _, obj = t
            ctype = PATCH_TYPES["merge-patch"] if method == "PATCH" else JSON
            self.send("raw-json", method, path, corpus.json_text(obj, rnd), ctype, case["params"])

    def case_raw_yaml(self, case: dict[str, Any], rnd: random.Random, gen: Gen) -> None:
        t = self._raw_target(case, rnd, gen)
        if t:
            method, path, _, obj = t
            ctype = PATCH_TYPES["apply"] if method == "PATCH" else YAML
            params = {**case["params"], "fieldManager": "fz"} if method == "PATCH" else case["params"]
            self.send("raw-yaml", method, path, corpus.yaml_doc(obj, rnd, self.bomb), ctype, params)

    def case_raw_bytes(self, case: dict[str, Any], rnd: random.Random, gen: Gen) -> None:
        """Arbitrary bytes or JSON values under any content type, to any write path."""
        method = rnd.choice(["post", "put", "patch", "delete"])
        path = self.fill(self._pick(method, case), rnd)
        if path is None:
            return
        body = rnd.choice([rnd.randbytes(rnd.randrange(200)), json.dumps(corpus.random_json(rnd)).encode(),
                           b"k8s\x00" + rnd.randbytes(rnd.randrange(64))])
        self.send("raw-bytes", method.upper(), path, body, rnd.choice(corpus.CONTENT_TYPES), case["params"])

    def case_query(self, case: dict[str, Any], rnd: random.Random, gen: Gen) -> None:
        """Bad query parameters on a LIST, WATCH or GET; odd but valid ones on a LIST must be 200."""
        if rnd.random() < 0.25:
            path = rnd.choice(self.api.lists).path
            params = rnd.choice(corpus.VALID_QUERY)
            status, body = self.send("query", "GET", path, params=params)
            if status != 200:
                self.tally.find(oracles.VALID_QUERY_REFUSED, f"{params} → {status}", f"GET {path} ?{params}",
                                status, str(body)[:300])
            return
        op = self._pick("post", case, lambda o: "{name}" not in o.path)
        path = rnd.choice(self.api.lists).path if rnd.random() < 0.2 else self.fill(op) or ""
        item = bool(self.targets.get(op.path)) and rnd.random() < 0.3  # a GET: GetOptions have no watch
        if item:
            path = f"{self.fill(op)}/{rnd.choice(self.targets[op.path])}"
        keys = rnd.sample(sorted(corpus.BAD_QUERY), rnd.choice([1, 1, 2, 3]))
        params = {k: rnd.choice(corpus.BAD_QUERY[k]) for k in keys}
        # k8s.io/apimachinery Convert_Slice_string_To_bool: only "0" and "false" (any case) are false
        watch = "watch" in params and params["watch"] != "0" and params["watch"].lower() != "false"
        if watch and "timeoutSeconds" not in params:
            params["timeoutSeconds"] = "1"
        self.send("query", "GET", path, params=params, watch=watch and not item)

    def case_auth(self, case: dict[str, Any], rnd: random.Random, gen: Gen) -> None:
        s, self.s = self.s, requests.Session()
        self.s.verify, self.s.trust_env = s.verify, False
        try:
            header = rnd.choice(corpus.AUTH_HEADERS)
            path = rnd.choice(self.api.lists).path
            status, body = self.send("auth", "GET", path, headers={"Authorization": header})
            if status not in (401, 403):  # bad credentials are unauthenticated (401) or anonymous (403)
                self.tally.find(oracles.BAD_CREDENTIALS, str(status), f"GET {path} Authorization: {header!r:.80}",
                                status, str(body)[:300])
        finally:
            self.s.close()
            self.s = s

    # -- after the fuzzing -----------------------------------------------------------------------

    def controllers_work(self, wait: float = 60.0) -> str:
        """'' if a Deployment made now gets a ReplicaSet and 2 Running pods; else what is missing."""
        ns = f"fz-after-{self.ns_count}"
        self.s.post(f"{self.url}/api/v1/namespaces", json={"metadata": {"name": ns}}, timeout=self.timeout)
        dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "after"}, **SEEDS["Deployment"]}
        dep["spec"] = {**dep["spec"], "replicas": 2}
        r = self.s.post(f"{self.url}/apis/apps/v1/namespaces/{ns}/deployments", json=dep, timeout=self.timeout)
        if r.status_code != 201:
            return f"create Deployment: {r.status_code} {r.text[:300]}"
        deadline, last = time.monotonic() + wait, ""
        while time.monotonic() < deadline:
            rs = self.s.get(f"{self.url}/apis/apps/v1/namespaces/{ns}/replicasets", timeout=self.timeout).json()
            pods = self.s.get(f"{self.url}/api/v1/namespaces/{ns}/pods", timeout=self.timeout).json()
            got = [p for p in pods.get("items", []) if p.get("status", {}).get("phase") == "Running"]
            if rs.get("items") and len(got) >= 2:
                return ""
            last = f"{len(rs.get('items', []))} ReplicaSets, {len(got)} Running pods"
            time.sleep(0.5)
        return f"after {wait:.0f}s: {last}"


def case_strategy(kinds: tuple[str, ...] = ()) -> st.SearchStrategy[dict[str, Any]]:
    """What hypothesis draws per case: its kind, a seed for the schema walk, and query options."""
    return st.fixed_dictionaries({
        "kind": st.sampled_from([c for c in CASES if not kinds or c in kinds]),
        "seed": st.integers(0, 2**32 - 1),
        "op": st.integers(0, 10**6),
        "hostile": st.integers(0, 9).map(lambda n: n < 7),
        "params": st.fixed_dictionaries({k: st.sampled_from(v) for k, v in corpus.WRITE_QUERY.items()}),
    })


def run(fuzzer: Fuzzer, examples: int, derandomize: bool = True, seed: int | None = None, progress: int = 0,
        kinds: tuple[str, ...] = ()) -> Tally:
    """Run `examples` cases (of `kinds`, default all) through `fuzzer`; no shrinking: every finding
    is counted, none raised."""

    @settings(max_examples=examples, deadline=None, derandomize=derandomize, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate], print_blob=False)
    @given(case=case_strategy(kinds))
    def loop(case: dict[str, Any]) -> None:
        fuzzer.run_case(case)
        if progress and fuzzer.cases_run % progress == 0:
            t = fuzzer.tally
            print(f"... {fuzzer.cases_run} cases, {t.requests} requests, findings {dict(t.by_category())}, "
                  f"RSS {t.peak_rss_kib // 1024} MiB", flush=True)

    if seed is not None and not derandomize:
        from hypothesis import seed as hseed
        loop = hseed(seed)(loop)
    try:
        loop()
    except ServerGone as e:
        fuzzer.tally.find(oracles.SERVER_DIED, "gone", str(e), 0, "")
        fuzzer.finish(check=False)
        return fuzzer.tally
    fuzzer.finish()
    return fuzzer.tally
