"""Encryption at rest: no plaintext of configured resources in the database files, decryption on
load, key rotation, upstream's stored prefix."""

from __future__ import annotations

import asyncio
import base64
import glob

import pytest

from kubeling.store.encryption import EncryptionConfigError, Transformer
from kubeling.store.sqlite import SQLiteStore

SECRET_KEY = "/registry/core/secrets/default/s"


def config(tmp_path, *providers: str) -> str:
    body = "\n".join(providers)
    p = tmp_path / "enc.yaml"
    p.write_text(f"apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
                 f"- resources: [secrets]\n  providers:\n{body}\n")
    return str(p)


def aes(kind: str, name: str, fill: bytes) -> str:
    return f"  - {kind}:\n      keys:\n      - name: {name}\n        secret: {base64.b64encode(fill * 32).decode()}"


def files_contain(tmp_path, needle: bytes) -> bool:
    return any(needle in open(f, "rb").read() for f in glob.glob(str(tmp_path / "db" / "state.db*")))


@pytest.mark.parametrize("kind", ["aescbc", "aesgcm", "secretbox"])
def test_secrets_are_encrypted_in_the_file_and_readable_after_restart(tmp_path, kind) -> None:
    t = Transformer.load(config(tmp_path, aes(kind, "k1", b"a"), "  - identity: {}"))
    db = str(tmp_path / "db" / "state.db")
    store = SQLiteStore(db, transformer=t)
    asyncio.run(store.create(SECRET_KEY, {"metadata": {"name": "s"}, "data": {"p": "c3VwZXJzZWNyZXQ="}}))
    asyncio.run(store.create("/registry/core/configmaps/default/c", {"metadata": {"name": "c"}, "data": {"x": "visible"}}))
    store.close()
    assert not files_contain(tmp_path, b"c3VwZXJzZWNyZXQ=")
    assert files_contain(tmp_path, f"k8s:enc:{kind}:v1:k1:".encode())
    assert files_contain(tmp_path, b"visible")  # only the configured resources
    again = SQLiteStore(db, transformer=t)
    assert again.get(SECRET_KEY).obj()["data"] == {"p": "c3VwZXJzZWNyZXQ="}
    again.close()


@pytest.mark.parametrize("old_kind,new_kind", [("aescbc", "aescbc"), ("aescbc", "secretbox"), ("secretbox", "secretbox")])
def test_rotation_reads_old_keys_and_writes_with_the_first(tmp_path, old_kind, new_kind) -> None:
    db = str(tmp_path / "db" / "state.db")
    old = Transformer.load(config(tmp_path, aes(old_kind, "old", b"o")))
    store = SQLiteStore(db, transformer=old)
    asyncio.run(store.create(SECRET_KEY, {"metadata": {"name": "s"}, "data": {"p": "eA=="}}))
    store.close()
    new = Transformer.load(config(tmp_path, aes(new_kind, "new", b"n"), aes(old_kind, "old", b"o")))
    store = SQLiteStore(db, transformer=new)
    cur = store.get(SECRET_KEY)
    asyncio.run(store.update(SECRET_KEY, cur.copy(), cur.mod_rev))  # a rewrite re-encrypts with "new"
    store.close()
    assert files_contain(tmp_path, f"k8s:enc:{new_kind}:v1:new:".encode())
    only_new = Transformer.load(config(tmp_path, aes(new_kind, "new", b"n")))
    assert SQLiteStore(db, transformer=only_new).get(SECRET_KEY).obj()["data"] == {"p": "eA=="}


def test_bad_configuration_is_refused(tmp_path) -> None:
    with pytest.raises(EncryptionConfigError, match="must be 16, 24 or 32 bytes"):
        Transformer.load(config(tmp_path, "  - aescbc:\n      keys:\n      - name: k\n        secret: c2hvcnQ="))
    with pytest.raises(EncryptionConfigError, match="secret must be 32 bytes, not 16"):
        Transformer.load(config(tmp_path, "  - secretbox:\n      keys:\n      - name: k\n        secret: " + base64.b64encode(b"x" * 16).decode()))
    with pytest.raises(EncryptionConfigError, match="not supported"):
        Transformer.load(config(tmp_path, "  - kms: {}"))


def test_stale_is_what_a_write_would_store_otherwise(tmp_path) -> None:
    """Upstream's transformer `stale`: bytes of an older key, of another provider, or plaintext
    while a key is configured (and encrypted bytes once identity comes first) are written again
    by an update that changes nothing."""
    t = Transformer.load(config(tmp_path, aes("secretbox", "new", b"n"), aes("aescbc", "old", b"o"), "  - identity: {}"))
    assert not t.stale(SECRET_KEY, t.to_storage(SECRET_KEY, b"{}"))
    assert t.stale(SECRET_KEY, b"k8s:enc:aescbc:v1:old:xyz") and t.stale(SECRET_KEY, b"{}")
    assert not t.stale("/registry/core/configmaps/default/c", b"{}")  # not a configured resource
    plain_first = Transformer.load(config(tmp_path, "  - identity: {}", aes("secretbox", "new", b"n")))
    assert plain_first.stale(SECRET_KEY, b"k8s:enc:secretbox:v1:new:xyz") and not plain_first.stale(SECRET_KEY, b"{}")
