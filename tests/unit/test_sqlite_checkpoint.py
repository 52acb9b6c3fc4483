"""Background WAL checkpoints: commits never run a checkpoint, data survives kill -9 and reopen."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap

from kubeling.store import sqlite as sq

P = "/registry/core/configmaps/"


def cm(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "ns"}, "data": {"v": name}}


async def test_checkpoints_run_on_their_thread_and_data_stays(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(sq, "CHECKPOINT_EVERY", 20)
    path = str(tmp_path / "state.db")
    store = sq.SQLiteStore(path)
    assert store._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    for i in range(100):
        await store.create(P + f"ns/c{i}", cm(f"c{i}"))
    thread = store._checkpointer._thread
    assert thread is not None and thread.is_alive() and thread.daemon
    store.close()
    assert not thread.is_alive()
    reopened = sq.SQLiteStore(path)
    assert len(reopened.list(P)[0]) == 100 and reopened.revision == store.revision
    reopened.close()


def test_kill_9_after_acknowledged_writes_keeps_them(tmp_path) -> None:
    path = str(tmp_path / "state.db")
    script = textwrap.dedent(f"""
        import asyncio, os, signal
        from kubeling.store import sqlite as sq
        sq.CHECKPOINT_EVERY = 50
        async def main():
            s = sq.SQLiteStore({path!r})
            for i in range(400):
                await s.create("{P}ns/c%d" % i, {{"metadata": {{"name": "c%d" % i}}}})
            os.kill(os.getpid(), signal.SIGKILL)
        asyncio.run(main())
    """)
    proc = subprocess.run([sys.executable, "-c", script], timeout=60)
    assert proc.returncode == -9
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM kv").fetchone()[0] == 400
    db.close()
    store = sq.SQLiteStore(path)
    assert store.revision == 401 and store.get(P + "ns/c399") is not None
    store.close()
    assert os.path.exists(path)
