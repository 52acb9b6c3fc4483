"""Query parameters as upstream's parameter codec converts them."""

from __future__ import annotations

import pytest
from multidict import MultiDict

from kubeling.apiserver.query import query_bool


@pytest.mark.parametrize("query, expected", [
    ("", False), ("watch=0", False), ("watch=false", False), ("watch=FALSE", False), ("watch=fAlSe", False),
    ("watch=true", True), ("watch=1", True), ("watch=", True), ("watch=maybe", True), ("watch=2", True),
    ("watch=no", True), ("watch=00", True), ("watch=true&watch=false", True), ("watch=0&watch=1", False),
])
def test_bool_parameters_are_true_unless_absent_0_or_false(query, expected):
    """Convert_Slice_string_To_bool: the first value; only "0" and EqualFold "false" are false."""
    q = MultiDict(p.partition("=")[::2] for p in query.split("&") if p)
    assert query_bool(q, "watch") is expected
