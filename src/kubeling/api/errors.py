"""Kubernetes `Status` errors, built in one place so every layer fails the same way.

Messages follow k8s.io/apimachinery/pkg/api/errors so that kubectl prints exactly what a user
would see against a real cluster (e.g. `Error from server (NotFound): pods "x" not found`).
"""

from __future__ import annotations

from typing import Any


class StatusError(Exception):
    """An API error that renders as a `v1.Status` body with an HTTP code."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def _details(name: str | None, group: str, resource: str, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    d["kind"] = resource
    d.update(extra)
    return d


def not_found(resource: str, name: str, group: str = "") -> StatusError:
    return StatusError(
        404,
        "NotFound",
        f'{_qualified(resource, group)} "{name}" not found',
        _details(name, group, resource),
    )


def already_exists(resource: str, name: str, group: str = "") -> StatusError:
    return StatusError(
        409,
        "AlreadyExists",
        f'{_qualified(resource, group)} "{name}" already exists',
        _details(name, group, resource),
    )


def conflict(resource: str, name: str, group: str = "", why: str | None = None) -> StatusError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return StatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {why}',
        _details(name, group, resource),
    )


def field_cause(kind: str, field: str, message: str) -> dict[str, str]:
    """One `details.causes` entry; `kind` is the upstream ErrorType reason (FieldValueRequired...)."""
    return {"reason": kind, "message": message, "field": field}


def invalid(kind: str, name: str, group: str, causes: list[dict[str, str]]) -> StatusError:
    """422 Invalid, as upstream NewInvalid: `Deployment.apps "x" is invalid: spec.selector: Required value`.

    Causes may carry the full `field: body` text (field.Error.Error()); the Status keeps only the
    body in each cause (kubectl prints `* <field>: <body>`) and the full texts in the message.
    """
    full, out = [], []
    for c in causes:
        fld, msg = c.get("field", ""), c.get("message", "")
        body = msg[len(fld) + 2:] if fld and msg.startswith(fld + ": ") else msg
        text = f"{fld}: {body}" if fld else body
        if text not in full:  # upstream's aggregate de-duplicates messages
            full.append(text)
        out.append({"reason": c.get("reason", ""), "message": body, "field": fld})
    qualified = f"{kind}.{group}" if group else kind
    agg = full[0] if len(full) == 1 else "[" + ", ".join(full) + "]"
    message = f'{qualified} "{name}" is invalid: {agg}' if full else f'{qualified} "{name}" is invalid'
    return StatusError(422, "Invalid", message, _details(name, group, kind, causes=out))


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def forbidden(resource: str, name: str, group: str, why: str) -> StatusError:
    target = f'{_qualified(resource, group)} "{name}"' if name else _qualified(resource, group)
    return StatusError(403, "Forbidden", f"{target} is forbidden: {why}", _details(name, group, resource))


def unauthorized() -> StatusError:
    return StatusError(401, "Unauthorized", "Unauthorized")


def gone(message: str = "too old resource version") -> StatusError:
    return StatusError(410, "Expired", message)


def method_not_allowed(verb: str = "") -> StatusError:
    return StatusError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")


def not_acceptable(message: str) -> StatusError:
    return StatusError(406, "NotAcceptable", message)


def unsupported_media_type(content_type: str) -> StatusError:
    return StatusError(415, "UnsupportedMediaType", f'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf')


def too_large(limit: int = 3 * 1024 * 1024) -> StatusError:
    """NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", limit)), as limitedReadBody answers."""
    return StatusError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


class FilterTimeout(StatusError):
    """NewTimeoutError("request did not complete within the allotted timeout", 0), as the
    apiserver's timeout filter (server/filters/timeout.go) writes it once --request-timeout has
    passed: json.Encoder on the bare ErrStatus, so without kind/apiVersion, sniffed as text/plain
    (client-go then reports its generic "the server was unable to return a response in the time
    allotted, but may still be processing the request")."""

    def __init__(self) -> None:
        super().__init__(504, "Timeout", "Timeout: request did not complete within the allotted timeout", {})


def internal(message: str) -> StatusError:
    return StatusError(500, "InternalError", f"Internal error occurred: {message}")


def resource_not_found_for_path() -> StatusError:
    """What kube-apiserver answers for an unknown resource path (kubectl shows `the server could not find the requested resource`)."""
    return StatusError(404, "NotFound", "the server could not find the requested resource", {})
