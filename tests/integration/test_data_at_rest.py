"""Data at rest with the real kubectl: Secrets encrypted in the database files (aescbc, secretbox) while
`kubectl get secret` is unchanged; the data dir 0700 and the database files 0600."""

from __future__ import annotations

import base64
import glob
import os
import stat

import pytest

from .conftest import Cluster, free_port


@pytest.mark.parametrize("provider", ["aescbc", "secretbox"])
def test_secrets_encrypted_at_rest_and_private_files(tmp_path, provider) -> None:
    enc = tmp_path / "enc.yaml"
    enc.write_text("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                   f"- resources: [secrets]\n  providers:\n  - {provider}:\n      keys:\n      - name: key1\n"
                   f"        secret: {base64.b64encode(os.urandom(32)).decode()}\n  - identity: {{}}\n")
    c = Cluster(str(tmp_path / "data"), free_port(), extra_args=("--encryption-provider-config", str(enc)))
    c.start()
    try:
        c.kubectl("create", "secret", "generic", "db", "--from-literal=password=hunter2-plaintext")
        got = c.json("get", "secret", "db")["data"]["password"]
        assert base64.b64decode(got) == b"hunter2-plaintext"
        db_files = glob.glob(os.path.join(c.data_dir, "server", "db", "state.db*"))
        assert db_files
        needle = base64.b64encode(b"hunter2-plaintext")
        for f in db_files:
            raw = open(f, "rb").read()
            assert needle not in raw and b"hunter2-plaintext" not in raw, f
            assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, f
        assert any(f"k8s:enc:{provider}:v1:key1:".encode() in open(f, "rb").read() for f in db_files)
        for d in (c.data_dir, os.path.join(c.data_dir, "server"), os.path.join(c.data_dir, "server", "db")):
            assert stat.S_IMODE(os.stat(d).st_mode) == 0o700, d
        c.stop()
        c.start()  # decrypted again on load
        assert c.json("get", "secret", "db")["data"]["password"] == got
    finally:
        c.stop()


def _config(path, *keys: tuple[str, bytes]) -> str:
    lines = "".join(f"      - name: {name}\n        secret: {base64.b64encode(k).decode()}\n" for name, k in keys)
    path.write_text("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                    f"- resources: [secrets]\n  providers:\n  - secretbox:\n      keys:\n{lines}  - identity: {{}}\n")
    return str(path)


def test_key_rotation_by_replacing_every_secret(tmp_path) -> None:
    """Upstream's rotation: the new key first, `kubectl get secrets -A -o json | kubectl replace -f -`,
    then the old key removed. The replace changes nothing in the objects, yet each is written again
    (the transformer reports the old key's bytes stale); a no-op replace kept key1's bytes, and
    without key1 kubeling could not load its database."""
    old, new = os.urandom(32), os.urandom(32)
    data = str(tmp_path / "data")
    enc = tmp_path / "enc.yaml"
    c = Cluster(data, free_port(), extra_args=("--encryption-provider-config", _config(enc, ("key1", old))))
    c.start()
    try:
        c.kubectl("create", "secret", "generic", "db", "--from-literal=password=hunter2")
        c.stop()
        _config(enc, ("key2", new), ("key1", old))
        c.start()
        rv = c.json("get", "secret", "db")["metadata"]["resourceVersion"]
        c.kubectl("replace", "-f", "-", input=c.kubectl("get", "secrets", "-A", "-o", "json").stdout)
        assert c.json("get", "secret", "db")["metadata"]["resourceVersion"] != rv  # written again
        c.stop()
        _config(enc, ("key2", new))
        c.start()
        assert base64.b64decode(c.json("get", "secret", "db")["data"]["password"]) == b"hunter2"
    finally:
        c.stop()
