"""Column definitions and the printer record: which columns a kind prints and how its cells are made.

Column descriptions: upstream fills most from `SwaggerDoc()` of API structs; those are the same Go
comments the OpenAPI definitions carry, so they are read from `schema` lazily."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .fmt import Clock, EMPTY, rfc3339


# ---------------------------------------------------------------- column definitions

# Column descriptions. Upstream fills most from `SwaggerDoc()` of API structs; those are the
# same Go comments the OpenAPI definitions carry, so we read them from `schema` lazily (the
# v1beta1 structs upstream names are no longer served; their v1 twins carry the same text).
_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
CORE_DEF = "io.k8s.api.core.v1."
APPS_DEF = "io.k8s.api.apps.v1."


@dataclass(frozen=True)
class Col:
    name: str
    type: str = "string"
    description: str | tuple[str, str] = ""  # literal text or (definition, field)
    priority: int = 0
    format: str = ""


def name_col(priority: int = 0) -> Col:
    return Col("Name", "string", (_META, "name"), priority, "name")


NAME = name_col()
AGE = Col("Age", "string", (_META, "creationTimestamp"))
CREATED_AT = Col("Created At", "date", (_META, "creationTimestamp"))
CONTAINERS = Col("Containers", "string", "Names of each container in the template.", 1)
IMAGES = Col("Images", "string", "Images referenced by each container in the template.", 1)


def described(definition: str, field: str) -> tuple[str, str]:
    return (definition, field)


# ---------------------------------------------------------------- printers (one per kind)

Cells = list[Any]
Printer = Callable[[dict, Clock], Cells]


@dataclass(frozen=True)
class Handler:
    columns: tuple[Col, ...]
    cells: Printer
    # Row conditions (only pods have them upstream).
    conditions: Callable[[dict], list[dict] | None] | None = None


def meta_of(obj: dict) -> dict:
    return obj.get("metadata") or EMPTY


def default_row(obj: dict, clock: Clock) -> Cells:
    """The generic apiserver table (rest.defaultTableConvertor)."""
    md = meta_of(obj)
    return [md.get("name", ""), rfc3339(md.get("creationTimestamp"))]
