"""PodSecurity admission (upstream k8s.io/pod-security-admission): enforce, warn and audit modes.

A namespace labelled `pod-security.kubernetes.io/enforce: baseline|restricted` (optionally with
`enforce-version`) rejects pods that break that level, naming every failed check as upstream
does: `pods "p" is forbidden: violates PodSecurity "restricted:latest": <reason> (<detail>), ...`.
`audit` adds `pod-security.kubernetes.io/audit-violations` to the request's audit event instead,
and every pod write carries `pod-security.kubernetes.io/enforce-policy` (e.g. `privileged:latest`).
Checks run in upstream's order (by check ID); a restricted check replaces its baseline twin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

from ...api import errors
from ...api.resources import lookup
from ..admission import BasePlugin, Objects
from ..auth.user import annotate, warn

if TYPE_CHECKING:
    from ...api.resources import Resource

LABEL = "pod-security.kubernetes.io/"
LEVELS = ("privileged", "baseline", "restricted")
Pod = dict[str, Any]
Result = Optional[tuple[str, str]]  # (forbidden reason, forbidden detail)

BASELINE_CAPABILITIES = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                         "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                      "projected", "secret"}
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes"}


def _containers(pod: Pod) -> list[dict[str, Any]]:
    spec = pod.get("spec") or {}
    return [*(spec.get("initContainers") or ()), *(spec.get("containers") or ()),
            *(spec.get("ephemeralContainers") or ())]


def _sc(c: dict[str, Any]) -> dict[str, Any]:
    return c.get("securityContext") or {}


def _psc(pod: Pod) -> dict[str, Any]:
    return (pod.get("spec") or {}).get("securityContext") or {}


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _plural(singular: str, plural: str, names: list[str]) -> str:
    return f"{singular if len(names) == 1 else plural} {_quoted(names)}"


# ---- baseline -----------------------------------------------------------------------------------

def host_namespaces(pod: Pod) -> Result:
    spec = pod.get("spec") or {}
    bad = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
    return ("host namespaces", ", ".join(bad)) if bad else None


def privileged(pod: Pod) -> Result:
    bad = [c["name"] for c in _containers(pod) if _sc(c).get("privileged")]
    if bad:
        return "privileged", f"{_plural('container', 'containers', bad)} must not set securityContext.privileged=true"
    return None


def capabilities_baseline(pod: Pod) -> Result:
    names, caps = [], []
    for c in _containers(pod):
        extra = [a for a in (_sc(c).get("capabilities") or {}).get("add") or () if a not in BASELINE_CAPABILITIES]
        if extra:
            names.append(c["name"])
            caps += [a for a in extra if a not in caps]
    if names:
        return ("non-default capabilities", f"{_plural('container', 'containers', names)} must not include "
                f"{_quoted(caps)} in securityContext.capabilities.add")
    return None


def host_path_volumes(pod: Pod) -> Result:
    bad = [v["name"] for v in (pod.get("spec") or {}).get("volumes") or () if "hostPath" in v]
    return ("hostPath volumes", _plural("volume", "volumes", bad)) if bad else None


def host_ports(pod: Pod) -> Result:
    names, ports = [], []
    for c in _containers(pod):
        used = [str(p["hostPort"]) for p in c.get("ports") or () if p.get("hostPort")]
        if used:
            names.append(c["name"])
            ports += [p for p in used if p not in ports]
    if names:
        verb = "uses" if len(names) == 1 else "use"
        return "hostPort", f"{_plural('container', 'containers', names)} {verb} {'hostPort' if len(ports) == 1 else 'hostPorts'} {', '.join(ports)}"
    return None


def proc_mount(pod: Pod) -> Result:
    bad = [c["name"] for c in _containers(pod) if _sc(c).get("procMount") not in (None, "Default")]
    if bad:
        return "procMount", f"{_plural('container', 'containers', bad)} must not set securityContext.procMount to " \
                            f'"{_sc(next(c for c in _containers(pod) if c["name"] == bad[0])).get("procMount")}"'
    return None


def seccomp_baseline(pod: Pod) -> Result:
    bad = []
    if (_psc(pod).get("seccompProfile") or {}).get("type") == "Unconfined":
        bad.append('pod must not set securityContext.seccompProfile.type to "Unconfined"')
    names = [c["name"] for c in _containers(pod) if (_sc(c).get("seccompProfile") or {}).get("type") == "Unconfined"]
    if names:
        bad.append(f'{_plural("container", "containers", names)} must not set securityContext.seccompProfile.type '
                   'to "Unconfined"')
    return ("seccompProfile", "; ".join(bad)) if bad else None


def sysctls(pod: Pod) -> Result:
    bad = [s.get("name", "") for s in _psc(pod).get("sysctls") or () if s.get("name") not in SAFE_SYSCTLS]
    return ("forbidden sysctls", ", ".join(bad)) if bad else None


# ---- restricted ---------------------------------------------------------------------------------

def allow_privilege_escalation(pod: Pod) -> Result:
    bad = [c["name"] for c in _containers(pod) if _sc(c).get("allowPrivilegeEscalation") is not False]
    if bad:
        return ("allowPrivilegeEscalation != false",
                f"{_plural('container', 'containers', bad)} must set securityContext.allowPrivilegeEscalation=false")
    return None


def capabilities_restricted(pod: Pod) -> Result:
    no_drop, adds, caps = [], [], []
    for c in _containers(pod):
        cap = _sc(c).get("capabilities") or {}
        if "ALL" not in (cap.get("drop") or ()):
            no_drop.append(c["name"])
        extra = [a for a in cap.get("add") or () if a != "NET_BIND_SERVICE"]
        if extra:
            adds.append(c["name"])
            caps += [a for a in extra if a not in caps]
    details = []
    if no_drop:
        details.append(f'{_plural("container", "containers", no_drop)} must set securityContext.capabilities.drop=["ALL"]')
    if adds:
        details.append(f"{_plural('container', 'containers', adds)} must not include {_quoted(caps)} in "
                       "securityContext.capabilities.add")
    return ("unrestricted capabilities", "; ".join(details)) if details else None


def restricted_volumes(pod: Pod) -> Result:
    bad = []
    for v in (pod.get("spec") or {}).get("volumes") or ():
        kinds = [k for k in v if k != "name" and k not in RESTRICTED_VOLUMES]
        if kinds:
            bad.append((v["name"], kinds[0]))
    if not bad:
        return None
    if len(bad) == 1:
        return "restricted volume types", f'volume "{bad[0][0]}" uses restricted volume type "{bad[0][1]}"'
    types = list(dict.fromkeys(t for _, t in bad))
    return ("restricted volume types", f"volumes {_quoted([n for n, _ in bad])} use restricted volume "
            f"{'type' if len(types) == 1 else 'types'} {_quoted(types)}")


def _pod_or_containers(pod: Pod, field: str, good: Callable[[Any], bool], bad_text: str, must: str) -> list[str]:
    """runAsNonRoot/seccompProfile: the pod's setting counts for containers that leave it unset."""
    details = []
    pod_value = _psc(pod).get(field)
    if pod_value is not None and not good(pod_value):
        details.append(f"pod must not set securityContext.{field}{bad_text(pod_value)}")
    explicit_bad = [c["name"] for c in _containers(pod) if _sc(c).get(field) is not None and not good(_sc(c)[field])]
    if explicit_bad:
        first = _sc(next(c for c in _containers(pod) if c["name"] == explicit_bad[0]))[field]
        details.append(f"{_plural('container', 'containers', explicit_bad)} must not set "
                       f"securityContext.{field}{bad_text(first)}")
    if pod_value is None or not good(pod_value):
        unset = [c["name"] for c in _containers(pod) if _sc(c).get(field) is None]
        if unset and pod_value is None:
            details.append(f"pod or {_plural('container', 'containers', unset)} must set securityContext.{field}{must}")
    return details


