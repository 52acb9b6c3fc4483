"""The in-process transport's contract (docs/architecture.md §5): Status errors as over HTTP,
watches through the watch handler, the field-validation default, identity and the fallback."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import pytest

from kubeling.api import errors
from kubeling.api.resources import lookup
from kubeling.api.wire import Request, Response
from kubeling.apiserver.auth.rbac import Authorizer
from kubeling.apiserver.local import LocalTransport
from kubeling.client.rest import Client

from .realapi import RealAPI

CONFIGMAPS = lookup("", "v1", "configmaps")
assert CONFIGMAPS is not None


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))


def cm(name: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "ns"}, **extra}


def test_errors_are_the_status_the_server_answers() -> None:
    async def main() -> None:
        api = await RealAPI().start("ns")
        with pytest.raises(errors.StatusError) as e:
            await api.client.get(CONFIGMAPS, "ns", "nope")
        assert (e.value.code, e.value.reason, e.value.message) == (404, "NotFound", 'configmaps "nope" not found')
        assert e.value.details == {"name": "nope", "kind": "configmaps"}
        await api.create(CONFIGMAPS, cm("a"))
        with pytest.raises(errors.StatusError) as e:
            await api.client.create(CONFIGMAPS, "ns", cm("a"))
        assert (e.value.code, e.value.reason) == (409, "AlreadyExists")
        with pytest.raises(errors.StatusError) as e:  # not a resource path of this server
            await api.client.request("GET", "/apis/nope.example.com/v1/things")
        assert e.value.code == 404
        api.close()

    run(main())


def test_watch_goes_through_the_watch_handler() -> None:
    async def main() -> None:
        api = await RealAPI().start("ns")
        first = await api.create(CONFIGMAPS, cm("a"))
        events = api.client.watch(CONFIGMAPS, "ns", label_selector="x=1")
        await api.client.patch(CONFIGMAPS, "ns", "a", {"metadata": {"labels": {"x": "1"}}})
        kind, obj = await anext(events)
        assert kind == "ADDED" and obj["metadata"]["labels"] == {"x": "1"}  # entered the selection
        await api.client.patch(CONFIGMAPS, "ns", "a", {"metadata": {"labels": {"x": "2"}}})
        assert (await anext(events))[0] == "DELETED"  # left it
        await events.aclose()
        with pytest.raises(errors.StatusError) as e:  # a bad selector is an error answer, not an event
            await anext(api.client.watch(CONFIGMAPS, "ns", label_selector="x in (("))
        assert e.value.code == 400
        api.store.compacted_revision = api.store.revision  # history compacted: 410, as an ERROR event
        with pytest.raises(errors.StatusError) as e:
            await anext(api.client.watch(CONFIGMAPS, "ns", resource_version=first["metadata"]["resourceVersion"]))
        assert e.value.code == 410
        assert not any(api.store._watchers.values())  # noqa: SLF001 every watch let go of its watcher
        api.close()

    run(main())


def test_unknown_fields_are_ignored_unless_a_mode_is_asked() -> None:
    async def main() -> None:
        api = await RealAPI().start("ns")
        made = await api.client.create(CONFIGMAPS, "ns", cm("a", bogus=1))
        assert "bogus" not in made
        with pytest.raises(errors.StatusError) as e:
            await api.client.request("POST", "/api/v1/namespaces/ns/configmaps",
                                     params={"fieldValidation": "Strict"}, body=cm("b", bogus=1))
        assert (e.value.code, e.value.message) == (400, 'ConfigMap in version "v1" cannot be handled as a ConfigMap: '
                                                        'strict decoding error: unknown field "bogus"')
        api.close()

    run(main())


def test_identity_travels_with_the_transport() -> None:
    class DenyAll:
        def authorize(self, attrs: Any) -> tuple[bool, str]:
            return attrs.user.name == "system:admin", ""

    async def main() -> None:
        api = await RealAPI().start("ns")
        api.rest.authz = Authorizer(DenyAll())
        await api.client.create(CONFIGMAPS, "ns", cm("a"))  # system:admin
        other = api.client.as_user("someone", "team")
        assert other is not api.client
        with pytest.raises(errors.StatusError) as e:
            await other.get(CONFIGMAPS, "ns", "a")
        assert (e.value.code, e.value.message) == (
            403, 'configmaps "a" is forbidden: User "someone" cannot get resource "configmaps" in API group "" '
                 'in the namespace "ns"')
        api.close()

    run(main())


def test_what_needs_a_connection_goes_to_the_fallback() -> None:
    class Fallback:
        def __init__(self) -> None:
            self.paths: list[str] = []

        async def request(self, req: Request) -> Response:
            self.paths.append(req.path)
            return Response(200, b'{"ok": true}')

        async def stream(self, req: Request) -> AsyncIterator[list[bytes]]:
            self.paths.append(req.path)
            yield [b"line\n"]

        async def close(self) -> None: ...

    async def main() -> None:
        api = await RealAPI().start("ns")
        fallback = Fallback()
        client = Client(transport=LocalTransport(api.rest, fallback=fallback))
        assert await client.request("GET", "/api/v1/namespaces/ns/pods/p/log") == {"ok": True}
        assert await client.request("GET", "/readyz") == {"ok": True}
        with pytest.raises(errors.StatusError):  # served in process: no such object
            await client.get(CONFIGMAPS, "ns", "nope")
        assert fallback.paths == ["/api/v1/namespaces/ns/pods/p/log", "/readyz"]
        api.close()

    run(main())


def test_a_node_deleting_a_gone_pod_is_allowed_and_answered_404() -> None:
    """NodeRestriction's check on deletes runs after authorization: a kubelet deleting a pod that
    is already gone is an allowed request answered 404 (audited so), not a refusal — upstream's
    system:node role allows the delete and the registry answers NotFound."""
    import io
    import json

    from kubeling.apiserver.audit import Auditor
    from kubeling.apiserver.auth.node import NodeAuthorizer

    class Nobody:  # RBAC grants nothing: only the Node authorizer decides
        def authorize(self, attrs: Any) -> tuple[bool, str]:
            return False, ""

    async def main() -> None:
        api = await RealAPI().start("ns")
        out = io.BytesIO()
        api.rest.authz = Authorizer(Nobody(), NodeAuthorizer(api.store))
        api.rest.auditor = Auditor({"rules": [{"level": "Metadata"}]}, out)
        node = api.client.as_user("system:node:n1", "system:nodes")
        with pytest.raises(errors.StatusError) as e:
            await node.delete(lookup("", "v1", "pods"), "ns", "gone")
        assert (e.value.code, e.value.message) == (404, 'pods "gone" not found')
        event = json.loads(out.getvalue().splitlines()[-1])
        assert event["annotations"]["authorization.k8s.io/decision"] == "allow"
        assert event["responseStatus"]["code"] == 404
        api.close()

    run(main())
