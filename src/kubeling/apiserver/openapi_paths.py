"""The operations of the OpenAPI documents (openapi.py renders them to v2 or v3): every path a
served kind has, with upstream 1.32's operation ids, query and path parameters (descriptions as
upstream publishes them), request and response types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from kubeling.api import crdopenapi, resources, schema
from kubeling.api.resources import Resource, Subresource

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
STATUS = META + "Status"
DELETE_OPTIONS = META + "DeleteOptions"
PATCH = META + "Patch"
WATCH_EVENT = META + "WatchEvent"
API_RESOURCE_LIST = META + "APIResourceList"
# Media types upstream 1.32 lists for built-in resources.
PRODUCES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
PRODUCES_WATCH = PRODUCES + ("application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch")
PATCH_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)
CUSTOM_PATCH_TYPES = PATCH_TYPES[:3]
# Stores with ReturnDeletedObject: DELETE answers with the object, not a Status.
DELETE_RETURNS_OBJECT = {
    ("", "pods"), ("", "services"), ("", "persistentvolumes"), ("", "persistentvolumeclaims"),
    ("", "serviceaccounts"),
}
CONNECT_KINDS = {"PodExecOptions", "PodAttachOptions", "PodPortForwardOptions"}


# ---------------------------------------------------------------------------------------------
# Query and path parameters (descriptions as upstream 1.32 publishes them)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    description: str
    location: str = "query"
    required: bool = False


def _q(name: str, typ: str, description: str) -> Param:
    return Param(name, typ, description)


_P = {
    p.name: p
    for p in (
        _q("allowWatchBookmarks", "boolean",
           "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement "
           "bookmarks may ignore this flag and bookmarks are sent at the server's discretion. Clients should "
           "not assume bookmarks are returned at any specific interval, nor may they assume the server will "
           "send any BOOKMARK event during a session. If this is not a watch, this field is ignored."),
        _q("continue", "string",
           "The continue option should be set when retrieving more results from the server. Since this value "
           "is server defined, clients may only use the continue value from a previous query result with "
           "identical query parameters (except for the value of continue) and the server may reject a continue "
           "value it does not recognize. If the specified continue value is no longer valid whether due to "
           "expiration (generally five to fifteen minutes) or a configuration change on the server, the server "
           "will respond with a 410 ResourceExpired error together with a continue token. If the client needs a "
           "consistent list, it must restart their list without the continue field. Otherwise, the client may "
           "send another list request with the token received with the 410 error, the server will respond with "
           "a list starting from the next key, but from the latest snapshot, which is inconsistent from the "
           "previous list results - objects that are created, modified, or deleted after the first list request "
           "will be included in the response, as long as their keys are after the \"next key\".\n\nThis field "
           "is not supported when watch is true. Clients may start a watch from the last resourceVersion value "
           "returned by the server and not miss any modifications."),
        _q("dryRun", "string",
           "When present, indicates that modifications should not be persisted. An invalid or unrecognized "
           "dryRun directive will result in an error response and no further processing of the request. Valid "
           "values are: - All: all dry run stages will be processed"),
        _q("fieldManager", "string",
           "fieldManager is a name associated with the actor or entity that is making these changes. The value "
           "must be less than or 128 characters long, and only contain printable characters, as defined by "
           "https://golang.org/pkg/unicode/#IsPrint."),
        _q("fieldSelector", "string",
           "A selector to restrict the list of returned objects by their fields. Defaults to everything."),
        _q("fieldValidation", "string",
           "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) "
           "containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown "
           "fields that are silently dropped from the object, and will ignore all but the last duplicate field "
           "that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a "
           "warning via the standard warning response header for each unknown field that is dropped from the "
           "object, and for each duplicate field that is encountered. The request will still succeed if there "
           "are no other errors, and will only persist the last of any duplicate fields. This is the default "
           "in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would "
           "be dropped from the object, or if any duplicate fields are present. The error returned from the "
           "server will contain all unknown and duplicate fields encountered."),
        _q("force", "boolean",
           "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned "
           "by other people. Force flag must be unset for non-apply patch requests."),
        _q("gracePeriodSeconds", "integer",
           "The duration in seconds before the object should be deleted. Value must be non-negative integer. "
           "The value zero indicates delete immediately. If this value is nil, the default grace period for the "
           "specified type will be used. Defaults to a per object value if not specified. zero means delete "
           "immediately."),
        _q("ignoreStoreReadErrorWithClusterBreakingPotential", "boolean",
           "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow "
           "fails with a corrupt object error. A resource is considered corrupt if it can not be retrieved from "
           "the underlying storage successfully because of a) its data can not be transformed e.g. decryption "
           "failure, or b) it fails to decode into an object. NOTE: unsafe deletion ignores finalizer "
           "constraints, skips precondition checks, and removes the object from the storage. WARNING: This may "
           "potentially break the cluster if the workload associated with the resource being unsafe-deleted "
           "relies on normal deletion flow. Use only if you REALLY know what you are doing. The default value "
           "is false, and the user must opt in to enable it"),
        _q("labelSelector", "string",
           "A selector to restrict the list of returned objects by their labels. Defaults to everything."),
        _q("limit", "integer",
           "limit is a maximum number of responses to return for a list call. If more items exist, the server "
           "will set the `continue` field on the list metadata to a value that can be used with the same "
           "initial query to retrieve the next set of results. Setting a limit may return fewer than the "
           "requested amount of items (up to zero items) in the event all requested objects are filtered out "
           "and clients should only use the presence of the continue field to determine whether more results "
           "are available. Servers may choose not to support the limit argument and will return all of the "
           "available results. If limit is specified and the continue field is empty, clients may assume that "
           "no more results are available. This field is not supported if watch is true.\n\nThe server "
           "guarantees that the objects returned when using continue will be identical to issuing a single list "
           "call without a limit - that is, no objects created, modified, or deleted after the first request is "
           "issued will be included in any subsequent continued requests. This is sometimes referred to as a "
           "consistent snapshot, and ensures that a client that is using limit to receive smaller chunks of a "
           "very large result can ensure they see all possible objects. If objects are updated during a chunked "
           "list the version of the object that was present at the time the first list result was calculated "
           "is returned."),
        _q("orphanDependents", "boolean",
           "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the "
           "dependent objects be orphaned. If true/false, the \"orphan\" finalizer will be added to/removed "
           "from the object's finalizers list. Either this field or PropagationPolicy may be set, but not "
           "both."),
        _q("pretty", "string",
           "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates "
           "a browser or command-line HTTP tool (curl and wget)."),
        _q("propagationPolicy", "string",
           "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be "
           "set, but not both. The default policy is decided by the existing finalizer set in the "
           "metadata.finalizers and the resource-specific default policy. Acceptable values are: 'Orphan' - "
           "orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the "
           "background; 'Foreground' - a cascading policy that deletes all dependents in the foreground."),
        _q("resourceVersion", "string",
           "resourceVersion sets a constraint on what resource versions a request may be served from. See "
           "https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details."
           "\n\nDefaults to unset"),
        _q("resourceVersionMatch", "string",
           "resourceVersionMatch determines how resourceVersion is applied to list calls. It is highly "
           "recommended that resourceVersionMatch be set for list calls where resourceVersion is set See "
           "https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details."
           "\n\nDefaults to unset"),
        _q("sendInitialEvents", "boolean",
           "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream "
           "will begin with synthetic events to produce the current state of objects in the collection. Once "
           "all such events have been sent, a synthetic \"Bookmark\" event  will be sent. The bookmark will "
           "report the ResourceVersion (RV) corresponding to the set of objects, and be marked with "
           "`\"k8s.io/initial-events-end\": \"true\"` annotation. Afterwards, the watch stream will proceed as "
           "usual, sending watch events corresponding to changes (subsequent to the RV) to objects watched."
           "\n\nWhen `sendInitialEvents` option is set, we require `resourceVersionMatch` option to also be "
           "set. The semantic of the watch request is as following: - `resourceVersionMatch` = NotOlderThan\n"
           "  is interpreted as \"data at least as new as the provided `resourceVersion`\"\n  and the bookmark "
           "event is send when the state is synced\n  to a `resourceVersion` at least as fresh as the one "
           "provided by the ListOptions.\n  If `resourceVersion` is unset, this is interpreted as \"consistent "
           "read\" and the\n  bookmark event is send when the state is synced at least to the moment\n  when "
           "request started being processed.\n- `resourceVersionMatch` set to any other value or unset\n  "
           "Invalid error is returned.\n\nDefaults to true if `resourceVersion=\"\"` or `resourceVersion=\"0\"` "
           "(for backward compatibility reasons) and to false otherwise."),
        _q("timeoutSeconds", "integer",
           "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity "
           "or inactivity."),
        _q("watch", "boolean",
           "Watch for changes to the described resources and return them as a stream of add, update, and "
           "remove notifications. Specify resourceVersion."),
    )
}
_FIELD_MANAGER_PATCH = _q(
    "fieldManager", "string",
    _P["fieldManager"].description + " This field is required for apply requests (application/apply-patch) "
    "but optional for non-apply patch types (JsonPatch, MergePatch, StrategicMergePatch).",
)
_NAMESPACE = Param("namespace", "string", "object name and auth scope, such as for teams and projects", "path", True)

_LIST = ("allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit", "resourceVersion",
         "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch")
_WRITE = ("dryRun", "fieldManager", "fieldValidation")
_DELETE = ("dryRun", "gracePeriodSeconds", "ignoreStoreReadErrorWithClusterBreakingPotential",
           "orphanDependents", "propagationPolicy")
_DELETE_COLLECTION = tuple(sorted(set(_DELETE) | set(_LIST) - {"allowWatchBookmarks", "watch"}))

_LOG_PARAMS = (
    _q("container", "string",
       "The container for which to stream logs. Defaults to only container if there is one container in the pod."),
    _q("follow", "boolean", "Follow the log stream of the pod. Defaults to false."),
    _q("insecureSkipTLSVerifyBackend", "boolean",
       "insecureSkipTLSVerifyBackend indicates that the apiserver should not confirm the validity of the "
       "serving certificate of the backend it is connecting to.  This will make the HTTPS connection between "
       "the apiserver and the backend insecure. This means the apiserver cannot verify the log data it is "
       "receiving came from the real kubelet.  If the kubelet is configured to verify the apiserver's TLS "
       "credentials, it does not mean the connection to the real kubelet is vulnerable to a man in the middle "
       "attack (e.g. an attacker could not intercept the actual log data coming from the real kubelet)."),
    _q("limitBytes", "integer",
       "If set, the number of bytes to read from the server before terminating the log output. This may not "
       "display a complete final line of logging, and may return slightly more or slightly less than the "
       "specified limit."),
    _q("previous", "boolean", "Return previous terminated container logs. Defaults to false."),
    _q("sinceSeconds", "integer",
       "A relative time in seconds before the current time from which to show logs. If this value precedes "
       "the time a pod was started, only logs since the pod start will be returned. If this value is in the "
       "future, no logs will be returned. Only one of sinceSeconds or sinceTime may be specified."),
    _q("stream", "string",
       "Specify which container log stream to return to the client. Acceptable values are \"All\", \"Stdout\" "
       "and \"Stderr\". If not specified, \"All\" is used, and both stdout and stderr are returned "
       "interleaved. Note that when \"TailLines\" is specified, \"Stream\" can only be set to nil or \"All\"."),
    _q("tailLines", "integer",
       "If set, the number of lines from the end of the logs to show. If not specified, logs are shown from "
       "the creation of the container or sinceSeconds or sinceTime. Note that when \"TailLines\" is specified, "
       "\"Stream\" can only be set to nil or \"All\"."),
    _q("timestamps", "boolean",
       "If true, add an RFC3339 or RFC3339Nano timestamp at the beginning of every line of log output. "
       "Defaults to false."),
)
_CONNECT_PARAMS = {
    "PodExecOptions": (
        _q("command", "string", "Command is the remote command to execute. argv array. Not executed within a shell."),
        _q("container", "string",
           "Container in which to execute the command. Defaults to only container if there is only one "
           "container in the pod."),
        _q("stderr", "boolean", "Redirect the standard error stream of the pod for this call."),
        _q("stdin", "boolean", "Redirect the standard input stream of the pod for this call. Defaults to false."),
        _q("stdout", "boolean", "Redirect the standard output stream of the pod for this call."),
        _q("tty", "boolean",
           "TTY if true indicates that a tty will be allocated for the exec call. Defaults to false."),
    ),
    "PodAttachOptions": (
        _q("container", "string",
           "The container in which to execute the command. Defaults to only container if there is only one "
           "container in the pod."),
        _q("stderr", "boolean",
           "Stderr if true indicates that stderr is to be redirected for the attach call. Defaults to true."),
        _q("stdin", "boolean",
           "Stdin if true, redirects the standard input stream of the pod for this call. Defaults to false."),
        _q("stdout", "boolean",
           "Stdout if true indicates that stdout is to be redirected for the attach call. Defaults to true."),
        _q("tty", "boolean",
           "TTY if true indicates that a tty will be allocated for the attach call. This is passed through the "
           "container runtime so the tty is allocated on the worker node by the container runtime. Defaults to "
           "false."),
    ),
    "PodPortForwardOptions": (
        _q("ports", "integer", "List of ports to forward Required when using WebSockets"),
    ),
}


def _params(names: Iterable[str]) -> list[Param]:
    return [_P[n] for n in names]


def _name_param(kind: str) -> Param:
    return Param("name", "string", f"name of the {kind}", "path", True)


# ---------------------------------------------------------------------------------------------
# A neutral model of the operations, rendered to v2 or v3
# ---------------------------------------------------------------------------------------------

STRING = "string"  # response "schema" meaning a plain string (logs, connect streams)


@dataclass
class Operation:
    method: str  # get, put, post, patch, delete
    operation_id: str
    description: str
    tag: str
    params: list[Param]
    responses: dict[str, tuple[str, str | None]]  # code -> (description, definition name | STRING | None)
    produces: tuple[str, ...] = PRODUCES
    body: str | None = None  # definition name of the request body
    body_types: tuple[str, ...] = ("*/*",)
    body_required: bool = True
    action: str | None = None
    gvk: dict[str, str] | None = None


@dataclass
class PathItem:
    path: str
    operations: list[Operation] = field(default_factory=list)
    common: list[Param] = field(default_factory=list)  # path-level parameters


def _to_operation_id(s: str, capitalize: bool) -> str:
    """Port of apiserver's ToValidOperationID: drop non-identifier runes, capitalize what follows."""
    out: list[str] = []
    cap = capitalize
    for i, ch in enumerate(s):
        if ch.isalpha() or ch == "_" or (i != 0 and ch.isdigit()):
            out.append(ch.upper() if cap else ch)
            cap = False
        else:
            cap = True
    return "".join(out)