def run_as_non_root(pod: Pod) -> Result:
    details = _pod_or_containers(pod, "runAsNonRoot", lambda v: v is True, lambda v: "=false", "=true")
    return ("runAsNonRoot != true", "; ".join(details)) if details else None


def run_as_user(pod: Pod) -> Result:
    details = []
    if _psc(pod).get("runAsUser") == 0:
        details.append("pod must not set runAsUser=0")
    bad = [c["name"] for c in _containers(pod) if _sc(c).get("runAsUser") == 0]
    if bad:
        details.append(f"{_plural('container', 'containers', bad)} must not set runAsUser=0")
    return ("runAsUser=0", "; ".join(details)) if details else None


def seccomp_restricted(pod: Pod) -> Result:
    details = _pod_or_containers(
        pod, "seccompProfile", lambda v: (v or {}).get("type") in ("RuntimeDefault", "Localhost"),
        lambda v: f'.type to "{(v or {}).get("type", "")}"', '.type to "RuntimeDefault" or "Localhost"')
    return ("seccompProfile", "; ".join(details)) if details else None


# check ID order (upstream evaluates checks sorted by ID); restricted ones replace their baseline twins
BASELINE: list[tuple[str, Callable[[Pod], Result]]] = [
    ("capabilities_baseline", capabilities_baseline), ("hostNamespaces", host_namespaces),
    ("hostPathVolumes", host_path_volumes), ("hostPorts", host_ports), ("privileged", privileged),
    ("procMount", proc_mount), ("seccompProfile_baseline", seccomp_baseline), ("sysctls", sysctls),
]
RESTRICTED: list[tuple[str, Callable[[Pod], Result]]] = [
    ("allowPrivilegeEscalation", allow_privilege_escalation), ("capabilities_restricted", capabilities_restricted),
    ("restrictedVolumes", restricted_volumes), ("runAsNonRoot", run_as_non_root), ("runAsUser", run_as_user),
    ("seccompProfile_restricted", seccomp_restricted),
]
OVERRIDES = {"capabilities_baseline": "capabilities_restricted", "hostPathVolumes": "restrictedVolumes",
             "seccompProfile_baseline": "seccompProfile_restricted"}


