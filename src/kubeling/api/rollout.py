"""The built-in Rollout kind (`rollouts.kubeling.io/v1alpha1`): a CustomResourceDefinition the API
server installs at start, so canary and blue-green releases use the extension mechanism users
already know (validation, pruning, defaults, `kubectl explain`, printer columns, status and
scale subresources all come from the CRD machinery).

Field names follow Argo Rollouts (`pkg/apis/rollouts/v1alpha1/types.go`); the analysis is an
inline, probe-style HTTP check instead of Argo's AnalysisTemplates (docs/rollouts.md).
"""

from __future__ import annotations

from typing import Any

GROUP = "rollouts.kubeling.io"
VERSION = "v1alpha1"
PLURAL = "rollouts"
KIND = "Rollout"
NAME = f"{PLURAL}.{GROUP}"

Schema = dict[str, Any]


def _obj(props: dict[str, Schema], **extra: Any) -> Schema:
    return {"type": "object", "properties": props, **extra}


_STR: Schema = {"type": "string"}
_INT: Schema = {"type": "integer", "format": "int32"}
_BOOL: Schema = {"type": "boolean"}
_INT_OR_STRING: Schema = {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
_NON_NEG: Schema = {**_INT, "minimum": 0}


def _described(s: Schema, text: str) -> Schema:
    return {**s, "description": text}


_LABEL_SELECTOR = _obj({
    "matchLabels": {"type": "object", "additionalProperties": _STR},
    "matchExpressions": {"type": "array", "items": _obj({
        "key": _STR, "operator": _STR, "values": {"type": "array", "items": _STR}}, required=["key", "operator"])},
}, **{"x-kubernetes-map-type": "atomic"})

ANALYSIS: Schema = _described(_obj({
    "httpGet": _described(_obj({
        "path": _described({**_STR, "default": "/"}, "Path to GET on each canary pod."),
        "port": _described(_INT_OR_STRING, "Port number (or a container port name) of the pods."),
        "scheme": {**_STR, "enum": ["HTTP"], "default": "HTTP"},
    }, required=["port"]), "An HTTP GET sent to every ready pod of the new version; 200-399 is a success."),
    "intervalSeconds": _described({**_INT, "minimum": 1, "default": 5}, "Seconds between measurements."),
    "timeoutSeconds": _described({**_INT, "minimum": 1, "default": 2}, "Seconds before one request fails."),
    "count": _described({**_INT, "minimum": 1, "default": 3},
                        "Measurements to take (a background analysis repeats until promotion)."),
    "failureLimit": _described({**_NON_NEG, "default": 0},
                               "Failed measurements tolerated; one more aborts the rollout."),
}, required=["httpGet"]), "A probe-style check of the new version's pods, run by the controller.")

_CANARY_STEP = _obj({
    "setWeight": _described({**_INT, "minimum": 0, "maximum": 100}, "Percentage of traffic for the canary."),
    "pause": _described(_obj({"duration": _described(_INT_OR_STRING, 'Seconds, or "30s", "5m", "1h".')}),
                        "Wait for the duration, or (without one) until promoted."),
    "analysis": ANALYSIS,
})

CANARY: Schema = _obj({
    "canaryService": _described(_STR, "Service selecting the canary pods (the controller adds the hash)."),
    "stableService": _described(_STR, "Service selecting the stable pods; its annotations carry the weight."),
    "maxSurge": _INT_OR_STRING,
    "maxUnavailable": _INT_OR_STRING,
    "scaleDownDelaySeconds": _described(_NON_NEG, "With services: seconds the old pods keep running after "
                                                  "the switch (default 30)."),
    "steps": {"type": "array", "items": _CANARY_STEP},
    "analysis": _described(ANALYSIS, "Background analysis, run while a canary is in progress."),
})

BLUE_GREEN: Schema = _obj({
    "activeService": _described(_STR, "Service that serves production traffic."),
    "previewService": _described(_STR, "Service that serves the new version before promotion."),
    "autoPromotionEnabled": {**_BOOL, "default": True},
    "autoPromotionSeconds": _described(_NON_NEG, "Promote this long after the new version is ready."),
    "scaleDownDelaySeconds": {**_NON_NEG, "default": 30},
    "prePromotionAnalysis": ANALYSIS,
}, required=["activeService"])

_SPEC = _obj({
    "replicas": {**_NON_NEG, "default": 1},
    "selector": _LABEL_SELECTOR,
    "template": _described({"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                           "The pod template, as a Deployment's (validated when its ReplicaSet is written)."),
    "minReadySeconds": _NON_NEG,
    "revisionHistoryLimit": {**_NON_NEG, "default": 10},
    "paused": _BOOL,
    "strategy": _obj({"canary": CANARY, "blueGreen": BLUE_GREEN}),
}, required=["selector", "template"])

_RUN_STATUS = _obj({"name": _STR, "status": _STR, "message": _STR})
_WEIGHT = _obj({"weight": _INT, "podTemplateHash": _STR, "serviceName": _STR})
_CONDITION = _obj({k: _STR for k in ("type", "status", "reason", "message", "lastUpdateTime",
                                     "lastTransitionTime")}, required=["type", "status"])

_STATUS = _obj({
    "phase": _STR, "message": _STR, "observedGeneration": _STR,
    "currentStepIndex": _INT, "currentPodHash": _STR, "stableRS": _STR, "collisionCount": _INT,
    "replicas": _INT, "updatedReplicas": _INT, "readyReplicas": _INT, "availableReplicas": _INT,
    "selector": _STR,
    "pauseConditions": {"type": "array", "items": _obj({"reason": _STR, "startTime": _STR})},
    "controllerPause": _BOOL, "abort": _BOOL, "abortedAt": _STR, "promoteFull": _BOOL,
    "canary": _obj({"weights": _obj({"canary": _WEIGHT, "stable": _WEIGHT}),
                    "currentStepAnalysisRunStatus": _RUN_STATUS,
                    "currentBackgroundAnalysisRunStatus": _RUN_STATUS}),
    "blueGreen": _obj({"activeSelector": _STR, "previewSelector": _STR, "scaleUpPreviewCheckPoint": _BOOL,
                       "prePromotionAnalysisRunStatus": _RUN_STATUS}),
    "conditions": {"type": "array", "items": _CONDITION},
})

SCHEMA: Schema = _obj({"apiVersion": _STR, "kind": _STR,
                       "spec": _SPEC, "status": _STATUS})

# Argo's columns (its CRD's additionalPrinterColumns)
COLUMNS = [
    {"name": "Desired", "type": "integer", "jsonPath": ".spec.replicas", "description": "Number of desired pods"},
    {"name": "Current", "type": "integer", "jsonPath": ".status.replicas",
     "description": "Total number of non-terminated pods targeted by this rollout"},
    {"name": "Up-to-date", "type": "integer", "jsonPath": ".status.updatedReplicas",
     "description": "Total number of non-terminated pods targeted by this rollout that have the desired template spec"},
    {"name": "Available", "type": "integer", "jsonPath": ".status.availableReplicas",
     "description": "Total number of available pods (ready for at least minReadySeconds) targeted by this rollout"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
     "description": "Time since resource was created"},
]


def definition() -> dict[str, Any]:
    """The CustomResourceDefinition object installed at start."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": NAME, "labels": {"app.kubernetes.io/part-of": "kubeling"}},
        "spec": {
            "group": GROUP, "scope": "Namespaced",
            "names": {"plural": PLURAL, "singular": "rollout", "kind": KIND, "listKind": "RolloutList",
                      "shortNames": ["ro"]},
            "versions": [{
                "name": VERSION, "served": True, "storage": True,
                "schema": {"openAPIV3Schema": SCHEMA},
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                        "statusReplicasPath": ".status.replicas",
                                                        "labelSelectorPath": ".status.selector"}},
                "additionalPrinterColumns": COLUMNS,
            }],
        },
    }
