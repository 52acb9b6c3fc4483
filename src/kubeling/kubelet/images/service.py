"""The kubelet's image service: pull (deduplicated), status, mount info, remove.

One per node, over `DATA/agent/images`. Pulls of the same reference at the same time
share one download; removal and garbage collection wait for running pulls.
"""

from __future__ import annotations

import asyncio
import os
from typing import Callable

from ... import subproc
from .reference import normalize
from .registries import Auth, RegistryConfig, load_registries
from .registry import RegistryClient
from .store import ImageMount, ImageRecord, ImageStore


class ImageService:
    def __init__(self, root: str, registries: RegistryConfig | None = None) -> None:
        self.store = ImageStore(root)
        self.client = RegistryClient(registries or RegistryConfig())
        self._pulls: dict[str, asyncio.Future[ImageRecord]] = {}
        self._gc_lock = asyncio.Lock()
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @classmethod
    def for_data_dir(cls, data_dir: str, registries_path: str = "") -> "ImageService":
        """The node's service: store at DATA/agent/images, registries.yaml if given."""
        return cls(os.path.join(data_dir, "agent", "images"), load_registries(registries_path))

    async def close(self) -> None:
        await self.client.close()

    def status(self, image: str) -> ImageRecord | None:
        """The stored image `image` names, or None (what CRI ImageStatus answers)."""
        return self.store.get(image)

    async def pull(self, image: str, auth: Auth | None = None) -> ImageRecord:
        """Pull and unpack; concurrent pulls of the same reference share one transfer."""
        key = str(normalize(image))
        fut = self._pulls.get(key)
        if fut is not None:
            return await asyncio.shield(fut)
        fut = asyncio.get_running_loop().create_future()
        self._pulls[key] = fut
        async with self._gc_lock:
            self._active += 1
            self._idle.clear()
        try:
            rec = await self.client.pull(image, self.store, auth)
            fut.set_result(rec)
            return rec
        except asyncio.CancelledError:
            fut.cancel()
            raise
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            del self._pulls[key]
            self._active -= 1
            if self._active == 0:
                self._idle.set()

    async def mount_info(self, image: str) -> ImageMount:
        """Lower dirs (top first) + config for a container; unpacks in a thread if needed."""
        return await subproc.blocking(self.store.mount_info, image)

    async def remove(self, image: str, in_use: Callable[[ImageRecord], bool] | None = None) -> list[str]:
        async with self._gc_lock:
            await self._idle.wait()
            return await asyncio.to_thread(self.store.remove, image, in_use)

    def list(self) -> list[ImageRecord]:
        return self.store.list()
