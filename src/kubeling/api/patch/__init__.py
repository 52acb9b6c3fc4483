"""The three PATCH flavours of the API server: JSON patch (jsonpatch), JSON merge patch (merge),
strategic merge patch (strategic).

Each function takes a stored object and a decoded patch body and returns a new object; the inputs are
never modified. Errors are `StatusError`s with the codes and messages kube-apiserver v1.32 answers:

* JSON patch (RFC 6902) follows gopkg.in/evanphx/json-patch.v4, the library the apiserver uses, including
  its leniencies (`replace` of a missing object key adds it, negative array indices) and its messages
  (`add operation does not apply: doc is missing path: "/x": missing value`). A failed operation is a 422
  "the server rejected our request due to an error in our request" with empty details, exactly as
  upstream; the library message is kept as the exception's `__cause__` for logs.
* Merge patch (RFC 7386) follows evanphx `MergePatch` (nulls inside new values are pruned).
* Strategic merge patch is a port of k8s.io/apimachinery/pkg/util/strategicpatch `StrategicMergeMapPatch`
  with the patch metadata (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`) read from the
  upstream OpenAPI schema instead of Go struct tags. Where the schema does not know a field the patch falls
  back to JSON-merge semantics (maps merge, lists are replaced), as upstream does for unstructured content.
"""
