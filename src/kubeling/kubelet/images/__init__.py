"""The kubelet's image service: references, registries.yaml, OCI distribution client,
content store with overlay snapshots, tarball import, pull policy, and test images.

    from kubeling.kubelet.images import ImageService, default_pull_policy, needs_pull
    svc = ImageService.for_data_dir("/var/lib/kubeling", "/var/lib/kubeling/registries.yaml")
    rec = await svc.pull("nginx:1.14.2")          # ImageRecord: id, repo_digest, size
    m = await svc.mount_info("nginx:1.14.2")      # lowerdirs (top first), cmd, env, ...
"""

from .policy import default_pull_policy, needs_pull
from .reference import Reference, ReferenceError, normalize, parse
from .registries import Auth, RegistryConfig, auth_from_secrets, load_registries, parse_registries
from .registry import (DigestMismatchError, NotFoundError, RegistryClient, RegistryError, UnauthorizedError,
                       UnavailableError)
from .service import ImageService
from .store import ImageMount, ImageRecord, ImageStore, InUse, StoreError

__all__ = ["Auth", "DigestMismatchError", "ImageMount", "ImageRecord", "ImageService", "ImageStore", "InUse",
           "NotFoundError", "Reference", "ReferenceError", "RegistryClient", "RegistryConfig", "RegistryError",
           "StoreError", "UnauthorizedError", "UnavailableError", "auth_from_secrets", "default_pull_policy",
           "load_registries", "needs_pull", "normalize", "parse", "parse_registries"]
