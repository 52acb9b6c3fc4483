"""Upstream's bootstrap RBAC policy (Kubernetes v1.32, default feature gates), as
plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go and controller_policy.go build it
(their testdata/*.yaml are the reference: same names, same rules, same order).

Rules are written with api/policyrule.py's `r(verbs, groups, resources)`.
"""

from __future__ import annotations

from ...api.policyrule import Rule, r, urls

RW = "create delete deletecollection patch update"
READ = "get list watch"
EVENTS = r("create patch update", "- events.k8s.io", "events")

CLUSTER_ROLES: dict[str, list[Rule]] = {
    "cluster-admin": [r("*", "*", "*"), urls("*", "*")],
    "system:aggregate-to-admin": [
        r("create", "authorization.k8s.io", "localsubjectaccessreviews"),
        r("create delete deletecollection get list patch update watch", "rbac.authorization.k8s.io", "rolebindings roles"),
    ],
    "system:aggregate-to-edit": [
        r(READ, "-", "pods/attach pods/exec pods/portforward pods/proxy secrets services/proxy"),
        r("impersonate", "-", "serviceaccounts"),
        r(RW, "-", "pods pods/attach pods/exec pods/portforward pods/proxy"),
        r("create", "-", "pods/eviction"),
        r(RW, "-", "configmaps events persistentvolumeclaims replicationcontrollers replicationcontrollers/scale "
                   "secrets serviceaccounts services services/proxy"),
        r("create", "-", "serviceaccounts/token"),
        r(RW, "apps", "daemonsets deployments deployments/rollback deployments/scale replicasets replicasets/scale "
                      "statefulsets statefulsets/scale"),
        r(RW, "autoscaling", "horizontalpodautoscalers"),
        r(RW, "batch", "cronjobs jobs"),
        r(RW, "extensions", "daemonsets deployments deployments/rollback deployments/scale ingresses networkpolicies "
                            "replicasets replicasets/scale replicationcontrollers/scale"),
        r(RW, "policy", "poddisruptionbudgets"),
        r(RW, "networking.k8s.io", "ingresses networkpolicies"),
        r("create delete deletecollection get list patch update watch", "coordination.k8s.io", "leases"),
    ],
    "system:aggregate-to-view": [
        r(READ, "-", "configmaps endpoints persistentvolumeclaims persistentvolumeclaims/status pods "
                     "replicationcontrollers replicationcontrollers/scale serviceaccounts services services/status"),
        r(READ, "-", "bindings events limitranges namespaces/status pods/log pods/status "
                     "replicationcontrollers/status resourcequotas resourcequotas/status"),
        r(READ, "-", "namespaces"),
        r(READ, "discovery.k8s.io", "endpointslices"),
        r(READ, "apps", "controllerrevisions daemonsets daemonsets/status deployments deployments/scale "
                        "deployments/status replicasets replicasets/scale replicasets/status statefulsets "
                        "statefulsets/scale statefulsets/status"),
        r(READ, "autoscaling", "horizontalpodautoscalers horizontalpodautoscalers/status"),
        r(READ, "batch", "cronjobs cronjobs/status jobs jobs/status"),
        r(READ, "extensions", "daemonsets daemonsets/status deployments deployments/scale deployments/status "
                              "ingresses ingresses/status networkpolicies replicasets replicasets/scale "
                              "replicasets/status replicationcontrollers/scale"),
        r(READ, "policy", "poddisruptionbudgets poddisruptionbudgets/status"),
        r(READ, "networking.k8s.io", "ingresses ingresses/status networkpolicies"),
    ],
    "system:auth-delegator": [r("create", "authentication.k8s.io", "tokenreviews"),
                              r("create", "authorization.k8s.io", "subjectaccessreviews")],
    "system:basic-user": [r("create", "authorization.k8s.io", "selfsubjectaccessreviews selfsubjectrulesreviews"),
                          r("create", "authentication.k8s.io", "selfsubjectreviews")],
    "system:certificates.k8s.io:certificatesigningrequests:nodeclient": [
        r("create", "certificates.k8s.io", "certificatesigningrequests/nodeclient")],
    "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient": [
        r("create", "certificates.k8s.io", "certificatesigningrequests/selfnodeclient")],
    "system:certificates.k8s.io:kube-apiserver-client-approver": [
        r("approve", "certificates.k8s.io", "signers", "kubernetes.io/kube-apiserver-client")],
    "system:certificates.k8s.io:kube-apiserver-client-kubelet-approver": [
        r("approve", "certificates.k8s.io", "signers", "kubernetes.io/kube-apiserver-client-kubelet")],
    "system:certificates.k8s.io:kubelet-serving-approver": [
        r("approve", "certificates.k8s.io", "signers", "kubernetes.io/kubelet-serving")],
    "system:certificates.k8s.io:legacy-unknown-approver": [
        r("approve", "certificates.k8s.io", "signers", "kubernetes.io/legacy-unknown")],
    "system:discovery": [urls("get", "/api /api/* /apis /apis/* /healthz /livez /openapi /openapi/* /readyz "
                                     "/version /version/")],
    "system:heapster": [r(READ, "-", "events namespaces nodes pods"), r(READ, "extensions", "deployments")],
    "system:kube-aggregator": [r(READ, "-", "endpoints services")],
    "system:kube-controller-manager": [
        EVENTS,
        r("create", "coordination.k8s.io", "leases"),
        r("get update", "coordination.k8s.io", "leases", "kube-controller-manager"),
        r("create", "-", "secrets serviceaccounts"),
        r("delete", "-", "secrets"),
        r("get", "-", "configmaps namespaces secrets serviceaccounts"),
        r("update", "-", "secrets serviceaccounts"),
        r("create", "authentication.k8s.io", "tokenreviews"),
        r("create", "authorization.k8s.io", "subjectaccessreviews"),
        r("list watch", "*", "*"),
        r("create", "-", "serviceaccounts/token"),
    ],
    "system:kube-dns": [r("list watch", "-", "endpoints services")],
    "system:kube-scheduler": [
        EVENTS,
        r("create", "coordination.k8s.io", "leases"),
        r("get update", "coordination.k8s.io", "leases", "kube-scheduler"),
        r(READ, "-", "nodes"),
        r("delete get list watch", "-", "pods"),
        r("create", "-", "bindings pods/binding"),
        r("patch update", "-", "pods/status"),
        r(READ, "-", "replicationcontrollers services"),
        r(READ, "apps extensions", "replicasets"),
        r(READ, "apps", "statefulsets"),
        r(READ, "policy", "poddisruptionbudgets"),
        r(READ, "-", "persistentvolumeclaims persistentvolumes"),
        r("create", "authentication.k8s.io", "tokenreviews"),
        r("create", "authorization.k8s.io", "subjectaccessreviews"),
        r(READ, "storage.k8s.io", "csinodes"),
        r(READ, "-", "namespaces"),
        r(READ, "storage.k8s.io", "csidrivers"),
        r(READ, "storage.k8s.io", "csistoragecapacities"),
    ],
    "system:kubelet-api-admin": [r(READ, "-", "nodes"), r("proxy", "-", "nodes"),
                                 r("*", "-", "nodes/log nodes/metrics nodes/proxy nodes/stats")],
    "system:monitoring": [urls("get", "/healthz /healthz/* /livez /livez/* /metrics /metrics/slis /readyz /readyz/*")],
    "system:node": [
        r("create", "authentication.k8s.io", "tokenreviews"),
        r("create", "authorization.k8s.io", "localsubjectaccessreviews subjectaccessreviews"),
        r(READ, "-", "services"),
        r("create get list watch", "-", "nodes"),
        r("patch update", "-", "nodes/status"),
        r("patch update", "-", "nodes"),
        r("create patch update", "-", "events"),
        r(READ, "-", "pods"),
        r("create delete", "-", "pods"),
        r("patch update", "-", "pods/status"),
        r("create", "-", "pods/eviction"),
        r(READ, "-", "configmaps secrets"),
        r("get", "-", "persistentvolumeclaims persistentvolumes"),
        r("get", "-", "endpoints"),
        r("create get list watch", "certificates.k8s.io", "certificatesigningrequests"),
        r("create delete get patch update", "coordination.k8s.io", "leases"),
        r("get", "storage.k8s.io", "volumeattachments"),
        r("create", "-", "serviceaccounts/token"),
        r("get patch update", "-", "persistentvolumeclaims/status"),
        r(READ, "storage.k8s.io", "csidrivers"),
        r("create delete get patch update", "storage.k8s.io", "csinodes"),
        r(READ, "node.k8s.io", "runtimeclasses"),
    ],
    "system:node-bootstrapper": [r("create get list watch", "certificates.k8s.io", "certificatesigningrequests")],
    "system:node-problem-detector": [r("get", "-", "nodes"), r("patch", "-", "nodes/status"), EVENTS],
    "system:node-proxier": [r("list watch", "-", "endpoints services"), r(READ, "-", "nodes"), EVENTS,
                            r("list watch", "discovery.k8s.io", "endpointslices")],
    "system:persistent-volume-provisioner": [
        r("create delete get list watch", "-", "persistentvolumes"),
        r("get list update watch", "-", "persistentvolumeclaims"),
        r(READ, "storage.k8s.io", "storageclasses"),
        r("watch", "-", "events"),
        EVENTS,
    ],
    "system:public-info-viewer": [urls("get", "/healthz /livez /readyz /version /version/")],
    "system:service-account-issuer-discovery": [urls("get", "/.well-known/openid-configuration /openid/v1/jwks")],
    "system:volume-scheduler": [r("get list patch update watch", "-", "persistentvolumes"),
                                r(READ, "storage.k8s.io", "storageclasses"),
                                r("get list patch update watch", "-", "persistentvolumeclaims")],
}

