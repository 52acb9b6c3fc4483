"""Data dir modes (0700 dirs, 0600 database files) and certificates `openssl verify -x509_strict` accepts."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import subprocess

import pytest

from kubeling import datadir
from kubeling.pki import ensure_pki, issue_cert
from kubeling.store.sqlite import SQLiteStore


def _mode(p: str) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def test_new_database_files_are_0600(tmp_path):
    db = str(tmp_path / "server" / "db" / "state.db")
    store = SQLiteStore(db)
    asyncio.run(store.create("/registry/configmaps/default/a", {"metadata": {"name": "a"}}))
    try:
        for suffix in ("", "-wal", "-shm"):
            assert _mode(db + suffix) == 0o600, suffix
        assert _mode(os.path.dirname(db)) == 0o700
    finally:
        store.close()


def test_secure_fixes_an_old_data_dir_and_warns(tmp_path, caplog):
    data = tmp_path / "data"
    server = data / "server"
    (server / "db").mkdir(parents=True)
    for d in (data, server, server / "db"):
        os.chmod(d, 0o755)
    db = server / "db" / "state.db"
    for suffix in ("", "-wal"):
        p = str(db) + suffix
        open(p, "w").close()
        os.chmod(p, 0o644)
    with caplog.at_level("WARNING", logger="kubeling.datadir"):
        fixed = datadir.secure(str(data), str(server), str(db))
    assert set(fixed) == {str(data), str(server), str(server / "db"), str(db), str(db) + "-wal"}
    assert [_mode(str(d)) for d in (data, server, server / "db")] == [0o700] * 3
    assert _mode(str(db)) == _mode(str(db) + "-wal") == 0o600
    assert "readable by other users" in caplog.text
    assert datadir.secure(str(data), str(server), str(db)) == []  # idempotent, no new warning


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_every_issued_certificate_passes_x509_strict(tmp_path):
    pki = ensure_pki(str(tmp_path), "127.0.0.1", "10.96.0.1")
    kubelet = str(tmp_path / "kubelet.crt")
    issue_cert(pki, kubelet, str(tmp_path / "kubelet.key"), "node-1", server=True, hosts=["node-1", "10.0.0.2"])
    client = str(tmp_path / "client.crt")
    issue_cert(pki, client, str(tmp_path / "client.key"), "kube-apiserver-kubelet-client",
               organizations=("system:masters",))
    assert _mode(pki.dir) == 0o700
    for cert in (pki.ca_cert, pki.server_cert, pki.admin_cert, kubelet, client):
        out = subprocess.run(["openssl", "verify", "-x509_strict", "-CAfile", pki.ca_cert, cert],
                             capture_output=True, text=True)
        assert out.returncode == 0, (cert, out.stdout, out.stderr)