def _gv_words(group: str, version: str) -> tuple[str, str]:
    """('apps','v1') -> ('AppsV1', 'apps_v1'); core -> ('CoreV1', 'core_v1')."""
    g = (group or "core").removesuffix(".k8s.io")
    return (_to_operation_id(g, True) + _to_operation_id(version, True),
            _to_operation_id(g, False) + "_" + _to_operation_id(version, False))


def _op_id(verb: str, group: str, version: str, rest: str) -> str:
    return verb + _gv_words(group, version)[0] + rest


def _def_name(group: str, version: str, kind: str) -> str:
    name = schema.definition_name(group, version, kind)
    if name is None:
        base = kind.removesuffix("List")
        row = resources.by_kind(group, version, base) or resources.by_kind(group, version, kind)
        if row is not None and row.custom is not None:
            return crdopenapi.def_name(group, version, kind)
    if name is None:
        raise KeyError(f"no upstream schema for {group}/{version} {kind}")
    return name


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "kind": kind, "version": version}


def _ok(name: str | None) -> dict[str, tuple[str, str | None]]:
    return {"200": ("OK", name), "401": ("Unauthorized", None)}


def _write_responses(name: str, accepted: bool) -> dict[str, tuple[str, str | None]]:
    out = {"200": ("OK", name), "201": ("Created", name)}
    if accepted:
        out["202"] = ("Accepted", name)
    out["401"] = ("Unauthorized", None)
    return out