# name -> (the label selecting its parts, the labels it carries itself)
AGGREGATED: dict[str, tuple[str, dict[str, str]]] = {
    "admin": ("rbac.authorization.k8s.io/aggregate-to-admin", {}),
    "edit": ("rbac.authorization.k8s.io/aggregate-to-edit", {"rbac.authorization.k8s.io/aggregate-to-admin": "true"}),
    "view": ("rbac.authorization.k8s.io/aggregate-to-view", {"rbac.authorization.k8s.io/aggregate-to-edit": "true"}),
}
ROLE_LABELS: dict[str, dict[str, str]] = {
    "system:aggregate-to-admin": {"rbac.authorization.k8s.io/aggregate-to-admin": "true"},
    "system:aggregate-to-edit": {"rbac.authorization.k8s.io/aggregate-to-edit": "true"},
    "system:aggregate-to-view": {"rbac.authorization.k8s.io/aggregate-to-view": "true"},
}

# controller_policy.go: system:controller:<name>, bound to ServiceAccount kube-system/<name>
CONTROLLER_ROLES: dict[str, list[Rule]] = {
    "attachdetach-controller": [
        r("list watch", "-", "persistentvolumeclaims persistentvolumes"), r(READ, "-", "nodes"),
        r("patch update", "-", "nodes/status"), r("list watch", "-", "pods"), EVENTS,
        r("create delete get list watch", "storage.k8s.io", "volumeattachments"),
        r(READ, "storage.k8s.io", "csidrivers"), r(READ, "storage.k8s.io", "csinodes")],
    "certificate-controller": [
        r("delete get list watch", "certificates.k8s.io", "certificatesigningrequests"),
        r("update", "certificates.k8s.io", "certificatesigningrequests/approval certificatesigningrequests/status"),
        r("approve", "certificates.k8s.io", "signers", "kubernetes.io/kube-apiserver-client-kubelet"),
        r("sign", "certificates.k8s.io", "signers", "kubernetes.io/kube-apiserver-client "
          "kubernetes.io/kube-apiserver-client-kubelet kubernetes.io/kubelet-serving kubernetes.io/legacy-unknown"),
        r("create", "authorization.k8s.io", "subjectaccessreviews"), EVENTS],
    "clusterrole-aggregation-controller": [
        r("escalate get list patch update watch", "rbac.authorization.k8s.io", "clusterroles")],
    "cronjob-controller": [
        r("get list update watch", "batch", "cronjobs"),
        r("create delete get list patch update watch", "batch", "jobs"),
        r("update", "batch", "cronjobs/status"), r("update", "batch", "cronjobs/finalizers"),
        r("delete list watch", "-", "pods"), EVENTS],
    "daemon-set-controller": [
        r(READ, "apps extensions", "daemonsets"), r("update", "apps extensions", "daemonsets/status"),
        r("update", "apps extensions", "daemonsets/finalizers"), r("list watch", "-", "nodes"),
        r("create delete list patch watch", "-", "pods"), r("create", "-", "pods/binding"),
        r("create delete get list patch update watch", "apps", "controllerrevisions"), EVENTS],
    "deployment-controller": [
        r("get list update watch", "apps extensions", "deployments"),
        r("update", "apps extensions", "deployments/status"), r("update", "apps extensions", "deployments/finalizers"),
        r("create delete get list patch update watch", "apps extensions", "replicasets"),
        r("get list update watch", "-", "pods"), EVENTS],
    "disruption-controller": [
        r(READ, "apps extensions", "deployments"), r(READ, "apps extensions", "replicasets"),
        r(READ, "-", "replicationcontrollers"), r(READ, "policy", "poddisruptionbudgets"), r(READ, "apps", "statefulsets"),
        r("update", "policy", "poddisruptionbudgets/status"), r("patch update", "-", "pods/status"),
        r("get", "*", "*/scale"), EVENTS],
    "endpoint-controller": [
        r(READ, "-", "pods services"), r("create delete get list update watch", "-", "endpoints"),
        r("create", "-", "endpoints/restricted"), EVENTS],
    "endpointslice-controller": [
        r(READ, "-", "nodes pods services"), r("update", "-", "services/finalizers"),
        r("create delete get list update watch", "discovery.k8s.io", "endpointslices"), EVENTS],
    "endpointslicemirroring-controller": [
        r(READ, "-", "endpoints services"), r("update", "-", "services/finalizers"),
        r("update", "-", "endpoints/finalizers"),
        r("create delete get list update watch", "discovery.k8s.io", "endpointslices"), EVENTS],
    "ephemeral-volume-controller": [
        r(READ, "-", "pods"), r("update", "-", "pods/finalizers"),
        r("create get list watch", "-", "persistentvolumeclaims"), EVENTS],
    "expand-controller": [
        r("get list patch update watch", "-", "persistentvolumes"),
        r("patch update", "-", "persistentvolumeclaims/status"), r(READ, "-", "persistentvolumeclaims"), EVENTS],
    "generic-garbage-collector": [r("delete get list patch update watch", "*", "*"), EVENTS],
    "horizontal-pod-autoscaler": [
        r(READ, "autoscaling", "horizontalpodautoscalers"),
        r("update", "autoscaling", "horizontalpodautoscalers/status"), r("get update", "*", "*/scale"),
        r("list watch", "-", "pods"), r("list watch", "metrics.k8s.io", "pods"),
        r(READ, "custom.metrics.k8s.io", "*"), r(READ, "external.metrics.k8s.io", "*"), EVENTS],
    "job-controller": [
        r("get list patch update watch", "batch", "jobs"), r("update", "batch", "jobs/status"),
        r("update", "batch", "jobs/finalizers"), r("create delete list patch watch", "-", "pods"), EVENTS],
    "legacy-service-account-token-cleaner": [
        r("get", "-", "configmaps", "kube-apiserver-legacy-service-account-token-tracking"),
        r("delete patch", "-", "secrets")],
    "namespace-controller": [
        r("delete get list watch", "-", "namespaces"), r("update", "-", "namespaces/finalize namespaces/status"),
        r("delete deletecollection get list watch", "*", "*")],
    "node-controller": [
        r("delete get list patch update watch", "-", "nodes"), r("patch update", "-", "nodes/status"),
        r("patch update", "-", "pods/status"), r("delete get list watch", "-", "pods"), EVENTS],
    "persistent-volume-binder": [
        r("create delete get list update watch", "-", "persistentvolumes"),
        r("update", "-", "persistentvolumes/status"), r("get list update watch", "-", "persistentvolumeclaims"),
        r("update", "-", "persistentvolumeclaims/status"), r("create delete get list watch", "-", "pods"),
        r(READ, "storage.k8s.io", "storageclasses"), r("list watch", "-", "nodes"), EVENTS,
        r("watch", "-", "events")],
    "pod-garbage-collector": [r("delete list watch", "-", "pods"), r(READ, "-", "nodes"),
                              r("patch", "-", "pods/status")],
    "pv-protection-controller": [r("get list update watch", "-", "persistentvolumes"), EVENTS],
    "pvc-protection-controller": [
        r("get list update watch", "-", "persistentvolumeclaims"),
        r("update", "-", "persistentvolumeclaims/status"), r(READ, "-", "pods"), EVENTS],
    "replicaset-controller": [
        r("get list update watch", "apps extensions", "replicasets"),
        r("update", "apps extensions", "replicasets/status"), r("update", "apps extensions", "replicasets/finalizers"),
        r("create delete list patch watch", "-", "pods"), EVENTS],
    "replication-controller": [
        r("get list update watch", "-", "replicationcontrollers"), r("update", "-", "replicationcontrollers/status"),
        r("update", "-", "replicationcontrollers/finalizers"), r("create delete list patch watch", "-", "pods"), EVENTS],
    "resourcequota-controller": [r("list watch", "*", "*"), r("update", "-", "resourcequotas/status"), EVENTS],
    "root-ca-cert-publisher": [r("create update", "-", "configmaps"), EVENTS],
    # kubeling's own (Argo Rollouts' controller, narrowed to what ours does): it writes Rollout
    # status, owns ReplicaSets (blockOwnerDeletion needs rollouts/finalizers), steers Services
    "rollout-controller": [
        r("get list watch", "rollouts.kubeling.io", "rollouts"),
        r("update", "rollouts.kubeling.io", "rollouts/status rollouts/finalizers"),
        r("create delete get list patch update watch", "apps", "replicasets"),
        r("get list patch watch", "-", "services"), r("list watch", "-", "pods"), EVENTS],
    "route-controller": [r("list watch", "-", "nodes"), r("patch", "-", "nodes/status"), EVENTS],
    "service-account-controller": [r("create", "-", "serviceaccounts"), EVENTS],
    "service-controller": [r(READ, "-", "services"), r("patch update", "-", "services/status"),
                           r("list watch", "-", "nodes"), EVENTS],
    "statefulset-controller": [
        r("list watch", "-", "pods"), r(READ, "apps", "statefulsets"), r("update", "apps", "statefulsets/status"),
        r("update", "apps", "statefulsets/finalizers"), r("create delete get patch update", "-", "pods"),
        r("create delete get list patch update watch", "apps", "controllerrevisions"),
        r("create get list watch", "-", "persistentvolumeclaims"), r("delete update", "-", "persistentvolumeclaims"),
        r("update", "-", "pods/finalizers"), EVENTS],
    "ttl-after-finished-controller": [r("delete get list watch", "batch", "jobs"), EVENTS],
    "ttl-controller": [r("list patch update watch", "-", "nodes"), EVENTS],
    "validatingadmissionpolicy-status-controller": [
        r(READ, "admissionregistration.k8s.io", "validatingadmissionpolicies"),
        r("get patch update", "admissionregistration.k8s.io", "validatingadmissionpolicies/status"), EVENTS],
}

