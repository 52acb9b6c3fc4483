"""ServiceAccount admission (upstream plugin/pkg/admission/serviceaccount/admission.go).

On pod create: default `spec.serviceAccountName` to `default`, require the ServiceAccount to exist,
and (unless automount is off on the pod or the account) mount the projected `kube-api-access-xxxxx`
volume with a bound token, the cluster CA and the namespace at
/var/run/secrets/kubernetes.io/serviceaccount in every container and init container.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ...api import errors
from ...api.resources import lookup
from .. import names
from ..admission import BasePlugin, Objects

if TYPE_CHECKING:
    from ...api.resources import Resource

SERVICE_ACCOUNTS = lookup("", "v1", "serviceaccounts")
assert SERVICE_ACCOUNTS is not None

DEFAULT_SERVICE_ACCOUNT = "default"
VOLUME_PREFIX = "kube-api-access-"
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
# serviceaccount.WarnOnlyBoundTokenExpirationSeconds: 1h + 7s, the kubelet refreshes it
TOKEN_EXPIRATION_SECONDS = 3607


def token_volume_source() -> dict[str, Any]:
    """TokenVolumeSource(): token, CA bundle and namespace in one projected volume."""
    return {
        "sources": [
            {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
            {"configMap": {"name": ROOT_CA_CONFIGMAP, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace",
                                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ],
        "defaultMode": 420,
    }


def should_automount(sa: dict[str, Any], pod: dict[str, Any]) -> bool:
    """The pod's automountServiceAccountToken wins over the account's; default true."""
    spec = pod.get("spec") or {}
    if spec.get("automountServiceAccountToken") is not None:
        return bool(spec["automountServiceAccountToken"])
    if sa.get("automountServiceAccountToken") is not None:
        return bool(sa["automountServiceAccountToken"])
    return True


def mount_service_account_token(pod: dict[str, Any], random_suffix: Callable[[], str]) -> None:
    """mountServiceAccountToken: reuse an existing kube-api-access-* volume, mount it where no
    container already mounts something at the token path, add the volume if anything mounts it."""
    spec = pod.setdefault("spec", {})
    volumes = spec.get("volumes") or []
    name = next((v["name"] for v in volumes if v.get("name", "").startswith(VOLUME_PREFIX)), "")
    has_volume = bool(name)
    if not name:
        name = VOLUME_PREFIX + random_suffix()
    needed = False
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            mounts = c.get("volumeMounts") or []
            if any(m.get("mountPath") == MOUNT_PATH for m in mounts):
                continue
            c["volumeMounts"] = [*mounts, {"name": name, "readOnly": True, "mountPath": MOUNT_PATH}]
            needed = True
    if needed and not has_volume:
        spec["volumes"] = [*volumes, {"name": name, "projected": token_volume_source()}]


class ServiceAccountAdmission(BasePlugin):
    kinds = (("", "Pod"),)

    def __init__(self, random_suffix: Callable[[], str] | None = None) -> None:
        self.random_suffix = random_suffix or names.random_suffix

    def admit_create(self, registry: "Objects", res: "Resource", obj: dict[str, Any], dry_run: bool) -> None:
        meta = obj.get("metadata") or {}
        if MIRROR_POD_ANNOTATION in (meta.get("annotations") or {}):
            return
        spec = obj.setdefault("spec", {})
        if not spec.get("serviceAccountName"):
            spec["serviceAccountName"] = spec.get("serviceAccount") or DEFAULT_SERVICE_ACCOUNT
        name = spec["serviceAccountName"]
        spec["serviceAccount"] = name  # the deprecated alias, as v1 conversion fills it
        ns = meta.get("namespace") or ""
        entry = registry.store.get(SERVICE_ACCOUNTS.key(ns, name))
        if entry is not None:
            sa = entry.obj()
        elif name == DEFAULT_SERVICE_ACCOUNT:
            # upstream retries the default account for ~1 s while the controller creates it;
            # ours is created within milliseconds of the namespace, so admit as if it existed
            sa = {}
        else:
            raise errors.forbidden(res.plural, meta.get("name", ""), res.group,
                                   f"error looking up service account {ns}/{name}: "
                                   f"serviceaccount \"{name}\" not found")
        if should_automount(sa, obj):
            mount_service_account_token(obj, self.random_suffix)
        if not spec.get("imagePullSecrets") and sa.get("imagePullSecrets"):
            spec["imagePullSecrets"] = [{"name": s.get("name", "")} for s in sa["imagePullSecrets"]]
