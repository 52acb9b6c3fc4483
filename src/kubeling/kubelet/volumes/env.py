"""Container environment as the kubelet builds it (kubelet_pods.go makeEnvironmentVariables),
a pure function of the pod, the container and the objects it references.

Order of evaluation, as upstream: envFrom first (later sources override earlier ones; keys that
are not valid env var names are skipped with an `InvalidEnvironmentVariableNames` event), then
`env` in declaration order, each `value` expanded with `$(VAR)` against the variables defined so
far and the service variables (`$$` escapes a `$`; an unknown `$(X)` stays as is), then the
service variables (KUBERNETES_SERVICE_HOST etc., and `<SVC>_SERVICE_HOST`, Docker link vars for
the pod's namespace when `enableServiceLinks`) for names the container didn't set.
"""

from __future__ import annotations

import base64
import re
from typing import Any, Callable, Iterable, Mapping

from ..runtime.base import RuntimeError_
from . import downward

CREATE_CONTAINER_CONFIG_ERROR = "CreateContainerConfigError"
MASTER_SERVICES = frozenset({"kubernetes"})

_ENV_NAME_RE = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")

EventFn = Callable[[str, str, str], None]  # (type, reason, message)


def config_error(message: str) -> RuntimeError_:
    return RuntimeError_(CREATE_CONTAINER_CONFIG_ERROR, message)


def is_env_var_name(name: str) -> bool:
    """validation.IsEnvVarName: C-identifier-ish, plus '-' and '.', and not '.', '..', '..x'."""
    return bool(_ENV_NAME_RE.match(name)) and not name.startswith("..") and name != "."


# ---- $(VAR) expansion (third_party/forked/golang/expansion) -------------------------------------

def mapping_for(*contexts: Mapping[str, str]) -> Callable[[str], str]:
    """MappingFuncFor: first context that has the name wins; unknown names stay `$(name)`."""
    def lookup(name: str) -> str:
        for ctx in contexts:
            if name in ctx:
                return ctx[name]
        return f"$({name})"
    return lookup


def _read_name(s: str) -> tuple[str, bool, int]:
    """tryReadVariableName on the text after a `$`: (text, is_var, bytes consumed)."""
    if s[0] == "$":
        return "$", False, 1
    if s[0] == "(":
        close = s.find(")", 1)
        if close != -1:
            return s[1:close], True, close + 1
        return "$(", False, 1
    return "$" + s[0], False, 1


