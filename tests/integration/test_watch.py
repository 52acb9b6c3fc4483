"""Watch streams: kubectl get -w, resourceVersion semantics, bookmarks, 410 Gone, Table watch."""

from __future__ import annotations

import json
import os
import subprocess

import requests  # type: ignore[import-untyped]

from .conftest import Cluster


def _session(cluster: Cluster) -> tuple[requests.Session, str]:
    return cluster.session(), cluster.url


def test_kubectl_get_watch_receives_events(cluster: Cluster, ns: str) -> None:
    import queue
    import threading

    cluster.kubectl("create", "-n", ns, "configmap", "w0")
    env = {**os.environ, "KUBECONFIG": cluster.kubeconfig}
    p = subprocess.Popen(["kubectl", f"--cache-dir={cluster.cache_dir}", "get", "cm", "-n", ns, "-w",
                          "--output-watch-events"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    lines: "queue.Queue[str]" = queue.Queue()
    threading.Thread(target=lambda: [lines.put(" ".join(l.split())) for l in p.stdout], daemon=True).start()

    def next_line() -> str:
        return lines.get(timeout=20)

    try:
        assert next_line().split() == ["EVENT", "NAME", "DATA", "AGE"]
        while next_line().split()[1] != "w0":  # the initial list; the watch follows it
            pass
        cluster.kubectl("create", "-n", ns, "configmap", "w1", "--from-literal=a=1")
        cluster.kubectl("patch", "-n", ns, "cm", "w1", "-p", '{"data":{"a":"2"}}')
        cluster.kubectl("delete", "-n", ns, "cm", "w1")
        seen: list[str] = []
        while len(seen) < 3:
            cells = next_line().split()
            if cells[1] == "w1":
                seen.append(f"{cells[0]} {cells[2]}")
        assert seen == ["ADDED 1", "MODIFIED 1", "DELETED 1"]
    finally:
        p.kill()
        p.wait()


def test_watch_from_resource_version_and_table_stream(cluster: Cluster, ns: str) -> None:
    s, url = _session(cluster)
    base = f"{url}/api/v1/namespaces/{ns}/configmaps"
    lst = s.get(base).json()
    rv = lst["metadata"]["resourceVersion"]
    for i in range(3):
        r = s.post(base, json={"metadata": {"name": f"t{i}"}, "data": {"i": str(i)}})
        assert r.status_code == 201
    table_accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    with s.get(base, params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "2"},
               headers={"Accept": table_accept}, stream=True, timeout=10) as r:
        assert r.status_code == 200
        events = [json.loads(l) for l in r.iter_lines() if l]
    assert [e["type"] for e in events] == ["ADDED"] * 3
    assert events[0]["object"]["kind"] == "Table" and events[0]["object"]["columnDefinitions"]
    assert all(e["object"]["columnDefinitions"] is None for e in events[1:])
    assert [e["object"]["rows"][0]["cells"][0] for e in events] == ["t0", "t1", "t2"]
    # plain JSON watch from the list RV sees the same objects; a field selector filters
    with s.get(base, params={"watch": "1", "resourceVersion": rv, "timeoutSeconds": "1",
                             "fieldSelector": "metadata.name=t1"}, stream=True, timeout=10) as r:
        events = [json.loads(l) for l in r.iter_lines() if l]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "t1")]


def test_bookmarks_and_initial_state(cluster: Cluster, ns: str) -> None:
    s, url = _session(cluster)
    base = f"{url}/api/v1/namespaces/{ns}/configmaps"
    s.post(base, json={"metadata": {"name": "pre"}})
    # no resourceVersion: synthetic ADDED for existing objects, then live events
    with s.get(base, params={"watch": "true", "timeoutSeconds": "1", "allowWatchBookmarks": "true"},
               stream=True, timeout=10) as r:
        events = [json.loads(l) for l in r.iter_lines() if l]
    assert ("ADDED", "pre") in [(e["type"], e["object"]["metadata"]["name"]) for e in events]
