"""Values derived from the objects under a store prefix, rebuilt only when that prefix changed.

Admission plugins consult configuration objects on every write (webhook configurations,
ValidatingAdmissionPolicies and their bindings, LimitRanges, ResourceQuotas, the default
PriorityClass and StorageClass). A `Derived` keeps what a plugin builds from that list (decoded
objects, parsed quantities, bindings indexed by policy), keyed by the store's `prefix_revision`:
the same revision means no object under the prefix was written since, so the value is still
exact, and a configuration created by one request applies to the next. A lookup is then two
dict reads, without listing, filtering or decoding.

Built values are shared between requests: callers must not mutate them.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .base import Entry

T = TypeVar("T")
MAX_PREFIXES = 4096  # one per namespace for namespaced configurations


class Derived(Generic[T]):
    """`build(entries under prefix)`, cached per prefix until a write under it.

    The cache is for one store at a time (the API server has one; a test that opens another
    starts it afresh), held weakly so a closed store is not kept alive."""

    def __init__(self, build: Callable[[list[Entry]], T]) -> None:
        self._build = build
        self._store: weakref.ref[Any] | None = None
        self._cache: dict[str, tuple[int, T]] = {}

    def get(self, store: Any, prefix: str) -> T:
        rev = store.prefix_revision(prefix)
        if self._store is None or self._store() is not store:
            self._store, self._cache = weakref.ref(store), {}
        hit = self._cache.get(prefix)
        if hit is not None and hit[0] == rev:
            return hit[1]
        value = self._build(store.list(prefix)[0])
        if len(self._cache) >= MAX_PREFIXES:
            self._cache.clear()
        self._cache[prefix] = (rev, value)
        return value
