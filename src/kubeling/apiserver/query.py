"""Query parameters as upstream's parameter codec converts them."""

from __future__ import annotations

from typing import Any


def query_bool(q: Any, name: str) -> bool:
    """A bool parameter as apimachinery's Convert_Slice_string_To_bool reads it: absent, "0" or
    "false" in any case (strings.EqualFold) is false; anything else, "" and "maybe" included, is
    true (so `watch=` and `watch=2` open a watch upstream)."""
    raw = q.get(name)
    return raw is not None and raw != "0" and raw.casefold() != "false"
