"""client/tokensource.py: the token manager's renewal rule, shared by the kubelet's projected
volumes and in-process add-ons."""

from __future__ import annotations

import pytest

from kubeling.client.tokensource import Token, requires_refresh


@pytest.mark.parametrize("ttl,age,refresh", [
    (3600, 0, False), (3600, 2879, False), (3600, 2881, True),      # 80% of 1 h = 2880 s
    (3607, 2886, False), (3607, 2887, True), (600, 479, False), (600, 481, True),
    (7 * 86400, 86399, False), (7 * 86400, 86401, True),           # older than 24 h
])
def test_token_requires_refresh(ttl: int, age: int, refresh: bool) -> None:
    tok = Token("t", 1_000_000 + ttl, ttl)
    assert requires_refresh(tok, 1_000_000 + age) is refresh