# ClusterRoleBindings: name -> (ClusterRole, subjects as "Kind:name" or "ServiceAccount:ns/name")
CLUSTER_ROLE_BINDINGS: dict[str, tuple[str, list[str]]] = {
    "cluster-admin": ("cluster-admin", ["Group:system:masters"]),
    "system:basic-user": ("system:basic-user", ["Group:system:authenticated"]),
    "system:discovery": ("system:discovery", ["Group:system:authenticated"]),
    "system:kube-controller-manager": ("system:kube-controller-manager", ["User:system:kube-controller-manager"]),
    "system:kube-dns": ("system:kube-dns", ["ServiceAccount:kube-system/kube-dns"]),
    "system:kube-scheduler": ("system:kube-scheduler", ["User:system:kube-scheduler"]),
    "system:monitoring": ("system:monitoring", ["Group:system:monitoring"]),
    "system:node": ("system:node", []),
    "system:node-proxier": ("system:node-proxier", ["User:system:kube-proxy"]),
    "system:public-info-viewer": ("system:public-info-viewer",
                                  ["Group:system:authenticated", "Group:system:unauthenticated"]),
    "system:service-account-issuer-discovery": ("system:service-account-issuer-discovery",
                                                ["Group:system:serviceaccounts"]),
    "system:volume-scheduler": ("system:volume-scheduler", ["User:system:kube-scheduler"]),
}

