"""A kind's rules are reachable from its row: Resource.strategy carries the printer and the
selectable fields besides defaults, validation and the create/status steps."""

from __future__ import annotations

from kubeling.api import customresource, printers
from kubeling.api.fieldselectors import field_selector_for
from kubeling.api.resources import lookup


def test_builtin_row_reaches_printer_and_selectable_fields() -> None:
    pods = lookup("", "v1", "pods")
    assert pods is not None
    rules = pods.strategy
    assert rules.printer is printers.HANDLERS[("", "Pod")]
    assert rules.selectable_fields["spec.nodeName"]({"spec": {"nodeName": "n1"}}) == "n1"
    assert rules.validate is not None and rules.generation is False


def test_kind_without_rules_gets_generic_printer_and_no_fields() -> None:
    roles = lookup("rbac.authorization.k8s.io", "v1", "roles")
    assert roles is not None
    assert roles.strategy.printer is None  # the generic Name / Created At table
    assert dict(roles.strategy.selectable_fields) == {}
    # field selectors then read only metadata.name / metadata.namespace
    sel = field_selector_for("metadata.name=r1", "rbac.authorization.k8s.io", "v1", "Role")
    assert sel.matches({"metadata": {"name": "r1"}}) and not sel.matches({"metadata": {"name": "r2"}})


def test_custom_resource_row_reaches_its_printer_columns() -> None:
    crd = {"metadata": {"name": "widgets.example.com", "uid": "u1"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "widgets", "kind": "Widget", "singular": "widget"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {"type": "object"}},
                                  "additionalPrinterColumns": [{"name": "Size", "type": "integer",
                                                                "jsonPath": ".spec.size"}]}]}}
    (row,) = customresource.rows(crd)
    names = [c.name for c in row.strategy.printer.columns]
    assert "Size" in names
