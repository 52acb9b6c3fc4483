"""The authenticated identity of a request (upstream's user.Info)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...]
    uid: str = ""
    extra: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())

    def info(self) -> dict:
        """user.Info as reviews and audit write it (userInfo of SelfSubjectReview)."""
        out: dict = {"username": self.name}
        if self.uid:
            out["uid"] = self.uid
        out["groups"] = list(self.groups)
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra}
        return out


MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
SA_PREFIX = "system:serviceaccount:"

# The user a request runs as, for code deep in a write (escalation checks on RBAC objects) that
# upstream reaches through the request context. None: the API server's own bootstrap writes.
current_user: ContextVar[User | None] = ContextVar("current_user", default=None)