# namespace-roles.yaml / namespace-role-bindings.yaml: (namespace, name) -> rules / (role, subjects)
ROLES: dict[tuple[str, str], list[Rule]] = {
    ("kube-public", "system:controller:bootstrap-signer"): [
        r(READ, "-", "configmaps"), r("update", "-", "configmaps", "cluster-info"), EVENTS],
    ("kube-system", "extension-apiserver-authentication-reader"): [
        r(READ, "-", "configmaps", "extension-apiserver-authentication")],
    ("kube-system", "system::leader-locking-kube-controller-manager"): [
        r("create get list update watch", "coordination.k8s.io", "leases"),
        r("create get list update watch", "coordination.k8s.io", "leasecandidates")],
    ("kube-system", "system::leader-locking-kube-scheduler"): [
        r("create get list update watch", "coordination.k8s.io", "leases"),
        r("create get list update watch", "coordination.k8s.io", "leasecandidates")],
    ("kube-system", "system:controller:bootstrap-signer"): [r(READ, "-", "secrets")],
    ("kube-system", "system:controller:cloud-provider"): [r("create get list watch", "-", "configmaps")],
    ("kube-system", "system:controller:token-cleaner"): [r("delete get list watch", "-", "secrets"), EVENTS],
}
ROLE_BINDINGS: dict[tuple[str, str], tuple[str, list[str]]] = {
    ("kube-public", "system:controller:bootstrap-signer"): (
        "system:controller:bootstrap-signer", ["ServiceAccount:kube-system/bootstrap-signer"]),
    ("kube-system", "system::extension-apiserver-authentication-reader"): (
        "extension-apiserver-authentication-reader",
        ["User:system:kube-controller-manager", "User:system:kube-scheduler"]),
    ("kube-system", "system::leader-locking-kube-controller-manager"): (
        "system::leader-locking-kube-controller-manager",
        ["User:system:kube-controller-manager", "ServiceAccount:kube-system/kube-controller-manager"]),
    ("kube-system", "system::leader-locking-kube-scheduler"): (
        "system::leader-locking-kube-scheduler",
        ["User:system:kube-scheduler", "ServiceAccount:kube-system/kube-scheduler"]),
    ("kube-system", "system:controller:bootstrap-signer"): (
        "system:controller:bootstrap-signer", ["ServiceAccount:kube-system/bootstrap-signer"]),
    ("kube-system", "system:controller:cloud-provider"): (
        "system:controller:cloud-provider", ["ServiceAccount:kube-system/cloud-provider"]),
    ("kube-system", "system:controller:token-cleaner"): (
        "system:controller:token-cleaner", ["ServiceAccount:kube-system/token-cleaner"]),
}
