"""PV binder matching and the local-path volume (pv_controller.go findMatchingVolume, local-path)."""

from __future__ import annotations

from kubeling import addons
from kubeling.controllers import localpath
from kubeling.controllers import persistentvolume as pvc_ctl


def pv(size: str, cls: str = "manual", modes: tuple[str, ...] = ("ReadWriteOnce",), **spec: object) -> dict:
    return {"metadata": {"name": f"pv-{size}"}, "spec": {"capacity": {"storage": size}, "accessModes": list(modes),
                                                        "storageClassName": cls, **spec}}


def claim(size: str = "1Gi", cls: str = "manual", modes: tuple[str, ...] = ("ReadWriteOnce",)) -> dict:
    return {"metadata": {"name": "c", "namespace": "ns", "uid": "u", "resourceVersion": "7"},
            "spec": {"accessModes": list(modes), "storageClassName": cls, "resources": {"requests": {"storage": size}}}}


def test_volume_matches_class_modes_and_size() -> None:
    assert pvc_ctl.volume_matches(pv("1Gi"), claim("1Gi"))
    assert pvc_ctl.volume_matches(pv("2Gi"), claim("1500Mi"))
    assert not pvc_ctl.volume_matches(pv("1Gi"), claim("2Gi"))
    assert not pvc_ctl.volume_matches(pv("1Gi", cls="other"), claim())
    assert not pvc_ctl.volume_matches(pv("1Gi"), claim(modes=("ReadWriteMany",)))
    assert not pvc_ctl.volume_matches(pv("1Gi", claimRef={"name": "x"}), claim())
    assert not pvc_ctl.volume_matches(pv("1Gi", volumeMode="Block"), claim())


def test_prebound_volume() -> None:
    assert pvc_ctl.prebound_to(pv("1Gi", claimRef={"namespace": "ns", "name": "c"}), claim())
    assert pvc_ctl.prebound_to(pv("1Gi", claimRef={"namespace": "ns", "name": "c", "uid": "u"}), claim())
    assert not pvc_ctl.prebound_to(pv("1Gi", claimRef={"namespace": "ns", "name": "c", "uid": "old"}), claim())


def test_local_path_volume() -> None:
    c = claim("3Gi", cls="local-path")
    v = localpath.volume_for(c, "node-a", addons.storage_class(), "/data/storage")
    assert v["metadata"] == {"name": "pvc-u", "annotations": {
        "pv.kubernetes.io/provisioned-by": "rancher.io/local-path", "local.path.provisioner/selected-node": "node-a"}}
    assert v["spec"]["hostPath"] == {"path": "/data/storage/pvc-u_ns_c", "type": "DirectoryOrCreate"}
    assert v["spec"]["capacity"] == {"storage": "3Gi"} and v["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert v["spec"]["claimRef"] == {"kind": "PersistentVolumeClaim", "namespace": "ns", "name": "c", "uid": "u",
                                     "apiVersion": "v1", "resourceVersion": "7"}
    assert pvc_ctl.prebound_to(v, c)
