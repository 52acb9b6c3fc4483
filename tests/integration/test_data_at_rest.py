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
