"""Acknowledged writes survive kill -9; everything survives a restart and revisions continue."""

from __future__ import annotations

import json
import signal
import threading

import requests  # type: ignore[import-untyped]

from .conftest import Cluster, free_port


def test_kill_9_during_writes_loses_no_acknowledged_write(tmp_path) -> None:
    c = Cluster(str(tmp_path / "k"), free_port())
    c.start()
    try:
        s = c.session()
        acked: list[str] = []
        stop = threading.Event()

        def writer() -> None:
            i = 0
            while not stop.is_set():
                name = f"cm-{i}"
                try:
                    r = s.post(f"{c.url}/api/v1/namespaces/default/configmaps",
                               json={"metadata": {"name": name}, "data": {"i": str(i)}}, timeout=60)
                except requests.RequestException:
                    return
                if r.status_code == 201:
                    acked.append(name)
                i += 1

        t = threading.Thread(target=writer)
        t.start()
        c.wait_for(lambda: len(acked) >= 200, timeout=120, what="200 acknowledged writes")
        assert c.proc is not None
        c.proc.send_signal(signal.SIGKILL)
        c.proc.wait(10)
        stop.set()
        t.join(10)
        c.start()
        r = s.get(f"{c.url}/api/v1/namespaces/default/configmaps")
        names = {item["metadata"]["name"] for item in r.json()["items"]}
        missing = [n for n in acked if n not in names]
        assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {missing[:5]}"
        rv_before = int(r.json()["metadata"]["resourceVersion"])
        # history from before the restart is gone: a watch from an old revision gets 410, as after compaction
        with s.get(f"{c.url}/api/v1/namespaces/default/configmaps", params={"watch": "true", "resourceVersion": "2"},
                   stream=True, timeout=10) as w:
            first = json.loads(next(line for line in w.iter_lines() if line))
        assert first["type"] == "ERROR" and first["object"]["code"] == 410
        assert "too old resource version" in first["object"]["message"]
        new = s.post(f"{c.url}/api/v1/namespaces/default/configmaps", json={"metadata": {"name": "after"}}).json()
        assert int(new["metadata"]["resourceVersion"]) > rv_before
    finally:
        c.stop()