def _prefix(group: str, version: str) -> str:
    return f"/api/{version}" if not group else f"/apis/{group}/{version}"


def _scope(r: Resource) -> str:
    return "Namespaced" if r.namespaced else ""


def _resource_ops(r: Resource) -> list[PathItem]:
    """Every path and operation kube-apiserver installs for one resource (not its subresources)."""
    g, v, kind, tag = r.group, r.version, r.kind, _gv_words(r.group, r.version)[1]
    obj = _def_name(g, v, kind)
    lst = _def_name(g, v, r.list_kind) if "list" in r.verbs else None
    gvk, scope, base = _gvk(g, v, kind), _scope(r), _prefix(g, v)
    ns = [_NAMESPACE] if r.namespaced else []
    collection = base + ("/namespaces/{namespace}/" if r.namespaced else "/") + r.plural
    verbs = set(r.verbs)
    items: list[PathItem] = []

    coll = PathItem(collection, common=ns + [_P["pretty"]])
    if "list" in verbs:
        coll.operations.append(Operation(
            "get", _op_id("list", g, v, scope + kind), f"list or watch objects of kind {kind}", tag,
            _params(_LIST), _ok(lst), PRODUCES_WATCH, action="list", gvk=gvk))
    if "create" in verbs:
        coll.operations.append(Operation(
            "post", _op_id("create", g, v, scope + kind), f"create {_article(kind)} {kind}", tag,
            _params(_WRITE), _write_responses(obj, True), body=obj, action="post", gvk=gvk))
    if "deletecollection" in verbs:
        coll.operations.append(Operation(
            "delete", _op_id("delete", g, v, "Collection" + scope + kind), f"delete collection of {kind}", tag,
            _params(_DELETE_COLLECTION), _ok(STATUS), body=DELETE_OPTIONS, body_required=False,
            action="deletecollection", gvk=gvk))
    items.append(coll)

    one = PathItem(collection + "/{name}", common=[_name_param(kind)] + ns + [_P["pretty"]])
    if "get" in verbs:
        one.operations.append(Operation(
            "get", _op_id("read", g, v, scope + kind), f"read the specified {kind}", tag, [], _ok(obj),
            action="get", gvk=gvk))
    if "update" in verbs:
        one.operations.append(Operation(
            "put", _op_id("replace", g, v, scope + kind), f"replace the specified {kind}", tag,
            _params(_WRITE), _write_responses(obj, False), body=obj, action="put", gvk=gvk))
    if "patch" in verbs:
        one.operations.append(_patch_op(_op_id("patch", g, v, scope + kind),
                                        f"partially update the specified {kind}", tag, obj, gvk, r.custom is not None))
    if "delete" in verbs:
        deleted = obj if (g, r.plural) in DELETE_RETURNS_OBJECT else STATUS
        one.operations.append(Operation(
            "delete", _op_id("delete", g, v, scope + kind), f"delete {_article(kind)} {kind}", tag,
            _params(_DELETE), {"200": ("OK", deleted), "202": ("Accepted", deleted), "401": ("Unauthorized", None)},
            body=DELETE_OPTIONS, body_required=False, action="delete", gvk=gvk))
    if one.operations:
        items.append(one)

    if "list" in verbs and r.namespaced:
        items.append(PathItem(base + "/" + r.plural, [Operation(
            "get", _op_id("list", g, v, kind + "ForAllNamespaces"), f"list or watch objects of kind {kind}", tag,
            _params(_LIST), _ok(lst), PRODUCES_WATCH, action="list", gvk=gvk)], [_P["pretty"]]))
    if "watch" in verbs:
        items.extend(_watch_items(r, base, tag, gvk))
    return [i for i in items if i.operations]


