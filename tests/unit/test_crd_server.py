"""The CRD server (apiserver/crds.py) over a real store: names, conditions, serving and cleanup."""

from __future__ import annotations

import copy

import pytest

from kubeling.api import resources
from kubeling.apiserver.crds import CRDS, CRDServer
from kubeling.apiserver.registry import DeleteOptions, Registry, WriteOptions
from kubeling.store.sqlite import SQLiteStore

from .test_crd import make_crd


@pytest.fixture
def registry(tmp_path):
    store = SQLiteStore(str(tmp_path / "db" / "state.db"))
    yield Registry(store)
    store.close()
    resources.install_custom(())


def conditions(registry: Registry, name: str) -> dict[str, tuple[str, str]]:
    status = registry.get(CRDS, None, name).obj()["status"]
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


async def test_names_conflict_keeps_the_older_crd(registry):
    server = CRDServer(registry)
    first = make_crd()
    del first["metadata"]["uid"]
    await registry.create(CRDS, None, first, WriteOptions())
    second = copy.deepcopy(make_crd())
    second["metadata"] = {"name": "gadgets.example.com"}
    second["spec"]["names"] = {"plural": "gadgets", "kind": "Gadget", "shortNames": ["wd"]}
    await registry.create(CRDS, None, second, WriteOptions())
    await server.sync()
    assert conditions(registry, "widgets.example.com")["Established"] == ("True", "InitialNamesAccepted")
    assert conditions(registry, "gadgets.example.com") == {"NamesAccepted": ("False", "NamesConflict"),
                                                           "Established": ("False", "NotAccepted")}
    status = registry.get(CRDS, None, "gadgets.example.com").obj()["status"]
    assert status["conditions"][0]["message"] == '"wd" is already in use'
    assert resources.lookup("example.com", "v1", "widgets") is not None
    assert resources.lookup("example.com", "v1", "gadgets") is None


async def test_deleting_a_crd_deletes_its_objects_first(registry):
    server = CRDServer(registry)
    crd = make_crd()
    del crd["metadata"]["uid"]
    await registry.create(CRDS, None, crd, WriteOptions())
    await server.sync()
    widgets = resources.lookup("example.com", "v1", "widgets")
    ns = resources.lookup("", "v1", "namespaces")
    await registry.create(ns, None, {"metadata": {"name": "default"}}, WriteOptions())
    await registry.create(widgets, "default", {"metadata": {"name": "w"}, "spec": {"size": "small"}}, WriteOptions())
    _, gone = await registry.delete(CRDS, None, "widgets.example.com", DeleteOptions())
    assert not gone  # the cleanup finalizer holds it
    assert registry.get(CRDS, None, "widgets.example.com").obj()["metadata"]["finalizers"] == [
        "customresourcecleanup.apiextensions.k8s.io"]
    await server.sync()
    assert registry.list(widgets, None)[0] == []
    assert registry.list(CRDS, None)[0] == []
    assert resources.lookup("example.com", "v1", "widgets") is None


async def test_the_built_in_rollout_crd_is_installed_once_and_updated_when_it_changed(registry):
    from kubeling.api import rollout
    from kubeling.apiserver.crds import ensure_builtin

    await ensure_builtin(registry, rollout.definition())
    first = registry.get(CRDS, None, rollout.NAME).obj()
    await ensure_builtin(registry, rollout.definition())  # a restart with the same definition: no write
    assert registry.get(CRDS, None, rollout.NAME).obj()["metadata"]["resourceVersion"] == \
        first["metadata"]["resourceVersion"]
    newer = rollout.definition()
    newer["spec"]["versions"][0]["additionalPrinterColumns"] = newer["spec"]["versions"][0][
        "additionalPrinterColumns"][:2]
    await ensure_builtin(registry, newer)  # a kubeling with another schema: the stored CRD follows
    got = registry.get(CRDS, None, rollout.NAME).obj()
    assert got["metadata"]["uid"] == first["metadata"]["uid"]
    assert len(got["spec"]["versions"][0]["additionalPrinterColumns"]) == 2
    await CRDServer(registry).sync()
    assert resources.lookup(rollout.GROUP, rollout.VERSION, rollout.PLURAL) is not None
