"""Admission configurations are cached per store prefix revision (store/derived.py): a write
whose configurations did not change lists nothing, and one created by a request applies to
the very next write."""

from __future__ import annotations

from typing import Any

import pytest

from kubeling.api import errors
from kubeling.api.resources import lookup
from kubeling.apiserver.plugins import default_chain
from kubeling.apiserver.registry import Registry, WriteOptions
from kubeling.store.sqlite import SQLiteStore

NAMESPACES = lookup("", "v1", "namespaces")
SERVICE_ACCOUNTS = lookup("", "v1", "serviceaccounts")
PODS = lookup("", "v1", "pods")
LIMIT_RANGES = lookup("", "v1", "limitranges")
PRIORITY_CLASSES = lookup("scheduling.k8s.io", "v1", "priorityclasses")
POLICIES = lookup("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies")
BINDINGS = lookup("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings")


def _pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


@pytest.fixture
async def reg(tmp_path):
    r = Registry(SQLiteStore(str(tmp_path / "db" / "state.db")), admission=default_chain())
    await r.create(NAMESPACES, None, {"metadata": {"name": "default"}}, WriteOptions())
    await r.create(SERVICE_ACCOUNTS, "default", {"metadata": {"name": "default"}}, WriteOptions())
    await r.create(PODS, "default", _pod("first"), WriteOptions())
    yield r
    r.store.close()


async def test_configurations_created_after_a_write_apply_to_the_next(reg: Registry) -> None:
    await reg.create(LIMIT_RANGES, "default", {"metadata": {"name": "lr"}, "spec": {"limits": [
        {"type": "Container", "default": {"cpu": "100m"}}]}}, WriteOptions())
    pod = (await reg.create(PODS, "default", _pod("limited"), WriteOptions())).obj()
    assert pod["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "100m"}

    await reg.create(PRIORITY_CLASSES, None, {"metadata": {"name": "high"}, "value": 1000, "globalDefault": True},
                     WriteOptions())
    pod = (await reg.create(PODS, "default", _pod("prioritized"), WriteOptions())).obj()
    assert (pod["spec"]["priorityClassName"], pod["spec"]["priority"]) == ("high", 1000)

    await reg.create(POLICIES, None, {"metadata": {"name": "no-pods"}, "spec": {
        "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                                                "resources": ["pods"]}]},
        "validations": [{"expression": "false", "message": "no pods"}]}}, WriteOptions())
    await reg.create(PODS, "default", _pod("unbound"), WriteOptions())  # a policy without binding does nothing
    binding = await reg.create(BINDINGS, None, {"metadata": {"name": "b"}, "spec": {
        "policyName": "no-pods", "validationActions": ["Deny"]}}, WriteOptions())
    with pytest.raises(errors.StatusError) as e:
        await reg.create(PODS, "default", _pod("denied"), WriteOptions())
    assert e.value.message.endswith("denied request: no pods")
    await reg.store.delete(binding.key)
    await reg.create(PODS, "default", _pod("allowed"), WriteOptions())


async def test_a_write_lists_nothing_when_no_configuration_changed(reg: Registry, monkeypatch) -> None:
    listed: list[str] = []
    real = reg.store.list
    monkeypatch.setattr(reg.store, "list", lambda prefix: listed.append(prefix) or real(prefix))
    await reg.create(PODS, "default", _pod("second"), WriteOptions())
    assert listed == []
    await reg.create(LIMIT_RANGES, "default", {"metadata": {"name": "lr"}, "spec": {"limits": []}}, WriteOptions())
    await reg.create(PODS, "default", _pod("third"), WriteOptions())
    assert listed.count(LIMIT_RANGES.prefix("default")) == 1  # the changed configuration, read again once
    listed.clear()
    await reg.create(PODS, "default", _pod("fourth"), WriteOptions())
    assert listed == []