def _watch_items(r: Resource, base: str, tag: str, gvk: dict[str, str]) -> list[PathItem]:
    """The deprecated /watch/ paths upstream still publishes."""
    g, v, kind, scope = r.group, r.version, r.kind, _scope(r)
    ns = [_NAMESPACE] if r.namespaced else []
    coll = base + "/watch" + ("/namespaces/{namespace}/" if r.namespaced else "/") + r.plural
    ok = _ok(WATCH_EVENT)
    items = [
        PathItem(coll, [Operation(
            "get", _op_id("watch", g, v, scope + kind + "List"),
            f"watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with a list "
            "operation instead.", tag, _params(_LIST) + ns, ok, PRODUCES_WATCH, action="watchlist", gvk=gvk)]),
        PathItem(coll + "/{name}", [Operation(
            "get", _op_id("watch", g, v, scope + kind),
            f"watch changes to an object of kind {kind}. deprecated: use the 'watch' parameter with a list "
            "operation instead, filtered to a single item with the 'fieldSelector' parameter.", tag,
            _params(_LIST) + [_name_param(kind)] + ns, ok, PRODUCES_WATCH, action="watch", gvk=gvk)]),
    ]
    if r.namespaced:
        items.append(PathItem(base + "/watch/" + r.plural, [Operation(
            "get", _op_id("watch", g, v, kind + "ListForAllNamespaces"),
            f"watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with a list "
            "operation instead.", tag, _params(_LIST), ok, PRODUCES_WATCH, action="watchlist", gvk=gvk)]))
    for item in items:
        item.operations[0].params.append(_P["pretty"])
    return items


