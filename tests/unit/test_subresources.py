"""pods/binding through the registry: admission, conflict retries and upstream's 409s."""

from __future__ import annotations

from typing import Any

import pytest

from kubeling.api import errors
from kubeling.api.resources import lookup
from kubeling.apiserver import subresources
from kubeling.apiserver.admission import BasePlugin, Chain
from kubeling.apiserver.registry import Registry, WriteOptions
from kubeling.store.sqlite import SQLiteStore

NAMESPACES = lookup("", "v1", "namespaces")
PODS = lookup("", "v1", "pods")


class RecordBindings(BasePlugin):
    kinds = (("", "Binding"),)

    def __init__(self, reject: bool = False) -> None:
        self.seen: list[dict[str, Any]] = []
        self.reject = reject

    def admit_create(self, registry: Any, res: Any, obj: dict[str, Any], dry_run: bool) -> None:
        self.seen.append(obj)
        if self.reject:
            raise errors.forbidden("pods/binding", obj["metadata"]["name"], "", "denied by test")


async def _registry(tmp_path, plugin: RecordBindings) -> Registry:
    reg = Registry(SQLiteStore(str(tmp_path / "db" / "state.db")), admission=Chain([plugin]))
    await reg.create(NAMESPACES, None, {"metadata": {"name": "default"}}, WriteOptions())
    await reg.create(PODS, "default", {"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "c", "image": "busybox"}]}}, WriteOptions())
    return reg


def _binding(node: str) -> dict[str, Any]:
    return {"metadata": {"name": "p", "annotations": {"a": "b"}}, "target": {"kind": "Node", "name": node}}


async def test_bind_is_admitted_and_sets_node_once(tmp_path) -> None:
    plugin = RecordBindings()
    reg = await _registry(tmp_path, plugin)
    await subresources.bind(reg, "default", _binding("n1"), WriteOptions(field_manager="sched"))
    assert [b["target"]["name"] for b in plugin.seen] == ["n1"]
    pod = reg.get(PODS, "default", "p").obj()
    assert pod["spec"]["nodeName"] == "n1"
    assert pod["metadata"]["annotations"] == {"a": "b"}  # BindingREST copies the Binding's annotations
    assert [c["type"] for c in pod["status"]["conditions"]] == ["PodScheduled"]
    assert "sched" in [m["manager"] for m in pod["metadata"]["managedFields"]]
    with pytest.raises(errors.StatusError) as e:
        await subresources.bind(reg, "default", _binding("n2"), WriteOptions())
    assert e.value.code == 409
    assert e.value.message == 'Operation cannot be fulfilled on pods/binding "p": pod p is already assigned to node "n1"'
    reg.store.close()


async def test_bind_rejected_by_admission_writes_nothing(tmp_path) -> None:
    reg = await _registry(tmp_path, RecordBindings(reject=True))
    with pytest.raises(errors.StatusError) as e:
        await subresources.bind(reg, "default", _binding("n1"), WriteOptions())
    assert e.value.code == 403
    assert "nodeName" not in reg.get(PODS, "default", "p").obj()["spec"]
    reg.store.close()


async def test_bind_retries_a_concurrent_write(tmp_path) -> None:
    """GuaranteedUpdate: a write that lands between the read and the bind's write is retried on."""
    reg = await _registry(tmp_path, RecordBindings())
    update = reg.store.update
    raced: list[bool] = []

    async def racing_update(key: str, obj: dict[str, Any], rev: int) -> Any:
        if not raced:
            raced.append(True)
            cur = reg.store.get(key)
            other = cur.copy()
            other["metadata"].setdefault("labels", {})["raced"] = "yes"
            await update(key, other, cur.mod_rev)
        return await update(key, obj, rev)

    reg.store.update = racing_update  # type: ignore[method-assign]
    await subresources.bind(reg, "default", _binding("n1"), WriteOptions())
    pod = reg.get(PODS, "default", "p").obj()
    assert pod["spec"]["nodeName"] == "n1" and pod["metadata"]["labels"] == {"raced": "yes"}
    reg.store.close()


async def test_bind_of_a_missing_pod_is_404(tmp_path) -> None:
    reg = await _registry(tmp_path, RecordBindings())
    with pytest.raises(errors.StatusError) as e:
        await subresources.bind(reg, "default", {"metadata": {"name": "nope"}, "target": {"name": "n1"}}, WriteOptions())
    assert e.value.code == 404
    reg.store.close()
