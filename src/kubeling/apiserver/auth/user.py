"""The identity a request is being served as, for code deep inside it (upstream reaches it through
the request context). The identity itself, `User`, and the well-known group names live in
kubeling/identity.py, which clients import too; they are re-exported here for the callers that
still import them from the API server."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator

# Also re-exported for client/rest.py and apiserver/app.py, which still import them from here.
from ...identity import AUTHENTICATED, User  # noqa: F401

# The user a request runs as, for code deep in a write (escalation checks on RBAC objects) that
# upstream reaches through the request context. None: the API server's own bootstrap writes.
current_user: ContextVar[User | None] = ContextVar("current_user", default=None)
# The whole request's attributes (verb, subresource...), for admission that depends on them (NodeRestriction).
current_request: ContextVar[Any] = ContextVar("current_request", default=None)


# Warnings admission raises on the way (PodSecurity's warn level), sent as `Warning` headers.
current_warnings: ContextVar[list[str] | None] = ContextVar("current_warnings", default=None)


def warn(text: str) -> None:
    """Add a warning to the response of the request being served (dropped in-process)."""
    warnings = current_warnings.get()
    if warnings is not None:
        warnings.append(text)


# Audit annotations admission adds on the way (PodSecurity's audit level, a policy's Audit action),
# written into the request's audit event.
current_audit_annotations: ContextVar[dict[str, str] | None] = ContextVar("current_audit_annotations", default=None)


def annotate(key: str, value: str) -> None:
    """Add an annotation to the audit event of the request being served (dropped in-process);
    as upstream's AddAnnotation, the first value set for a key wins."""
    annotations = current_audit_annotations.get()
    if annotations is not None:
        annotations.setdefault(key, value)


@contextmanager
def acting(user: User, attributes: Any, warnings: list[str] | None = None,
           annotations: dict[str, str] | None = None) -> Iterator[None]:
    """Run the rest of a request with `current_user`, `current_request` (and `current_warnings`,
    `current_audit_annotations`) set."""
    t1, t2, t3 = current_user.set(user), current_request.set(attributes), current_warnings.set(warnings)
    t4 = current_audit_annotations.set(annotations)
    try:
        yield
    finally:
        current_audit_annotations.reset(t4)
        current_warnings.reset(t3)
        current_request.reset(t2)
        current_user.reset(t1)