def _patch_op(op_id: str, description: str, tag: str, obj: str, gvk: dict[str, str], custom: bool) -> Operation:
    """A PATCH operation; custom resources take no strategic merge patch (kubectl apply reads this
    to choose a merge patch for them)."""
    return Operation(
        "patch", op_id, description, tag, _params(("dryRun",)) + [_FIELD_MANAGER_PATCH] +
        _params(("fieldValidation", "force")), _write_responses(obj, False), body=PATCH,
        body_types=CUSTOM_PATCH_TYPES if custom else PATCH_TYPES, action="patch", gvk=gvk)


def _article(kind: str) -> str:
    return "an" if kind[0] in "AEIOU" else "a"


def _sub_kind(r: Resource, sub: Subresource) -> tuple[str, str, str]:
    if not sub.kind:
        return r.group, r.version, r.kind
    return (sub.group if sub.group is not None else r.group), (sub.version or r.version), sub.kind


def _subresource_item(r: Resource, sub: Subresource) -> PathItem:
    """Operations of one subresource (status, scale, log, exec, binding, eviction, token, finalize)."""
    g, v, tag = r.group, r.version, _gv_words(r.group, r.version)[1]
    sg, sv, skind = _sub_kind(r, sub)
    ns = [_NAMESPACE] if r.namespaced else []
    path = _prefix(g, v) + ("/namespaces/{namespace}/" if r.namespaced else "/") + r.plural + "/{name}/" + sub.name
    rest = _scope(r) + r.kind + sub.name[0].upper() + sub.name[1:]
    gvk = _gvk(sg, sv, skind)
    if skind in CONNECT_KINDS:
        return _connect_item(r, sub, path, rest, tag, gvk, ns)
    item = PathItem(path, common=[_name_param(skind)] + ns + [_P["pretty"]])
    if sub.name == "log":
        item.common = [_name_param(r.kind)] + ns + [_P["pretty"]]
        item.operations.append(Operation(
            "get", _op_id("read", g, v, rest), f"read log of the specified {r.kind}", tag, list(_LOG_PARAMS),
            _ok(STRING), ("text/plain", "application/json", "application/yaml", "application/vnd.kubernetes.protobuf"),
            action="get", gvk=_gvk(g, v, r.kind)))
        return item
    obj = _def_name(sg, sv, skind)
    of = f"{sub.name} of the specified {r.kind}"
    for verb in sub.verbs:
        if verb == "get":
            item.operations.append(Operation("get", _op_id("read", g, v, rest), "read " + of, tag, [], _ok(obj),
                                             action="get", gvk=gvk))
        elif verb == "update":
            item.operations.append(Operation(
                "put", _op_id("replace", g, v, rest), "replace " + of, tag, _params(_WRITE),
                _write_responses(obj, False), body=obj, action="put", gvk=gvk))
        elif verb == "patch":
            item.operations.append(_patch_op(_op_id("patch", g, v, rest), "partially update " + of, tag, obj, gvk,
                                             r.custom is not None))
        elif verb == "create":
            item.operations.append(Operation(
                "post", _op_id("create", g, v, rest), f"create {sub.name} of {_article(r.kind)} {r.kind}", tag,
                _params(_WRITE), _write_responses(obj, True), body=obj, action="post", gvk=gvk))
    return item


