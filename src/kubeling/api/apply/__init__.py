"""Server-side apply and managedFields, ported from structured-merge-diff and apimachinery.

Sources followed (upstream names in brackets so the logic can be compared line by line):
- sigs.k8s.io/structured-merge-diff/v4: `fieldpath` (sets, FieldsV1 encoding, path strings),
  `typed` (ToFieldSet, Compare, Merge, RemoveItems) and `merge/update.go` (Updater.Update/Apply,
  prune, conflicts).
- k8s.io/apimachinery/pkg/util/managedfields/internal: the manager chain of
  `NewDefaultFieldManager` (versioncheck, lastappliedupdater, lastappliedmanager,
  skipnonapplied, capmanagers, buildmanagerinfo, managedfieldsupdater, stripmeta,
  structuredmerge), `managedfields.go` (decode/encode/sort) and `conflict.go` (409 body).

The package: `fieldset` (sets, paths, FieldsV1), `typedmerge` (schema types, compare, merge,
remove), `managed` (managedFields and the updater every write runs), `ssa` (server-side apply).
"""