def evaluate(level: str, pod: Pod) -> list[tuple[str, str]]:
    """The failed checks of `level` for `pod`, in upstream's order."""
    if level == "privileged":
        return []
    checks = [c for c in BASELINE if level != "restricted" or c[0] not in OVERRIDES]
    if level == "restricted":
        checks = sorted(checks + RESTRICTED, key=lambda c: c[0])
    return [r for _, check in checks if (r := check(pod)) is not None]


# workload kinds whose pod template is checked (warnings only, as upstream)
TEMPLATES = {("apps", "Deployment"): ("spec", "template"), ("apps", "ReplicaSet"): ("spec", "template"),
             ("apps", "StatefulSet"): ("spec", "template"), ("apps", "DaemonSet"): ("spec", "template"),
             ("", "ReplicationController"): ("spec", "template"), ("batch", "Job"): ("spec", "template"),
             ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template")}


def _level_version(labels: dict[str, str], mode: str) -> str:
    """`restricted:latest`: upstream's LevelVersion.String() of a mode."""
    return f"{labels.get(LABEL + mode, 'privileged')}:{labels.get(LABEL + mode + '-version') or 'latest'}"


def _failures(labels: dict[str, str], mode: str, pod: Pod) -> str | None:
    """`"<level>:<version>": <reason> (<detail>), ...` for a mode's level, or None if it passes."""
    level = labels.get(LABEL + mode, "privileged")
    if level not in LEVELS:
        return None
    failed = evaluate(level, pod)
    if not failed:
        return None
    return f'"{_level_version(labels, mode)}": ' + ", ".join(f"{reason} ({detail})" for reason, detail in failed)


class PodSecurity(BasePlugin):
    """Pods: `enforce` rejects, `warn` warns, `audit` annotates. Workload templates: enforce and
    warn only warn, audit annotates."""

    kinds = (("", "Pod"), *TEMPLATES)

    def admit_create(self, registry: "Objects", res: "Resource", obj: dict[str, Any], dry_run: bool) -> None:
        self._check(registry, res, obj)

    def admit_update(self, registry: "Objects", res: "Resource", old: dict[str, Any], new: dict[str, Any],
                     dry_run: bool) -> None:
        if (old.get("spec") or {}) != (new.get("spec") or {}):  # metadata and status updates are exempt
            self._check(registry, res, new)

    def _check(self, registry: "Objects", res: "Resource", obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        namespaces = lookup("", "v1", "namespaces")
        assert namespaces is not None
        entry = registry.store.get(namespaces.key(None, meta.get("namespace", "")))
        labels = ((entry.obj().get("metadata") or {}).get("labels") or {}) if entry is not None else {}
        if res.kind == "Pod":
            annotate(LABEL + "enforce-policy", _level_version(labels, "enforce"))
            if not any(k.startswith(LABEL) for k in labels):
                return
            enforced = _failures(labels, "enforce", obj)
            self._audit(labels, obj)
            if enforced:
                raise errors.forbidden("pods", meta.get("name", ""), "", f"violates PodSecurity {enforced}")
            warned = _failures(labels, "warn", obj)
            if warned:
                warn(f"would violate PodSecurity {warned}")
            return
        if not any(k.startswith(LABEL) for k in labels):
            return
        template: Any = obj
        for step in TEMPLATES[(res.group, res.kind)]:
            template = (template or {}).get(step) if isinstance(template, dict) else None
        if isinstance(template, dict):
            self._audit(labels, template)
            for mode in ("enforce", "warn"):
                found = _failures(labels, mode, template)
                if found:
                    warn(f"would violate PodSecurity {found}")
                    return

    @staticmethod
    def _audit(labels: dict[str, str], pod: Pod) -> None:
        """The `audit` level: a violation only annotates the request's audit event (upstream's
        `pod-security.kubernetes.io/audit-violations`)."""
        found = _failures(labels, "audit", pod)
        if found:
            annotate(LABEL + "audit-violations", f"would violate PodSecurity {found}")
