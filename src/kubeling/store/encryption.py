"""Encryption at rest (kube-apiserver --encryption-provider-config): values of the configured
resources are encrypted before they reach the database file and decrypted when it is loaded.

The config is upstream's EncryptionConfiguration (apiserver.config.k8s.io/v1): per list of
resources (`secrets`, `deployments.apps`, `*.apps`, `*.*`) an ordered list of providers. The first
provider's first key encrypts; every configured key decrypts, so keys rotate by putting a new key
first and rewriting the objects. Stored bytes carry upstream's prefix,
`k8s:enc:<provider>:v1:<key name>:`. Providers: `aescbc` (AES-256-CBC, PKCS#7, random IV in front),
`aesgcm` (random 12-byte nonce in front), `secretbox` (XSalsa20-Poly1305 via PyNaCl, 32-byte key, random
24-byte nonce in front: Go's `nonce + secretbox.Seal`, byte for byte) and `identity` (plaintext). Memory holds plaintext, as
kube-apiserver's watch cache does; only the file is protected.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from typing import Any

import yaml
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.secret import SecretBox

SUPPORTED = ("aescbc", "aesgcm", "secretbox", "identity")
KEY_SIZES = {"aescbc": (16, 24, 32), "aesgcm": (16, 24, 32), "secretbox": (32,)}


class EncryptionConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Key:
    provider: str
    name: str
    secret: bytes

    @property
    def prefix(self) -> bytes:
        return f"k8s:enc:{self.provider}:v1:{self.name}:".encode()

    def encrypt(self, data: bytes) -> bytes:
        if self.provider == "secretbox":
            return self.prefix + bytes(SecretBox(self.secret).encrypt(data))  # nonce + tag + box
        if self.provider == "aesgcm":
            nonce = os.urandom(12)
            return self.prefix + nonce + AESGCM(self.secret).encrypt(nonce, data, None)
        iv = os.urandom(16)
        padder = padding.PKCS7(128).padder()
        enc = Cipher(algorithms.AES(self.secret), modes.CBC(iv)).encryptor()
        return self.prefix + iv + enc.update(padder.update(data) + padder.finalize()) + enc.finalize()

    def decrypt(self, data: bytes) -> bytes:
        body = data[len(self.prefix):]
        if self.provider == "secretbox":
            return SecretBox(self.secret).decrypt(body)
        if self.provider == "aesgcm":
            return AESGCM(self.secret).decrypt(body[:12], body[12:], None)
        dec = Cipher(algorithms.AES(self.secret), modes.CBC(body[:16])).decryptor()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(dec.update(body[16:]) + dec.finalize()) + unpadder.finalize()


@dataclass(frozen=True)
class Rule:
    resources: tuple[str, ...]  # "secrets", "deployments.apps", "*.apps", "*.*"
    keys: tuple[Key | None, ...]  # None: identity

    def matches(self, resource: str) -> bool:
        group = resource.partition(".")[2]
        return any(r == resource or r == "*.*" or (r.startswith("*.") and r[2:] == group)
                   or (r == "*." and not group) for r in self.resources)


def _keys(provider: str, spec: Any) -> list[Key | None]:
    if provider == "identity":
        return [None]
    out: list[Key | None] = []
    for k in (spec or {}).get("keys") or ():
        try:
            secret = base64.b64decode(k.get("secret", ""), validate=True)
        except ValueError as e:
            raise EncryptionConfigError(f"key {k.get('name')!r}: secret is not base64: {e}") from None
        sizes = KEY_SIZES[provider]
        if len(secret) not in sizes:
            want = " or ".join(", ".join(map(str, sizes)).rsplit(", ", 1))
            raise EncryptionConfigError(f"key {k.get('name')!r}: secret must be {want} bytes, not {len(secret)}")
        out.append(Key(provider, k.get("name", ""), secret))
    if not out:
        raise EncryptionConfigError(f"provider {provider} has no keys")
    return out


class Transformer:
    """What the store applies to values on their way to and from the database file."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self._by_prefix = {k.prefix: k for r in rules for k in r.keys if k is not None}

    @classmethod
    def load(cls, path: str) -> "Transformer":
        with open(path) as f:
            doc = yaml.safe_load(f) or {}
        if doc.get("kind") != "EncryptionConfiguration":
            raise EncryptionConfigError(f"{path}: kind must be EncryptionConfiguration")
        rules = []
        for entry in doc.get("resources") or ():
            keys: list[Key | None] = []
            for p in entry.get("providers") or ():
                for name, spec in p.items():
                    if name not in SUPPORTED:
                        raise EncryptionConfigError(f"{path}: provider {name} is not supported ({', '.join(SUPPORTED)})")
                    keys += _keys(name, spec)
            rules.append(Rule(tuple(entry.get("resources") or ()), tuple(keys)))
        return cls(rules)

    @staticmethod
    def resource_of(key: str) -> str:
        """`/registry/core/secrets/ns/name` -> `secrets`; `/registry/apps/deployments/...` -> `deployments.apps`."""
        parts = key.split("/")
        group, plural = (parts[2], parts[3]) if len(parts) > 3 else ("", "")
        return plural if group == "core" else f"{plural}.{group}"

    def _rule(self, key: str) -> Rule | None:
        resource = self.resource_of(key)
        return next((r for r in self.rules if r.matches(resource)), None)

    def to_storage(self, key: str, value: bytes) -> bytes:
        rule = self._rule(key)
        if rule is None or not rule.keys or rule.keys[0] is None:
            return value
        return rule.keys[0].encrypt(value)

    def stale(self, key: str, stored: bytes) -> bool:
        """Was `stored` written otherwise than to_storage writes now (an older key, another
        provider, or plaintext before encryption)? Upstream's transformer reports it `stale`, and
        an update that changes nothing is still written then: `kubectl replace` of every Secret
        is how keys rotate."""
        rule = self._rule(key)
        first = rule.keys[0] if rule is not None and rule.keys else None
        if first is None:
            return stored.startswith(b"k8s:enc:")
        return not stored.startswith(first.prefix)

    def from_storage(self, key: str, value: bytes) -> bytes:
        if not value.startswith(b"k8s:enc:"):
            return value  # written before encryption was configured (identity)
        for prefix, k in self._by_prefix.items():
            if value.startswith(prefix):
                return k.decrypt(value)
        raise EncryptionConfigError(f"{key}: no configured key decrypts {value[:40]!r}")