def expand(text: str, mapping: Callable[[str], str]) -> str:
    """expansion.Expand: `$(VAR)` references, `$$` -> `$`, anything else verbatim."""
    out: list[str] = []
    checkpoint, cursor = 0, 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            read, is_var, advance = _read_name(text[cursor + 1:])
            out.append(mapping(read) if is_var else read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return "".join(out) + text[checkpoint:]


# ---- service variables (pkg/kubelet/envvars) ----------------------------------------------------

def _env_name(s: str) -> str:
    return s.replace("-", "_").upper()


def _ip_set(svc: dict[str, Any]) -> bool:
    ip = (svc.get("spec") or {}).get("clusterIP") or ""
    return ip not in ("", "None")


def _join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def from_services(services: Iterable[dict[str, Any]]) -> dict[str, str]:
    """envvars.FromServices: HOST/PORT per service, named ports, Docker link variables."""
    out: dict[str, str] = {}
    for svc in services:
        if not _ip_set(svc):
            continue
        spec = svc.get("spec") or {}
        ports = spec.get("ports") or []
        if not ports:
            continue
        ip, prefix = spec["clusterIP"], _env_name((svc.get("metadata") or {}).get("name", ""))
        out[prefix + "_SERVICE_HOST"] = ip
        out[prefix + "_SERVICE_PORT"] = str(ports[0].get("port"))
        for sp in ports:
            if sp.get("name"):
                out[prefix + "_SERVICE_PORT_" + _env_name(sp["name"])] = str(sp.get("port"))
        for i, sp in enumerate(ports):
            proto = sp.get("protocol") or "TCP"
            url = f"{proto.lower()}://{_join_host_port(ip, sp.get('port'))}"
            if i == 0:
                out[prefix + "_PORT"] = url
            pp = f"{prefix}_PORT_{sp.get('port')}_{proto.upper()}"
            out[pp] = url
            out[pp + "_PROTO"] = proto.lower()
            out[pp + "_PORT"] = str(sp.get("port"))
            out[pp + "_ADDR"] = ip
    return out


def service_env(services: Iterable[dict[str, Any]], namespace: str, enable_service_links: bool) -> dict[str, str]:
    """getServiceEnvVarMap: `kubernetes` from default always; the pod's namespace when enabled."""
    chosen: dict[str, dict[str, Any]] = {}
    for svc in services:
        if not _ip_set(svc):
            continue
        meta = svc.get("metadata") or {}
        name, ns = meta.get("name", ""), meta.get("namespace", "")
        if ns == "default" and name in MASTER_SERVICES:
            chosen.setdefault(name, svc)
        elif ns == namespace and enable_service_links:
            chosen[name] = svc
    return from_services(chosen.values())


# ---- fieldRef -----------------------------------------------------------------------------------

_SUPPORTED_FIELDS = frozenset({
    "metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid",
    "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName", "spec.schedulerName", "status.phase",
    "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"})


def convert_field_label(version: str, label: str) -> str:
    """ConvertDownwardAPIFieldLabel (pods, v1)."""
    if version != "v1":
        raise downward.DownwardAPIError(f"unsupported pod version: {version}")
    path, _, ok = downward.split_maybe_subscripted(label)
    if ok:
        if path in ("metadata.annotations", "metadata.labels"):
            return label
        raise downward.DownwardAPIError(f"field label does not support subscript: {label}")
    if label in _SUPPORTED_FIELDS:
        return label
    if label == "spec.host":
        return "spec.nodeName"
    raise downward.DownwardAPIError(f"field label not supported: {label}")


def field_value(selector: dict[str, Any], pod: dict[str, Any], pod_ips: list[str], host_ips: list[str]) -> str:
    """podFieldSelectorRuntimeValue."""
    path = convert_field_label(selector.get("apiVersion") or "v1", selector.get("fieldPath", ""))
    spec = pod.get("spec") or {}
    if path == "spec.nodeName":
        return spec.get("nodeName", "")
    if path == "spec.serviceAccountName":
        return spec.get("serviceAccountName", "")
    if path == "status.hostIP":
        return host_ips[0] if host_ips else ""
    if path == "status.hostIPs":
        return ",".join(host_ips)
    if path == "status.podIP":
        return pod_ips[0] if pod_ips else ""
    if path == "status.podIPs":
        return ",".join(pod_ips)
    return downward.extract_field_path(pod, path)


def _pod_ips(pod: dict[str, Any]) -> list[str]:
    st = pod.get("status") or {}
    ips = [p.get("ip", "") for p in st.get("podIPs") or [] if p.get("ip")]
    return ips or ([st["podIP"]] if st.get("podIP") else [])


# ---- the whole environment ----------------------------------------------------------------------

def _secret_value(v: str) -> str:
    return base64.b64decode(v).decode("utf-8", errors="surrogateescape")


def resolve_env(pod: dict[str, Any], container: dict[str, Any], *, configmaps: Mapping[str, dict[str, Any]],
                secrets: Mapping[str, dict[str, Any]], services: Iterable[dict[str, Any]],
                node_ip: str | list[str], pod_ips: list[str] | None = None,
                node_allocatable: dict[str, Any] | None = None, on_event: EventFn | None = None) -> dict[str, str]:
    """The container's final environment; raises RuntimeError_(CreateContainerConfigError, msg).

    `configmaps`/`secrets` map names in the pod's namespace to objects (a missing name means
    NotFound); `services` are all known Services (filtered here like the kubelet does);
    `node_ip` is the node's IP (or IPs) for status.hostIP(s); `pod_ips` default to the status.
    """
    ns = (pod.get("metadata") or {}).get("namespace", "")
    spec = pod.get("spec") or {}
    links = spec.get("enableServiceLinks")
    svc_env = service_env(services, ns, True if links is None else bool(links))
    host_ips = [node_ip] if isinstance(node_ip, str) else list(node_ip)
    host_ips = [ip for ip in host_ips if ip]
    ips = _pod_ips(pod) if pod_ips is None else pod_ips
    env: dict[str, str] = {}

    def lookup(kind: str, name: str, optional: bool) -> dict[str, Any] | None:
        obj = (configmaps if kind == "configmap" else secrets).get(name)
        if obj is None and not optional:
            raise config_error(f'{kind} "{name}" not found')
        return obj

    for src in container.get("envFrom") or []:
        prefix = src.get("prefix") or ""
        if src.get("configMapRef") is not None:
            kind, ref, label = "configmap", src["configMapRef"], "configMap"
        elif src.get("secretRef") is not None:
            kind, ref, label = "secret", src["secretRef"], "secret"
        else:
            continue
        name = ref.get("name", "")
        obj = lookup(kind, name, bool(ref.get("optional")))
        if obj is None:
            continue
        data = obj.get("data") or {}
        invalid = []
        for k, v in data.items():
            k = prefix + k
            if not is_env_var_name(k):
                invalid.append(k)
                continue
            env[k] = v if kind == "configmap" else _secret_value(v)
        if invalid and on_event is not None:
            on_event("Warning", "InvalidEnvironmentVariableNames",
                     f"Keys [{', '.join(sorted(invalid))}] from the EnvFrom {label} {ns}/{name} were skipped since "
                     f"they are considered invalid environment variable names.")

    mapping = mapping_for(env, svc_env)
    for var in container.get("env") or []:
        value = var.get("value") or ""
        source = var.get("valueFrom")
        if value:
            value = expand(value, mapping)
        elif source:
            try:
                if source.get("fieldRef"):
                    value = field_value(source["fieldRef"], pod, ips, host_ips)
                elif source.get("resourceFieldRef"):
                    value = downward.resource_value(source["resourceFieldRef"], pod, container, node_allocatable)
                elif source.get("configMapKeyRef") or source.get("secretKeyRef"):
                    is_cm = bool(source.get("configMapKeyRef"))
                    ref = source["configMapKeyRef"] if is_cm else source["secretKeyRef"]
                    name, key, optional = ref.get("name", ""), ref.get("key", ""), bool(ref.get("optional"))
                    obj = lookup("configmap" if is_cm else "secret", name, optional)
                    if obj is None:
                        continue
                    data = obj.get("data") or {}
                    if key not in data:
                        if optional:
                            continue
                        raise config_error(f"couldn't find key {key} in {'ConfigMap' if is_cm else 'Secret'} {ns}/{name}")
                    value = data[key] if is_cm else _secret_value(data[key])
            except downward.DownwardAPIError as e:
                raise config_error(str(e)) from None
        env[var.get("name", "")] = value

    for k, v in svc_env.items():
        env.setdefault(k, v)
    return env


def referenced_objects(container: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Names of ConfigMaps and Secrets the container's env reads (what to fetch first)."""
    cms, secs = set(), set()
    for src in container.get("envFrom") or []:
        if src.get("configMapRef"):
            cms.add(src["configMapRef"].get("name", ""))
        if src.get("secretRef"):
            secs.add(src["secretRef"].get("name", ""))
    for var in container.get("env") or []:
        vf = var.get("valueFrom") or {}
        if vf.get("configMapKeyRef"):
            cms.add(vf["configMapKeyRef"].get("name", ""))
        if vf.get("secretKeyRef"):
            secs.add(vf["secretKeyRef"].get("name", ""))
    return cms, secs