def _connect_item(r: Resource, sub: Subresource, path: str, rest: str, tag: str, gvk: dict[str, str],
                  ns: list[Param]) -> PathItem:
    """exec / attach / portforward: GET and POST upgrade to a stream; the body is a plain string."""
    item = PathItem(path, common=list(_CONNECT_PARAMS[gvk["kind"]]) + [_name_param(gvk["kind"])] + ns)
    for verb, method in (("get", "Get"), ("create", "Post")):
        if verb in sub.verbs:
            item.operations.append(Operation(
                method.lower(), _op_id("connect", r.group, r.version, method + rest),
                f"connect {method.upper()} requests to {sub.name} of {r.kind}", tag, [], _ok(STRING), ("*/*",),
                action="connect", gvk=gvk))
    return item


def group_version_items(group: str, version: str) -> list[PathItem]:
    """All paths of one served group-version, the discovery path first."""
    words, tag = _gv_words(group, version)
    items = [PathItem(_prefix(group, version) + "/", [Operation(
        "get", "get" + words + "APIResources", "get available resources", tag, [], _ok(API_RESOURCE_LIST))])]
    for r in resources.in_group_version(group, version):
        items.extend(_resource_ops(r))
        for sub in r.subresources:
            items.append(_subresource_item(r, sub))
    return [_hoist(i) for i in items if i.operations]


def _hoist(item: PathItem) -> PathItem:
    """Upstream moves parameters shared by every operation of a path to the path; sorted by name."""
    ops = item.operations
    shared = [p for p in ops[0].params if all(p in o.params for o in ops[1:])]
    for o in ops:
        o.params = [p for p in o.params if p not in shared]
    common = {(p.location, p.name): p for p in item.common + shared}
    item.common = sorted(common.values(), key=lambda p: p.name)
    for o in ops:
        o.params.sort(key=lambda p: p.name)
    return item
