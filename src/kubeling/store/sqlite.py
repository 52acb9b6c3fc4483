"""Embedded store: SQLite (WAL) for durability, an in-memory index for reads and watch.

Every write is one SQLite transaction that upserts the object row and bumps the global revision.
Commits use WAL with synchronous=NORMAL: a committed transaction is in the OS page cache before
the call returns, so it survives `kill -9` of the process (not a power cut; that is what etcd is
for). Reads never touch SQLite: the whole keyspace lives in memory, grouped per resource, the way
kube-apiserver's watch cache sits in front of etcd. The process that commits also emits the
watch events right after the commit, so there is no polling.
"""

from __future__ import annotations

import collections
import logging
import os
import sqlite3
from typing import Any, Iterable

import orjson

from .base import (
    ADDED,
    DELETED,
    MAX_REQUEST_BYTES,
    MODIFIED,
    Compacted,
    Entry,
    Event,
    KeyExists,
    KeyNotFound,
    RequestTooLarge,
    RevisionConflict,
    Watcher,
)

log = logging.getLogger("kubeling.store")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
  key TEXT PRIMARY KEY,
  value BLOB NOT NULL,
  mod_rev INTEGER NOT NULL,
  create_rev INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
"""


def _bucket(key: str) -> str:
    """`/registry/<group>/<plural>/` of a key: the unit of listing."""
    parts = key.split("/", 4)
    return "/".join(parts[:4]) + "/"


def _encode(obj: dict[str, Any], rev: int, key: str = "") -> bytes:
    obj.setdefault("metadata", {})["resourceVersion"] = str(rev)
    value = orjson.dumps(obj)
    if len(value) + len(key) > MAX_REQUEST_BYTES:
        raise RequestTooLarge()
    return value


DECODED_WINDOW = 2_000  # history events whose objects stay decoded (see _drop_decoded)
# The watch history is bounded by bytes too: 50,000 events of 1 MB objects were ~50 GB of RSS
# (the fuzz suite grew ~100 MiB per 1,000 such writes). A watch from an older revision is 410 Gone.
HISTORY_BYTES = 256 << 20
MEMORY = ":memory:"  # a store that lives and dies with the process (tests)


class SQLiteStore:
    """Single-writer store for one process (the API server)."""

    def __init__(self, path: str, history: int = 50_000, history_bytes: int = HISTORY_BYTES,
                 transformer: Any = None) -> None:
        # encryption.Transformer: values encrypted in the file, plaintext in memory (None: as is)
        self._transformer = transformer
        if path != MEMORY:
            os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
            # created 0600 before SQLite opens it: its -wal and -shm files take the database's mode
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._buckets: dict[str, dict[str, Entry]] = collections.defaultdict(dict)
        self._sorted: dict[str, list[Entry] | None] = {}
        self._bucket_rev: dict[str, int] = {}  # bucket -> revision of its last write since opening
        self._prefix_buckets: dict[str, str] = {}  # memo of _bucket for prefix_revision
        row = self._db.execute(
            "SELECT max(coalesce((SELECT value FROM meta WHERE name='revision'), 1),"
            " coalesce((SELECT max(mod_rev) FROM kv), 1))").fetchone()
        self.revision: int = row[0]
        self._stale: set[str] = set()  # keys whose stored bytes an older encryption key wrote
        for key, value, mod_rev, create_rev in self._db.execute("SELECT key, value, mod_rev, create_rev FROM kv"):
            value = bytes(value)
            if transformer is not None:
                if transformer.stale(key, value):
                    self._stale.add(key)
                value = transformer.from_storage(key, value)
            self._buckets[_bucket(key)][key] = Entry(key, value, mod_rev, create_rev)
        self._history: collections.deque[Event] = collections.deque()
        self._history_max, self._history_budget = history, history_bytes
        self._history_bytes = 0  # the encoded size of the events kept
        self.compacted_revision = self.revision  # nothing before a (re)start can be replayed
        self._watchers: dict[str, set[Watcher]] = collections.defaultdict(set)

    # --- reads (memory only) ---------------------------------------------------------------
    def stale(self, key: str) -> bool:
        """Is the key's value in the file encrypted otherwise than a write would now encrypt it?"""
        return key in self._stale

    def get(self, key: str) -> Entry | None:
        return self._buckets.get(_bucket(key), {}).get(key)

    def list(self, prefix: str) -> tuple[list[Entry], int]:
        """Entries under `prefix` sorted by key, and the revision they are consistent at."""
        b = _bucket(prefix)
        entries = self._sorted.get(b)
        if entries is None:
            bucket = self._buckets.get(b, {})
            entries = [bucket[k] for k in sorted(bucket)]
            self._sorted[b] = entries
        if prefix != b:
            entries = [e for e in entries if e.key.startswith(prefix)]
        return entries, self.revision

    def prefix_revision(self, prefix: str) -> int:
        """A number that changes whenever an object under `prefix` is written (coarsely: its
        bucket's last write, 0 if none since the store opened), so what is derived from a prefix's
        objects can be kept until it does (store/derived.py)."""
        b = self._prefix_buckets.get(prefix)
        if b is None:  # asked with a few prefixes (configuration kinds, per namespace), over and over
            if len(self._prefix_buckets) >= 4096:
                self._prefix_buckets.clear()
            b = self._prefix_buckets[prefix] = _bucket(prefix)
        return self._bucket_rev.get(b, 0)

    def count(self, prefix: str) -> int:
        return len(self.list(prefix)[0])

    # --- writes ----------------------------------------------------------------------------
    def _commit(self, key: str, entry: Entry | None, rev: int) -> None:
        """One durable transaction per write. An upsert is a single autocommit statement (its
        row carries the revision); a delete also records the revision, since no row will."""
        db = self._db
        self._stale.discard(key)
        if entry is not None:
            value = entry.value if self._transformer is None else self._transformer.to_storage(key, entry.value)
            db.execute("INSERT OR REPLACE INTO kv(key, value, mod_rev, create_rev) VALUES (?,?,?,?)",
                       (key, value, entry.mod_rev, entry.create_rev))
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM kv WHERE key=?", (key,))
            db.execute("INSERT OR REPLACE INTO meta(name, value) VALUES ('revision', ?)", (rev,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _apply(self, ev: Event) -> None:
        key = ev.entry.key
        b = _bucket(key)
        bucket = self._buckets[b]
        if ev.type == DELETED:
            bucket.pop(key, None)
        else:
            bucket[key] = ev.entry
        self._sorted[b] = None
        self.revision = self._bucket_rev[b] = ev.entry.mod_rev
        self._remember(ev)
        self._fan_out(ev)
        if len(self._history) > DECODED_WINDOW:
            self._drop_decoded(self._history[-DECODED_WINDOW - 1])

    def _remember(self, ev: Event) -> None:
        """Keep `ev` for watches that resume from an older revision, dropping the oldest events
        past the count or byte budget; what was dropped can no longer be replayed."""
        history = self._history
        history.append(ev)
        self._history_bytes += len(ev.entry.value)
        while len(history) > self._history_max or self._history_bytes > self._history_budget:
            old = history.popleft()
            self._history_bytes -= len(old.entry.value)
            self.compacted_revision = old.entry.mod_rev

    def _drop_decoded(self, ev: Event) -> None:
        """Forget the decoded dicts of versions written DECODED_WINDOW events ago.

        `Entry.obj()` caches the decoded object: ~18 KB of dicts for a 3 KB pod. Kept for every
        current object and for the 50,000 events of history (each with the version it replaced),
        that was most of the 1.8 GB of `kubeling up` at 10,000 pods (bench/scale.py). Objects
        written recently stay decoded — the next write or watch of a pod usually follows within
        seconds — and a cold one is decoded again when it is next read.
        """
        for e in (ev.entry, ev.prev):
            if e is not None:
                e._obj = None

    async def create(self, key: str, obj: dict[str, Any]) -> Entry:
        if self.get(key) is not None:
            raise KeyExists(key)
        rev = self.revision + 1
        entry = Entry(key, _encode(obj, rev, key), rev, rev, obj)
        self._commit(key, entry, rev)
        self._apply(Event(ADDED, entry))
        return entry

    async def update(self, key: str, obj: dict[str, Any], expected_rev: int) -> Entry:
        cur = self.get(key)
        if cur is None:
            raise KeyNotFound(key)
        if cur.mod_rev != expected_rev:
            raise RevisionConflict(cur)
        rev = self.revision + 1
        entry = Entry(key, _encode(obj, rev, key), rev, cur.create_rev, obj)
        self._commit(key, entry, rev)
        self._apply(Event(MODIFIED, entry, cur))
        return entry

    async def delete(self, key: str, expected_rev: int | None = None) -> Entry:
        cur = self.get(key)
        if cur is None:
            raise KeyNotFound(key)
        if expected_rev is not None and cur.mod_rev != expected_rev:
            raise RevisionConflict(cur)
        rev = self.revision + 1
        obj = cur.copy()
        tomb = Entry(key, _encode(obj, rev), rev, cur.create_rev, obj)
        self._commit(key, None, rev)
        self._apply(Event(DELETED, tomb, cur))
        return tomb

    # --- watch -----------------------------------------------------------------------------
    def watch(self, prefix: str, from_rev: int) -> Watcher:
        """Events for keys under `prefix` with revision > from_rev, then live ones."""
        if from_rev < self.compacted_revision:
            raise Compacted(from_rev)
        w = Watcher(prefix)
        if from_rev < self.revision:
            for ev in self._history:
                if ev.entry.mod_rev > from_rev and ev.entry.key.startswith(prefix):
                    w.offer(ev)
        self._watchers[_bucket(prefix)].add(w)
        return w

    def unwatch(self, w: Watcher) -> None:
        self._watchers.get(_bucket(w.prefix), set()).discard(w)
        w.close()

    def _fan_out(self, ev: Event) -> None:
        watchers = self._watchers.get(_bucket(ev.entry.key))
        if not watchers:
            return
        key = ev.entry.key
        for w in list(watchers):
            if key.startswith(w.prefix):
                w.offer(ev)
                if w.closed:
                    watchers.discard(w)

    def history_since(self, from_rev: int) -> Iterable[Event]:
        return (ev for ev in self._history if ev.entry.mod_rev > from_rev)

    def close(self) -> None:
        for ws in self._watchers.values():
            for w in ws:
                w.close()
        self._watchers.clear()
        self._db.close()
