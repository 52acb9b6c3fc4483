"""Patch application: JSON patch, merge patch, strategic merge patch.

The strategic merge patch tables are ported from k8s.io/apimachinery
pkg/util/strategicpatch/patch_test.go: every case applies `twoWay` to `original` (expecting
`twoWayResult`, else `modified`) and `threeWay` to `current` (expecting `result`), against a schema
equivalent to upstream's `MergeItem` test struct. The kubectl cases use the real Deployment schema.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from kubeling.api import errors, schema
from kubeling.api.patch.jsonpatch import json_patch
from kubeling.api.patch.merge import merge_patch
from kubeling.api.patch.strategic import strategic_merge_patch, strategic_merge_patch_for

# ---------------------------------------------------------------------------------------------
# upstream MergeItem / RetainKeysMergeItem, as OpenAPI v2 (recursive dicts instead of $refs)


def _merge_item_schema() -> dict[str, Any]:
    s: dict[str, Any] = {"type": "string"}
    item: dict[str, Any] = {"type": "object", "properties": {}}
    retain: dict[str, Any] = {"type": "object", "properties": {}}
    merging_list = {"type": "array", "items": item, "x-kubernetes-patch-strategy": "merge",
                    "x-kubernetes-patch-merge-key": "name"}
    item["properties"].update({
        "name": s, "value": s, "other": s,
        "mergingList": merging_list,
        "nonMergingList": {"type": "array", "items": item},
        "mergingIntList": {"type": "array", "items": {"type": "integer"}, "x-kubernetes-patch-strategy": "merge"},
        "nonMergingIntList": {"type": "array", "items": {"type": "integer"}},
        "mergeItemPtr": {"type": "array", "items": item, "x-kubernetes-patch-strategy": "merge",
                         "x-kubernetes-patch-merge-key": "name"},
        "simpleMap": {"type": "object", "additionalProperties": s},
        "replacingItem": {"type": "object", "x-kubernetes-patch-strategy": "replace"},
        "retainKeysMap": {"allOf": [retain], "x-kubernetes-patch-strategy": "retainKeys"},
        "retainKeysMergingList": {"type": "array", "items": item, "x-kubernetes-patch-strategy": "merge,retainKeys",
                                  "x-kubernetes-patch-merge-key": "name"},
    })
    retain["properties"].update({
        "name": s, "value": s, "other": s,
        "simpleMap": {"type": "object", "additionalProperties": s},
        "mergingIntList": {"type": "array", "items": {"type": "integer"}, "x-kubernetes-patch-strategy": "merge"},
        "mergingList": merging_list,
        "nonMergingList": {"type": "array", "items": item},
    })
    return item


MERGE_ITEM = _merge_item_schema()


def _sort_merge_lists(v: Any, sch: Any) -> Any:
    """sortMergeListsByName: what upstream does to both sides before comparing (lists of the merge
    strategy sorted by merge key, merging scalar lists deduplicated and sorted)."""
    if not isinstance(v, dict):
        return v
    out = {}
    for k, x in v.items():
        if k.startswith("$retainKeys") or k.startswith("$deleteFromPrimitiveList"):
            x = sorted(x, key=str)
        elif k.startswith("$setElementOrder") or k == "$patch":
            pass
        else:
            sub = schema.child(sch, k) if sch is not None else None
            if isinstance(x, dict):
                x = _sort_merge_lists(x, sub)
            elif isinstance(x, list) and sub is not None and sub.get("x-kubernetes-patch-strategy", "").startswith("merge"):
                if x and isinstance(x[0], dict):
                    mk = sub["x-kubernetes-patch-merge-key"]
                    x = sorted((_sort_merge_lists(e, schema.items(sub)) for e in x), key=lambda e: str(e.get(mk)))
                else:
                    x = sorted(dict.fromkeys(x), key=str)
        out[k] = x
    return out


def _cases(text: str) -> list[Any]:
    return [pytest.param(c, id=c["description"]) for c in yaml.safe_load(text)]


# Cases from customStrategicMergePatchTestCaseData + customStrategicMergePatchRawTestCases: only a
# two-way patch each; compared exactly (list order included).
CUSTOM_CASES = """
- description: unique scalars when merging lists
  original: {mergingIntList: [1, 2]}
  twoWay: {mergingIntList: [2, 3]}
  modified: {mergingIntList: [1, 2, 3]}
- description: delete map from nested map
  original: {simpleMap: {key1: 1, key2: 1}}
  twoWay: {simpleMap: {$patch: delete}}
  modified: {simpleMap: {}}
- description: delete all items from merging list
  original: {mergingList: [{name: 1}, {name: 2}]}
  twoWay: {mergingList: [{$patch: replace}]}
  modified: {mergingList: []}
- description: merge empty merging lists
  original: {mergingList: []}
  twoWay: {mergingList: []}
  modified: {mergingList: []}
- description: delete all keys from map
  original: {name: 1, value: 1}
  twoWay: {$patch: replace}
  modified: {}
- description: add key and delete all keys from map
  original: {name: 1, value: 1}
  twoWay: {other: a, $patch: replace}
  modified: {other: a}
- description: delete all duplicate entries in a merging list
  original: {mergingList: [{name: 1}, {name: 1}, {name: 2, value: a}, {name: 3}, {name: 3}]}
  twoWay: {mergingList: [{name: 1, $patch: delete}, {name: 3, $patch: delete}]}
  modified: {mergingList: [{name: 2, value: a}]}
- description: retainKeys map can add a field when no retainKeys directive present
  original: {retainKeysMap: {name: foo}}
  twoWay: {retainKeysMap: {value: bar}}
  modified: {retainKeysMap: {name: foo, value: bar}}
- description: retainKeys map can change a field when no retainKeys directive present
  original: {retainKeysMap: {name: foo, value: a}}
  twoWay: {retainKeysMap: {value: b}}
  modified: {retainKeysMap: {name: foo, value: b}}
- description: retainKeys map can delete a field when no retainKeys directive present
  original: {retainKeysMap: {name: foo, value: a}}
  twoWay: {retainKeysMap: {value: null}}
  modified: {retainKeysMap: {name: foo}}
- description: retainKeys map merge an empty map
  original: {retainKeysMap: {name: foo, value: a}}
  twoWay: {retainKeysMap: {}}
  modified: {retainKeysMap: {name: foo, value: a}}
- description: retainKeys list can add a field when no retainKeys directive present
  original: {retainKeysMergingList: [{name: bar}, {name: foo}]}
  twoWay: {retainKeysMergingList: [{name: foo, value: a}]}
  modified: {retainKeysMergingList: [{name: bar}, {name: foo, value: a}]}
- description: retainKeys list can delete a field when no retainKeys directive present
  original: {retainKeysMergingList: [{name: bar}, {name: foo, value: a}]}
  twoWay: {retainKeysMergingList: [{name: foo, value: null}]}
  modified: {retainKeysMergingList: [{name: bar}, {name: foo}]}
- description: preserve the order from the patch in a merging list
  original: {mergingList: [{name: 1}, {name: 2, value: b}, {name: 3}]}
  twoWay: {mergingList: [{name: 3, value: c}, {name: 1, value: a}, {name: 2, other: x}]}
  modified: {mergingList: [{name: 3, value: c}, {name: 1, value: a}, {name: 2, value: b, other: x}]}
- description: preserve the order from the patch in a merging list 2
  original: {mergingList: [{name: 1}, {name: 2, value: b}, {name: 3}]}
  twoWay: {mergingList: [{name: 3, value: c}, {name: 1, value: a}]}
  modified: {mergingList: [{name: 2, value: b}, {name: 3, value: c}, {name: 1, value: a}]}
- description: preserve the order from the patch in a merging int list
  original: {mergingIntList: [1, 2, 3]}
  twoWay: {mergingIntList: [3, 1, 2]}
  modified: {mergingIntList: [3, 1, 2]}
- description: preserve the order from the patch in a merging int list 2
  original: {mergingIntList: [1, 2, 3]}
  twoWay: {mergingIntList: [3, 1]}
  modified: {mergingIntList: [2, 3, 1]}
- description: $setElementOrder contains item that is not present in the list to be merged
  original: {mergingList: [{name: 1}, {name: 3}]}
  twoWay: {$setElementOrder/mergingList: [{name: 3}, {name: 2}, {name: 1}],
           mergingList: [{name: 3, value: 3}, {name: 1, value: 1}]}
  modified: {mergingList: [{name: 3, value: 3}, {name: 1, value: 1}]}
- description: $setElementOrder contains item that is not present in the int list to be merged
  original: {mergingIntList: [1, 3]}
  twoWay: {$setElementOrder/mergingIntList: [3, 2, 1]}
  modified: {mergingIntList: [3, 1]}
- description: should check if order in $setElementOrder and patch list match
  original: {mergingList: [{name: 1}, {name: 3}, {name: 2}]}
  twoWay: {$setElementOrder/mergingList: [{name: 1}, {name: 2}, {name: 3}],
           mergingList: [{name: 3, value: 3}, {name: 1, value: 1}]}
  error: doesn't match
- description: should check if order in $setElementOrder and patch int list match
  original: {mergingIntList: [1, 3, 2]}
  twoWay: {$setElementOrder/mergingIntList: [1, 2, 3], mergingIntList: [3, 1]}
  error: doesn't match
- description: missing merge key should error out
  original: {mergingList: [{name: 1, value: a}]}
  twoWay: {mergingList: [{value: b}]}
  error: does not contain declared merge key
- description: $deleteFromPrimitiveList of nonexistent item in primitive list should not add the item to the list
  original: {mergingIntList: [1, 2]}
  twoWay: {$deleteFromPrimitiveList/mergingIntList: [3]}
  modified: {mergingIntList: [1, 2]}
- description: $deleteFromPrimitiveList on empty primitive list should not add the item to the list
  original: {mergingIntList: null}
  twoWay: {$deleteFromPrimitiveList/mergingIntList: [3]}
  modified: {mergingIntList: null}
- description: $deleteFromPrimitiveList on nonexistent primitive list should not add the primitive list
  original: {foo: [bar]}
  twoWay: {$deleteFromPrimitiveList/mergingIntList: [3]}
  modified: {foo: [bar]}
- description: $deleteFromPrimitiveList should delete item from a list with merge patch strategy
  original: {mergingIntList: [1, 2, 3]}
  twoWay: {$deleteFromPrimitiveList/mergingIntList: [2]}
  modified: {mergingIntList: [1, 3]}
- description: $deleteFromPrimitiveList should delete item from a list without merge patch strategy
  original: {nonMergingIntList: [1, 2, 3]}
  twoWay: {$deleteFromPrimitiveList/nonMergingIntList: [2]}
  modified: {nonMergingIntList: [1, 3]}
"""

# Cases from createStrategicMergePatchTestCaseData: compared like upstream, after sorting merge lists.
CREATE_CASES = """
- description: nil original
  twoWay: {name: 1, value: 1}
  modified: {name: 1, value: 1}
  current: {name: 1, other: a}
  threeWay: {value: 1}
  result: {name: 1, value: 1, other: a}
- description: nil patch
  original: {name: 1}
  twoWay: {}
  modified: {name: 1}
  current: {name: 1}
  threeWay: {}
  result: {name: 1}
- description: add field to map with conflict
  original: {name: 1}
  twoWay: {value: 1}
  modified: {name: 1, value: 1}
  current: {name: a, other: a}
  threeWay: {name: 1, value: 1}
  result: {name: 1, value: 1, other: a}
- description: add field and delete field from map
  original: {name: 1}
  twoWay: {name: null, value: 1}
  modified: {value: 1}
  current: {name: 1, other: a}
  threeWay: {name: null, value: 1}
  result: {value: 1, other: a}
- description: delete field from nested map with conflict
  original: {simpleMap: {key1: 1, key2: 1}}
  twoWay: {simpleMap: {key2: null}}
  modified: {simpleMap: {key1: 1}}
  current: {simpleMap: {key1: a, key2: 1, other: a}}
  threeWay: {simpleMap: {key1: 1, key2: null}}
  result: {simpleMap: {key1: 1, other: a}}
- description: add field and delete all fields from map with conflict
  original: {name: 1, value: 1}
  twoWay: {name: null, value: null, other: a}
  modified: {other: a}
  current: {name: 1, value: 1, other: b}
  threeWay: {name: null, value: null, other: a}
  result: {other: a}
- description: replace list of scalars with conflict
  original: {nonMergingIntList: [1, 2]}
  twoWay: {nonMergingIntList: [2, 3]}
  modified: {nonMergingIntList: [2, 3]}
  current: {nonMergingIntList: [1, 4]}
  threeWay: {nonMergingIntList: [2, 3]}
  result: {nonMergingIntList: [2, 3]}
- description: delete all maps from merging list with conflict
  original: {mergingList: [{name: 1}, {name: 2}]}
  twoWay: {mergingList: [{name: 1, $patch: delete}, {name: 2, $patch: delete}]}
  modified: {mergingList: []}
  current: {mergingList: [{name: 1, other: a}, {name: 2, other: b}]}
  threeWay: {mergingList: [{name: 1, $patch: delete}, {name: 2, $patch: delete}]}
  result: {mergingList: []}
- description: delete all maps from empty merging list
  original: {mergingList: [{name: 1}, {name: 2}]}
  twoWay: {mergingList: [{name: 1, $patch: delete}, {name: 2, $patch: delete}]}
  modified: {mergingList: []}
  current: {mergingList: []}
  threeWay: {mergingList: [{name: 1, $patch: delete}, {name: 2, $patch: delete}]}
  result: {mergingList: []}
- description: defined null values should propagate overwrite current fields (with conflict)
  original: {name: 2}
  twoWay: {name: 1, value: 1, other: null}
  twoWayResult: {name: 1, value: 1}
  current: {name: a, other: a}
  threeWay: {name: 1, value: 1, other: null}
  result: {name: 1, value: 1}
- description: defined null values should propagate removing original fields
  original: {name: original-name, value: original-value}
  current: {name: original-name, value: original-value, other: current-other}
  twoWay: {name: modified-name, value: null}
  twoWayResult: {name: modified-name}
  threeWay: {name: modified-name, value: null}
  result: {name: modified-name, other: current-other}
- description: retainKeys map with no change should not be present
  original: {name: a, retainKeysMap: {name: foo}}
  current: {name: a, other: c, retainKeysMap: {name: foo}}
  modified: {name: a, value: b, retainKeysMap: {name: foo}}
  twoWay: {value: b}
  threeWay: {value: b}
  result: {name: a, value: b, other: c, retainKeysMap: {name: foo}}
"""

# Cases from strategicMergePatchRawTestCases and replaceRawExtensionPatchTestCases: compared exactly.
RAW_CASES = """
- description: nested patch merge with empty list
  original: {name: hi}
  current: {name: hi, mergingList: [{name: hello2}]}
  twoWay: {mergingList: [{name: hello}, {$patch: delete, name: doesntexist}]}
  twoWayResult: {name: hi, mergingList: [{name: hello}]}
  threeWay: {$setElementOrder/mergingList: [{name: hello}, {name: doesntexist}],
             mergingList: [{name: hello}, {$patch: delete, name: doesntexist}]}
  result: {name: hi, mergingList: [{name: hello}, {name: hello2}]}
- description: delete items in lists of scalars
  original: {mergingIntList: [1, 2, 3]}
  twoWay: {$setElementOrder/mergingIntList: [1, 2], $deleteFromPrimitiveList/mergingIntList: [3]}
  modified: {mergingIntList: [1, 2]}
  current: {mergingIntList: [1, 2, 3, 4]}
  threeWay: {$setElementOrder/mergingIntList: [1, 2], $deleteFromPrimitiveList/mergingIntList: [3]}
  result: {mergingIntList: [1, 2, 4]}
- description: delete all duplicate items in lists of scalars
  original: {mergingIntList: [1, 2, 3, 3]}
  twoWay: {$setElementOrder/mergingIntList: [1, 2], $deleteFromPrimitiveList/mergingIntList: [3]}
  modified: {mergingIntList: [1, 2]}
  current: {mergingIntList: [1, 2, 3, 3, 4]}
  threeWay: {$setElementOrder/mergingIntList: [1, 2], $deleteFromPrimitiveList/mergingIntList: [3]}
  result: {mergingIntList: [1, 2, 4]}
- description: add and delete items in lists of scalars
  original: {mergingIntList: [1, 2, 3]}
  twoWay: {$setElementOrder/mergingIntList: [1, 2, 4], $deleteFromPrimitiveList/mergingIntList: [3],
           mergingIntList: [4]}
  modified: {mergingIntList: [1, 2, 4]}
  current: {mergingIntList: [1, 2, 3, 4]}
  threeWay: {$setElementOrder/mergingIntList: [1, 2, 4], $deleteFromPrimitiveList/mergingIntList: [3]}
  result: {mergingIntList: [1, 2, 4]}
- description: merge lists of maps
  original: {mergingList: [{name: 1}, {name: 2, value: 2}]}
  twoWay: {$setElementOrder/mergingList: [{name: 4}, {name: 1}, {name: 2}, {name: 3}],
           mergingList: [{name: 4, value: 4}, {name: 3, value: 3}]}
  modified: {mergingList: [{name: 4, value: 4}, {name: 1}, {name: 2, value: 2}, {name: 3, value: 3}]}
  current: {mergingList: [{name: 1, other: a}, {name: 2, value: 2, other: b}]}
  threeWay: {$setElementOrder/mergingList: [{name: 4}, {name: 1}, {name: 2}, {name: 3}],
             mergingList: [{name: 4, value: 4}, {name: 3, value: 3}]}
  result: {mergingList: [{name: 4, value: 4}, {name: 1, other: a}, {name: 2, value: 2, other: b},
                         {name: 3, value: 3}]}
- description: merge lists of maps with conflict
  original: {mergingList: [{name: 1}, {name: 2, value: 2}]}
  twoWay: {$setElementOrder/mergingList: [{name: 1}, {name: 2}, {name: 3}], mergingList: [{name: 3, value: 3}]}
  modified: {mergingList: [{name: 1}, {name: 2, value: 2}, {name: 3, value: 3}]}
  current: {mergingList: [{name: 1, other: a}, {name: 2, value: 3, other: b}]}
  threeWay: {$setElementOrder/mergingList: [{name: 1}, {name: 2}, {name: 3}],
             mergingList: [{name: 2, value: 2}, {name: 3, value: 3}]}
  result: {mergingList: [{name: 1, other: a}, {name: 2, value: 2, other: b}, {name: 3, value: 3}]}
- description: add field to map in merging list
  original: {mergingList: [{name: 1}, {name: 2, value: 2}]}
  twoWay: {$setElementOrder/mergingList: [{name: 1}, {name: 2}], mergingList: [{name: 1, value: 1}]}
  modified: {mergingList: [{name: 1, value: 1}, {name: 2, value: 2}]}
  current: {mergingList: [{name: 1, other: a}, {name: 2, value: 2, other: b}]}
  threeWay: {$setElementOrder/mergingList: [{name: 1}, {name: 2}], mergingList: [{name: 1, value: 1}]}
  result: {mergingList: [{name: 1, value: 1, other: a}, {name: 2, value: 2, other: b}]}
- description: add field to map in merging list with conflict
  original: {mergingList: [{name: 1}, {name: 2, value: 2}]}
  twoWay: {$setElementOrder/mergingList: [{name: 1}, {name: 2}], mergingList: [{name: 1, value: 1}]}
  modified: {mergingList: [{name: 1, value: 1}, {name: 2, value: 2}]}
  current: {mergingList: [{name: 1, other: a}, {name: 3, value: 2, other: b}]}
  threeWay: {$setElementOrder/mergingList: [{name: 1}, {name: 2}],
             mergingList: [{name: 1, value: 1}, {name: 2, value: 2}]}
  result: {mergingList: [{name: 1, value: 1, other: a}, {name: 2, value: 2}, {name: 3, value: 2, other: b}]}
- description: add an item that already exists in current object in merging list
  original: {mergingList: [{name: 1, value: a}, {name: 2}]}
  twoWay: {$setElementOrder/mergingList: [{name: 1}, {name: 2}, {name: 3}], mergingList: [{name: 3}]}
  modified: {mergingList: [{name: 1, value: a}, {name: 2}, {name: 3}]}
  current: {mergingList: [{name: 1, value: a, other: x}, {name: 2}, {name: 3}]}
  threeWay: {}
  result: {mergingList: [{name: 1, value: a, other: x}, {name: 2}, {name: 3}]}
- description: replace map field value in merging list with conflict
  original: {mergingList: [{name: 1, value: 1}, {name: 2, value: 2}]}
  twoWay: {$setElementOrder/mergingList: [{name: 1}, {name: 2}], mergingList: [{name: 1, value: a}]}
  modified: {mergingList: [{name: 1, value: a}, {name: 2, value: 2}]}
  current: {mergingList: [{name: 1, value: 3, other: a}, {name: 2, value: 2, other: b}]}
  threeWay: {$setElementOrder/mergingList: [{name: 1}, {name: 2}], mergingList: [{name: 1, value: a}]}
  result: {mergingList: [{name: 1, value: a, other: a}, {name: 2, value: 2, other: b}]}
- description: delete map from merging list
  original: {mergingList: [{name: 1}, {name: 2}]}
  twoWay: {$setElementOrder/mergingList: [{name: 2}], mergingList: [{name: 1, $patch: delete}]}
  modified: {mergingList: [{name: 2}]}
  current: {mergingList: [{name: 1}, {name: 2, other: b}]}
  threeWay: {$setElementOrder/mergingList: [{name: 2}], mergingList: [{name: 1, $patch: delete}]}
  result: {mergingList: [{name: 2, other: b}]}
- description: delete missing map from merging list with conflict
  original: {mergingList: [{name: 1}, {name: 2}]}
  twoWay: {$setElementOrder/mergingList: [{name: 2}], mergingList: [{name: 1, $patch: delete}]}
  modified: {mergingList: [{name: 2}]}
  current: {mergingList: [{name: 3, other: a}]}
  threeWay: {$setElementOrder/mergingList: [{name: 2}], mergingList: [{name: 2}, {name: 1, $patch: delete}]}
  result: {mergingList: [{name: 2}, {name: 3, other: a}]}
- description: add map and delete map from merging list
  original: {mergingList: [{name: 1}, {name: 2}]}
  twoWay: {$setElementOrder/mergingList: [{name: 2}, {name: 3}],
           mergingList: [{name: 3}, {name: 1, $patch: delete}]}
  modified: {mergingList: [{name: 2}, {name: 3}]}
  current: {mergingList: [{name: 1}, {name: 2, other: b}, {name: 4, other: c}]}
  threeWay: {$setElementOrder/mergingList: [{name: 2}, {name: 3}],
             mergingList: [{name: 3}, {name: 1, $patch: delete}]}
  result: {mergingList: [{name: 2, other: b}, {name: 4, other: c}, {name: 3}]}
- description: add map and delete map from merging list with conflict
  original: {mergingList: [{name: 1}, {name: 2}]}
  twoWay: {$setElementOrder/mergingList: [{name: 2}, {name: 3}],
           mergingList: [{name: 3}, {name: 1, $patch: delete}]}
  modified: {mergingList: [{name: 2}, {name: 3}]}
  current: {mergingList: [{name: 1, other: a}, {name: 4, other: c}]}
  threeWay: {$setElementOrder/mergingList: [{name: 2}, {name: 3}],
             mergingList: [{name: 2}, {name: 3}, {name: 1, $patch: delete}]}
  result: {mergingList: [{name: 4, other: c}, {name: 2}, {name: 3}]}
- description: delete missing field from map in merging list with conflict
  original: {mergingList: [{name: 1, value: 1}, {name: 2, value: 2}]}
  twoWay: {$setElementOrder/mergingList: [{name: 1}, {name: 2}], mergingList: [{name: 1, value: null}]}
  modified: {mergingList: [{name: 1}, {name: 2, value: 2}]}
  current: {mergingList: [{name: 1, other: a}, {name: 2, other: b}]}
  threeWay: {$setElementOrder/mergingList: [{name: 1}, {name: 2}],
             mergingList: [{name: 1, value: null}, {name: 2, value: 2}]}
  result: {mergingList: [{name: 1, other: a}, {name: 2, value: 2, other: b}]}
- description: replace non merging list nested in merging list with deletion conflict
  original: {mergingList: [{name: 1, nonMergingList: [{name: 1}, {name: 2, value: 2}]}, {name: 2}]}
  twoWay: {$setElementOrder/mergingList: [{name: 1}, {name: 2}],
           mergingList: [{name: 1, nonMergingList: [{name: 1, value: 1}]}]}
  modified: {mergingList: [{name: 1, nonMergingList: [{name: 1, value: 1}]}, {name: 2}]}
  current: {mergingList: [{name: 1, other: a, nonMergingList: [{name: 2, value: 2}]}, {name: 2, other: b}]}
  threeWay: {$setElementOrder/mergingList: [{name: 1}, {name: 2}],
             mergingList: [{name: 1, nonMergingList: [{name: 1, value: 1}]}]}
  result: {mergingList: [{name: 1, other: a, nonMergingList: [{name: 1, value: 1}]}, {name: 2, other: b}]}
- description: add field to map in merging list nested in merging list with value conflict
  original: {mergingList: [{name: 1, mergingList: [{name: 1}, {name: 2, value: 2}]}, {name: 2}]}
  twoWay: {$setElementOrder/mergingList: [{name: 1}, {name: 2}],
           mergingList: [{$setElementOrder/mergingList: [{name: 1}, {name: 2}], name: 1,
                          mergingList: [{name: 1, value: 1}]}]}
  modified: {mergingList: [{name: 1, mergingList: [{name: 1, value: 1}, {name: 2, value: 2}]}, {name: 2}]}
  current: {mergingList: [{name: 1, other: a, mergingList: [{name: 1, value: a, other: c},
                                                             {name: 2, value: b, other: d}]},
                          {name: 2, other: b}]}
  threeWay: {$setElementOrder/mergingList: [{name: 1}, {name: 2}],
             mergingList: [{$setElementOrder/mergingList: [{name: 1}, {name: 2}], name: 1,
                            mergingList: [{name: 1, value: 1}, {name: 2, value: 2}]}]}
  result: {mergingList: [{name: 1, other: a, mergingList: [{name: 1, value: 1, other: c},
                                                            {name: 2, value: 2, other: d}]},
                         {name: 2, other: b}]}
- description: add field to map in merging list nested in merging list with deletion conflict (reorder)
  original: {mergingList: [{name: 1, mergingList: [{name: 1}, {name: 2, value: 2}]}, {name: 2}]}
  twoWay: {$setElementOrder/mergingList: [{name: 1}, {name: 2}],
           mergingList: [{$setElementOrder/mergingList: [{name: 2}, {name: 1}], name: 1,
                          mergingList: [{name: 1, value: 1}]}]}
  modified: {mergingList: [{name: 1, mergingList: [{name: 2, value: 2}, {name: 1, value: 1}]}, {name: 2}]}
  current: {mergingList: [{name: 1, other: a, mergingList: [{name: 2, value: 2, other: d}]}, {name: 2, other: b}]}
  threeWay: {$setElementOrder/mergingList: [{name: 1}, {name: 2}],
             mergingList: [{$setElementOrder/mergingList: [{name: 2}, {name: 1}], name: 1,
                            mergingList: [{name: 1, value: 1}]}]}
  result: {mergingList: [{name: 1, other: a, mergingList: [{name: 2, value: 2, other: d}, {name: 1, value: 1}]},
                         {name: 2, other: b}]}
- description: add map to merging list by pointer
  original: {mergeItemPtr: [{name: 1}]}
  twoWay: {$setElementOrder/mergeItemPtr: [{name: 1}, {name: 2}], mergeItemPtr: [{name: 2}]}
  modified: {mergeItemPtr: [{name: 1}, {name: 2}]}
  current: {mergeItemPtr: [{name: 1, other: a}, {name: 3}]}
  threeWay: {$setElementOrder/mergeItemPtr: [{name: 1}, {name: 2}], mergeItemPtr: [{name: 2}]}
  result: {mergeItemPtr: [{name: 1, other: a}, {name: 2}, {name: 3}]}
- description: add map to merging list by pointer with conflict
  original: {mergeItemPtr: [{name: 1}]}
  twoWay: {$setElementOrder/mergeItemPtr: [{name: 1}, {name: 2}], mergeItemPtr: [{name: 2}]}
  modified: {mergeItemPtr: [{name: 1}, {name: 2}]}
  current: {mergeItemPtr: [{name: 3}]}
  threeWay: {$setElementOrder/mergeItemPtr: [{name: 1}, {name: 2}], mergeItemPtr: [{name: 1}, {name: 2}]}
  result: {mergeItemPtr: [{name: 1}, {name: 2}, {name: 3}]}
- description: merge lists of scalars
  original: {mergingIntList: [1, 2]}
  twoWay: {$setElementOrder/mergingIntList: [1, 2, 3], mergingIntList: [3]}
  modified: {mergingIntList: [1, 2, 3]}
  current: {mergingIntList: [1, 2, 4]}
  threeWay: {$setElementOrder/mergingIntList: [1, 2, 3], mergingIntList: [3]}
  result: {mergingIntList: [1, 2, 3, 4]}
- description: add an item in a list of primitives and preserve order
  original: {mergingIntList: [1, 2]}
  twoWay: {$setElementOrder/mergingIntList: [3, 1, 2], mergingIntList: [3]}
  modified: {mergingIntList: [3, 1, 2]}
  current: {mergingIntList: [1, 4, 2]}
  threeWay: {$setElementOrder/mergingIntList: [3, 1, 2], mergingIntList: [3]}
  result: {mergingIntList: [3, 1, 4, 2]}
- description: delete an item in a list of primitives and preserve order
  original: {mergingIntList: [1, 2, 3]}
  twoWay: {$setElementOrder/mergingIntList: [2, 1], $deleteFromPrimitiveList/mergingIntList: [3]}
  modified: {mergingIntList: [2, 1]}
  current: {mergingIntList: [1, 2, 3]}
  threeWay: {$setElementOrder/mergingIntList: [2, 1], $deleteFromPrimitiveList/mergingIntList: [3]}
  result: {mergingIntList: [2, 1]}
- description: add multiple items in a list and preserve order
  original: {mergingList: [{name: 1}, {name: 2, value: 2}]}
  twoWay: {$setElementOrder/mergingList: [{name: 1}, {name: 4}, {name: 2}, {name: 3}],
           mergingList: [{name: 4, value: 4}, {name: 3, value: 3}]}
  modified: {mergingList: [{name: 1}, {name: 4, value: 4}, {name: 2, value: 2}, {name: 3, value: 3}]}
  current: {mergingList: [{name: 1, other: a}, {name: 2, value: 2, other: b}]}
  threeWay: {$setElementOrder/mergingList: [{name: 1}, {name: 4}, {name: 2}, {name: 3}],
             mergingList: [{name: 4, value: 4}, {name: 3, value: 3}]}
  result: {mergingList: [{name: 1, other: a}, {name: 4, value: 4}, {name: 2, value: 2, other: b},
                         {name: 3, value: 3}]}
- description: delete an item in a list and preserve order
  original: {mergingList: [{name: 1}, {name: 3, value: 3}, {name: 2, value: 2}]}
  twoWay: {$setElementOrder/mergingList: [{name: 2}, {name: 1}], mergingList: [{name: 3, $patch: delete}]}
  modified: {mergingList: [{name: 2, value: 2}, {name: 1}]}
  current: {mergingList: [{name: 1, other: a}, {name: 2, value: 2, other: b}, {name: 3, value: 3}]}
  threeWay: {$setElementOrder/mergingList: [{name: 2}, {name: 1}], mergingList: [{name: 3, $patch: delete}]}
  result: {mergingList: [{name: 2, value: 2, other: b}, {name: 1, other: a}]}
- description: change an item in a list and preserve order
  original: {mergingList: [{name: 1}, {name: 3, value: 3}, {name: 2, value: 2}]}
  twoWay: {$setElementOrder/mergingList: [{name: 2}, {name: 3}, {name: 1}], mergingList: [{name: 3, value: x}]}
  modified: {mergingList: [{name: 2, value: 2}, {name: 3, value: x}, {name: 1}]}
  current: {mergingList: [{name: 1, other: a}, {name: 2, value: 2, other: b}, {name: 3, value: 3}]}
  threeWay: {$setElementOrder/mergingList: [{name: 2}, {name: 3}, {name: 1}], mergingList: [{name: 3, value: x}]}
  result: {mergingList: [{name: 2, value: 2, other: b}, {name: 3, value: x}, {name: 1, other: a}]}
- description: add and delete an item in a list and preserve order
  original: {mergingList: [{name: 1}, {name: 3, value: 3}, {name: 2, value: 2}]}
  twoWay: {$setElementOrder/mergingList: [{name: 4}, {name: 2}, {name: 1}],
           mergingList: [{name: 4, value: 4}, {name: 3, $patch: delete}]}
  modified: {mergingList: [{name: 4, value: 4}, {name: 2, value: 2}, {name: 1}]}
  current: {mergingList: [{name: 1, other: a}, {name: 2, value: 2, other: b}, {name: 3, value: 3}]}
  threeWay: {$setElementOrder/mergingList: [{name: 4}, {name: 2}, {name: 1}],
             mergingList: [{name: 4, value: 4}, {name: 3, $patch: delete}]}
  result: {mergingList: [{name: 4, value: 4}, {name: 2, value: 2, other: b}, {name: 1, other: a}]}
- description: set elements order in a list with server-only items 3
  original: {mergingList: [{name: 1}, {name: 2, value: 2}, {name: 3, value: 3}, {name: 4, value: 4}]}
  twoWay: {$setElementOrder/mergingList: [{name: 2}, {name: 1}, {name: 4}, {name: 3}]}
  modified: {mergingList: [{name: 2, value: 2}, {name: 1}, {name: 4, value: 4}, {name: 3, value: 3}]}
  current: {mergingList: [{name: 1, other: a}, {name: 2, value: 2}, {name: 7}, {name: 9}, {name: 8},
                          {name: 3, value: 3}, {name: 4, value: 4}]}
  threeWay: {$setElementOrder/mergingList: [{name: 2}, {name: 1}, {name: 4}, {name: 3}]}
  result: {mergingList: [{name: 2, value: 2}, {name: 1, other: a}, {name: 7}, {name: 9}, {name: 8},
                         {name: 4, value: 4}, {name: 3, value: 3}]}
- description: add and delete an item in a int list and preserve order
  original: {mergingIntList: [1, 3, 2]}
  twoWay: {$setElementOrder/mergingIntList: [4, 2, 1], mergingIntList: [4], $deleteFromPrimitiveList/mergingIntList: [3]}
  modified: {mergingIntList: [4, 2, 1]}
  current: {mergingIntList: [1, 2, 3]}
  threeWay: {$setElementOrder/mergingIntList: [4, 2, 1], mergingIntList: [4], $deleteFromPrimitiveList/mergingIntList: [3]}
  result: {mergingIntList: [4, 2, 1]}
- description: set elements order in a int list with server-only items 2
  original: {mergingIntList: [1, 2, 3, 4]}
  twoWay: {$setElementOrder/mergingIntList: [2, 1, 4, 3]}
  modified: {mergingIntList: [2, 1, 4, 3]}
  current: {mergingIntList: [1, 2, 9, 3, 4]}
  threeWay: {$setElementOrder/mergingIntList: [2, 1, 4, 3]}
  result: {mergingIntList: [2, 1, 9, 4, 3]}
- description: behavior of set element order for a merging list with duplicate
  original: {mergingList: [{name: 1}, {name: 2, value: dup1}, {name: 3}, {name: 2, value: dup2}, {name: 4}]}
  current: {mergingList: [{name: 1}, {name: 2, value: dup1}, {name: 3}, {name: 2, value: dup2}, {name: 4}]}
  twoWay: {$setElementOrder/mergingList: [{name: 2}, {name: 1}, {name: 4}, {name: 3}, {name: 2}]}
  twoWayResult: {mergingList: [{name: 2, value: dup1}, {name: 2, value: dup2}, {name: 1}, {name: 4}, {name: 3}]}
  threeWay: {$setElementOrder/mergingList: [{name: 2}, {name: 1}, {name: 4}, {name: 3}, {name: 2}]}
  result: {mergingList: [{name: 2, value: dup1}, {name: 2, value: dup2}, {name: 1}, {name: 4}, {name: 3}]}
- description: behavior of set element order for a merging int list with duplicate
  original: {mergingIntList: [1, 2, 3, 2, 4]}
  current: {mergingIntList: [1, 2, 3, 2, 4]}
  twoWay: {$setElementOrder/mergingIntList: [2, 1, 4, 3, 2]}
  twoWayResult: {mergingIntList: [2, 2, 1, 4, 3]}
  threeWay: {$setElementOrder/mergingIntList: [2, 1, 4, 3, 2]}
  result: {mergingIntList: [2, 2, 1, 4, 3]}
- description: retainKeys map should clear defaulted field with conflict (discriminated union)
  original: {}
  current: {retainKeysMap: {name: type1, value: foo}}
  twoWay: {retainKeysMap: {name: type2, other: bar}}
  modified: {retainKeysMap: {name: type2, other: bar}}
  threeWay: {retainKeysMap: {$retainKeys: [name, other], name: type2, other: bar}}
  result: {retainKeysMap: {name: type2, other: bar}}
- description: retainKeys map adds a field and clear a field
  original: {retainKeysMap: {name: foo}}
  current: {retainKeysMap: {name: foo, other: a}}
  twoWay: {retainKeysMap: {$retainKeys: [name, value], value: bar}}
  modified: {retainKeysMap: {name: foo, value: bar}}
  threeWay: {retainKeysMap: {$retainKeys: [name, value], value: bar}}
  result: {retainKeysMap: {name: foo, value: bar}}
- description: retainKeys map deletes a field and clears a field
  original: {retainKeysMap: {name: foo, value: bar}}
  current: {retainKeysMap: {name: foo, value: bar, other: a}}
  twoWay: {retainKeysMap: {$retainKeys: [name], value: null}}
  modified: {retainKeysMap: {name: foo}}
  threeWay: {retainKeysMap: {$retainKeys: [name], value: null}}
  result: {retainKeysMap: {name: foo}}
- description: retainKeys map clears a field
  original: {retainKeysMap: {name: foo, value: bar}}
  current: {retainKeysMap: {name: foo, value: bar, other: a}}
  twoWay: {}
  modified: {retainKeysMap: {name: foo, value: bar}}
  threeWay: {retainKeysMap: {$retainKeys: [name, value]}}
  result: {retainKeysMap: {name: foo, value: bar}}
- description: retainKeys map deletes a field in a nested map
  original: {retainKeysMap: {name: foo, value: bar, simpleMap: {key1: a, key2: b}}}
  current: {retainKeysMap: {name: foo, value: bar, simpleMap: {key1: a, key2: b, key3: c}}}
  twoWay: {retainKeysMap: {$retainKeys: [name, simpleMap, value], simpleMap: {key2: null}}}
  modified: {retainKeysMap: {name: foo, value: bar, simpleMap: {key1: a}}}
  threeWay: {retainKeysMap: {$retainKeys: [name, simpleMap, value], simpleMap: {key2: null}}}
  result: {retainKeysMap: {name: foo, value: bar, simpleMap: {key1: a, key3: c}}}
- description: retainKeys map replaces non-merging list
  original: {retainKeysMap: {name: foo, value: bar, nonMergingList: [{name: a}, {name: b}]}}
  current: {retainKeysMap: {name: foo, value: bar, nonMergingList: [{name: a}, {name: b}]}}
  twoWay: {retainKeysMap: {$retainKeys: [name, nonMergingList, value],
                           nonMergingList: [{name: a}, {name: c}, {name: b}]}}
  modified: {retainKeysMap: {name: foo, value: bar, nonMergingList: [{name: a}, {name: c}, {name: b}]}}
  threeWay: {retainKeysMap: {$retainKeys: [name, nonMergingList, value],
                             nonMergingList: [{name: a}, {name: c}, {name: b}]}}
  result: {retainKeysMap: {name: foo, value: bar, nonMergingList: [{name: a}, {name: c}, {name: b}]}}
- description: retainKeys map delete nested non-merging list with conflict
  original: {retainKeysMap: {name: foo, nonMergingList: [{name: a}, {name: b}]}}
  current: {retainKeysMap: {name: foo, nonMergingList: [{name: a}, {name: b}, {name: c}]}}
  twoWay: {retainKeysMap: {$retainKeys: [name, value], value: bar, nonMergingList: null}}
  modified: {retainKeysMap: {name: foo, value: bar}}
  threeWay: {retainKeysMap: {$retainKeys: [name, value], value: bar, nonMergingList: null}}
  result: {retainKeysMap: {name: foo, value: bar}}
- description: retainKeys map nested merging int list with no change
  original: {retainKeysMap: {name: foo, mergingIntList: [1, 2]}}
  current: {retainKeysMap: {name: foo, mergingIntList: [1, 2, 3]}}
  twoWay: {retainKeysMap: {$retainKeys: [mergingIntList, name, value], value: bar}}
  modified: {retainKeysMap: {name: foo, value: bar, mergingIntList: [1, 2]}}
  threeWay: {retainKeysMap: {$retainKeys: [mergingIntList, name, value], $setElementOrder/mergingIntList: [1, 2],
                             value: bar}}
  result: {retainKeysMap: {name: foo, value: bar, mergingIntList: [1, 2, 3]}}
- description: retainKeys map adds an item and deletes an item in nested merging int list
  original: {retainKeysMap: {name: foo, mergingIntList: [1, 2, 3]}}
  current: {retainKeysMap: {name: foo, mergingIntList: [1, 2, 3, 4]}}
  twoWay: {retainKeysMap: {$retainKeys: [mergingIntList, name], mergingIntList: [5],
                           $deleteFromPrimitiveList/mergingIntList: [2], $setElementOrder/mergingIntList: [1, 3, 5]}}
  modified: {retainKeysMap: {name: foo, mergingIntList: [1, 3, 5]}}
  threeWay: {retainKeysMap: {$retainKeys: [mergingIntList, name], mergingIntList: [5],
                             $deleteFromPrimitiveList/mergingIntList: [2], $setElementOrder/mergingIntList: [1, 3, 5]}}
  result: {retainKeysMap: {name: foo, mergingIntList: [1, 3, 5, 4]}}
- description: retainKeys map deletes nested merging int list
  original: {retainKeysMap: {name: foo, mergingIntList: [1, 2, 3]}}
  current: {retainKeysMap: {name: foo, mergingIntList: [1, 2, 3]}}
  twoWay: {retainKeysMap: {$retainKeys: [name], mergingIntList: null}}
  modified: {retainKeysMap: {name: foo}}
  threeWay: {retainKeysMap: {$retainKeys: [name], mergingIntList: null}}
  result: {retainKeysMap: {name: foo}}
- description: retainKeys map adds an item in nested merging list
  original: {retainKeysMap: {name: foo, mergingList: [{name: a}, {name: b}]}}
  current: {retainKeysMap: {name: foo, mergingList: [{name: a}, {name: b}, {name: x}]}}
  twoWay: {retainKeysMap: {$retainKeys: [mergingList, name],
                           $setElementOrder/mergingList: [{name: a}, {name: b}, {name: c}], mergingList: [{name: c}]}}
  modified: {retainKeysMap: {name: foo, mergingList: [{name: a}, {name: b}, {name: c}]}}
  threeWay: {retainKeysMap: {$retainKeys: [mergingList, name],
                             $setElementOrder/mergingList: [{name: a}, {name: b}, {name: c}], mergingList: [{name: c}]}}
  result: {retainKeysMap: {name: foo, mergingList: [{name: a}, {name: b}, {name: c}, {name: x}]}}
- description: retainKeys map deletes an item in nested merging list
  original: {retainKeysMap: {name: foo, mergingList: [{name: a}, {name: b}]}}
  current: {retainKeysMap: {name: foo, mergingList: [{name: a}, {name: b}, {name: x}]}}
  twoWay: {retainKeysMap: {$retainKeys: [mergingList, name], $setElementOrder/mergingList: [{name: a}],
                           mergingList: [{name: b, $patch: delete}]}}
  modified: {retainKeysMap: {name: foo, mergingList: [{name: a}]}}
  threeWay: {retainKeysMap: {$retainKeys: [mergingList, name], $setElementOrder/mergingList: [{name: a}],
                             mergingList: [{name: b, $patch: delete}]}}
  result: {retainKeysMap: {name: foo, mergingList: [{name: a}, {name: x}]}}
- description: retainKeys list of maps clears a field
  original: {retainKeysMergingList: [{name: bar}, {name: foo, value: a}]}
  current: {retainKeysMergingList: [{name: bar}, {name: foo, value: a, other: x}]}
  twoWay: {}
  modified: {retainKeysMergingList: [{name: bar}, {name: foo, value: a}]}
  threeWay: {$setElementOrder/retainKeysMergingList: [{name: bar}, {name: foo}],
             retainKeysMergingList: [{$retainKeys: [name, value], name: foo}]}
  result: {retainKeysMergingList: [{name: bar}, {name: foo, value: a}]}
- description: retainKeys list of maps changes a field and clear a field with conflict
  original: {retainKeysMergingList: [{name: bar}, {name: foo, value: old}]}
  current: {retainKeysMergingList: [{name: bar}, {name: foo, value: modified, other: x}]}
  twoWay: {$setElementOrder/retainKeysMergingList: [{name: bar}, {name: foo}],
           retainKeysMergingList: [{$retainKeys: [name, value], name: foo, value: new}]}
  modified: {retainKeysMergingList: [{name: bar}, {name: foo, value: new}]}
  threeWay: {$setElementOrder/retainKeysMergingList: [{name: bar}, {name: foo}],
             retainKeysMergingList: [{$retainKeys: [name, value], name: foo, value: new}]}
  result: {retainKeysMergingList: [{name: bar}, {name: foo, value: new}]}
- description: retainKeys list of maps deletes a field and clear a field
  original: {retainKeysMergingList: [{name: bar}, {name: foo, value: a}]}
  current: {retainKeysMergingList: [{name: bar}, {name: foo, value: a, other: x}]}
  twoWay: {$setElementOrder/retainKeysMergingList: [{name: bar}, {name: foo}],
           retainKeysMergingList: [{$retainKeys: [name], name: foo, value: null}]}
  modified: {retainKeysMergingList: [{name: bar}, {name: foo}]}
  threeWay: {$setElementOrder/retainKeysMergingList: [{name: bar}, {name: foo}],
             retainKeysMergingList: [{$retainKeys: [name], name: foo, value: null}]}
  result: {retainKeysMergingList: [{name: bar}, {name: foo}]}
- description: delete and reorder in one list, reorder in another
  original: {mergingList: [{name: a, value: a}, {name: b, value: b}],
             mergeItemPtr: [{name: c, value: c}, {name: d, value: d}]}
  current: {mergingList: [{name: a, value: a}, {name: b, value: b}],
            mergeItemPtr: [{name: c, value: c}, {name: d, value: d}]}
  twoWay: {$setElementOrder/mergingList: [{name: b}], $setElementOrder/mergeItemPtr: [{name: d}, {name: c}],
           mergingList: [{$patch: delete, name: a}]}
  modified: {mergingList: [{name: b, value: b}], mergeItemPtr: [{name: d, value: d}, {name: c, value: c}]}
  threeWay: {$setElementOrder/mergingList: [{name: b}], $setElementOrder/mergeItemPtr: [{name: d}, {name: c}],
             mergingList: [{$patch: delete, name: a}]}
  result: {mergingList: [{name: b, value: b}], mergeItemPtr: [{name: d, value: d}, {name: c, value: c}]}
- description: replace RawExtension field and merge list
  original: {name: my-object, value: some-value, other: current-other, mergingList: [{name: 1}],
             replacingItem: {Some: Generic, Yaml: Inside, The: RawExtension, Field: Period}}
  current: {name: my-object, value: some-value, other: current-other, mergingList: [{name: 1}, {name: 3}],
            replacingItem: {Some: Generic, Yaml: Inside, The: RawExtension, Field: Period}}
  twoWay: {$setElementOrder/mergingList: [{name: 1}, {name: 2}], mergingList: [{name: 2}],
           replacingItem: {Newly: Modified, Yaml: Inside, The: RawExtension}}
  twoWayResult: {name: my-object, value: some-value, other: current-other, mergingList: [{name: 1}, {name: 2}],
                 replacingItem: {Newly: Modified, Yaml: Inside, The: RawExtension}}
  threeWay: {$setElementOrder/mergingList: [{name: 1}, {name: 2}], mergingList: [{name: 2}],
             replacingItem: {Newly: Modified, Yaml: Inside, The: RawExtension}}
  result: {name: my-object, value: some-value, other: current-other, mergingList: [{name: 1}, {name: 2}, {name: 3}],
           replacingItem: {Newly: Modified, Yaml: Inside, The: RawExtension}}
"""

# TestUnknownField: null handling for fields the schema does not know.
UNKNOWN_FIELD_CASES = """
- description: no diff even if modified null
  original: {array: [1, 2, 3], complex: {nested: true}, name: foo, scalar: true}
  twoWay: {complex_nullable: {key: null}}
  twoWayResult: {array: [1, 2, 3], complex: {nested: true}, complex_nullable: {}, name: foo, scalar: true}
- description: discard nulls in nested and adds not nulls
  original: {array: [1, 2, 3], complex: {nested: true}, name: foo, scalar: true}
  twoWay: {complex_nullable: {key: {keynotnull: value, keynull: null}}}
  twoWayResult: {array: [1, 2, 3], complex: {nested: true}, complex_nullable: {key: {keynotnull: value}},
                 name: foo, scalar: true}
- description: null values in original are preserved
  original: {thing: null}
  twoWay: {nested: {value: 5}}
  twoWayResult: {nested: {value: 5}, thing: null}
- description: nested null values in original are preserved
  original: {complex: {key: null}, thing: null}
  twoWay: {nested: {value: 5}}
  twoWayResult: {complex: {key: null}, nested: {value: 5}, thing: null}
- description: add empty slices
  original: {name: foo}
  twoWay: {complex_nullable: []}
  twoWayResult: {name: foo, complex_nullable: []}
- description: filter nulls from nested slices
  original: {}
  twoWay: {complex_nullable: [{inner_one: {key_one: foo, key_two: null}}]}
  twoWayResult: {complex_nullable: [{inner_one: {key_one: foo}}]}
- description: filter if slice is all empty
  original: {}
  twoWay: {complex_nullable: [{inner_one: {key_one: null, key_two: null}}]}
  twoWayResult: {complex_nullable: [{inner_one: {}}]}
- description: not filter nulls from non-associative slice
  original: {}
  twoWay: {complex_nullable: [key1, null, key2]}
  twoWayResult: {complex_nullable: [key1, null, key2]}
- description: removed only
  original: {name: foo, scalar: true, complex: {nested: true}, array: [1, 2, 3]}
  twoWay: {complex: null, scalar: null}
  twoWayResult: {array: [1, 2, 3], name: foo}
"""


def _apply_case(original: Any, patch: Any, sort: bool) -> Any:
    original = original or {}
    if sort:
        original, patch = _sort_merge_lists(original, MERGE_ITEM), _sort_merge_lists(patch, MERGE_ITEM)
    before_o, before_p = copy.deepcopy(original), copy.deepcopy(patch)
    out = strategic_merge_patch(original, patch, MERGE_ITEM)
    assert original == before_o and patch == before_p, "inputs must not be modified"
    return out


def _check_case(case: dict[str, Any], sort: bool) -> None:
    expected = case.get("twoWayResult", case.get("modified"))
    if case.get("error"):
        with pytest.raises(errors.StatusError) as ei:
            _apply_case(case.get("original"), case["twoWay"], sort)
        assert case["error"] in ei.value.message
        return
    got = _apply_case(case.get("original"), case["twoWay"], sort)
    assert got == (_sort_merge_lists(expected, MERGE_ITEM) if sort else expected)
    if "threeWay" in case:
        got = _apply_case(case.get("current"), case["threeWay"], sort)
        assert got == (_sort_merge_lists(case["result"], MERGE_ITEM) if sort else case["result"])


@pytest.mark.parametrize("case", _cases(CUSTOM_CASES))
def test_upstream_custom_cases(case: dict[str, Any]) -> None:
    _check_case(case, sort=False)


@pytest.mark.parametrize("case", _cases(CREATE_CASES))
def test_upstream_create_cases(case: dict[str, Any]) -> None:
    _check_case(case, sort=True)


@pytest.mark.parametrize("case", _cases(RAW_CASES))
def test_upstream_raw_cases(case: dict[str, Any]) -> None:
    _check_case(case, sort=False)


@pytest.mark.parametrize("case", _cases(UNKNOWN_FIELD_CASES))
def test_upstream_unknown_field_cases(case: dict[str, Any]) -> None:
    _check_case(case, sort=False)


def test_schema_none_is_merge_semantics() -> None:
    obj = {"a": {"b": 1, "c": [1, 2]}, "l": [{"name": "x", "v": 1}]}
    patch = {"a": {"c": [3], "d": None, "e": "new"}, "l": [{"name": "x", "w": 2}]}
    assert strategic_merge_patch(obj, patch, None) == {"a": {"b": 1, "c": [3], "e": "new"},
                                                       "l": [{"name": "x", "w": 2}]}
    # directives still apply without a schema
    assert strategic_merge_patch(obj, {"a": {"$patch": "replace", "z": 1}}, None) == {"a": {"z": 1}, "l": obj["l"]}
    assert strategic_merge_patch(obj, {"a": {"$patch": "delete"}}, None) == {"a": {}, "l": obj["l"]}
    # an order directive for a field no schema describes is ignored; the list is replaced
    assert strategic_merge_patch({"l": [1, 2]}, {"$setElementOrder/l": [3, 2], "l": [3, 2]}, None) == {"l": [3, 2]}


# ---------------------------------------------------------------------------------------------
# strategic merge patch errors (status codes from apiserver interpretStrategicMergePatchError)


@pytest.mark.parametrize(
    ("original", "patch", "code", "message"),
    [
        ({"mergingList": [{"name": "1", "value": "a"}]}, {"mergingList": [{"value": "b"}]}, 500,
         "map: map[value:b] does not contain declared merge key: name"),
        ({"retainKeysMap": {"name": "a"}}, {"retainKeysMap": {"$retainKeys": ["name"], "value": "x"}}, 400,
         "invalid patch format of retainKeys"),
        ({"retainKeysMap": {"name": "a"}}, {"retainKeysMap": {"$retainKeys": "name"}}, 400,
         "invalid patch format of retainKeys"),
        ({"mergingList": [{"name": "1"}]}, {"$setElementOrder/mergingList": "x"}, 500,
         "expected a []interface {}, but received a string"),
        ({}, {"$setElementOrderfoo": []}, 400, "invalid patch format of setElementOrder list"),
        ({}, {"$deleteFromPrimitiveListfoo": [1]}, 400, "invalid patch format of primitive list"),
        ({"simpleMap": {"a": "b"}}, {"simpleMap": {"$patch": "merge"}}, 500,
         "unknown patch type: merge in map: map[$patch:merge]"),
        ({"mergingList": [{"name": "1"}]}, {"mergingList": [{"name": "1", "$patch": "merge"}]}, 500,
         "merging lists cannot yet be specified in the patch"),
        ({"mergingList": [{"name": "1"}]}, {"mergingList": [{"name": "1", "$patch": "bogus"}]}, 500,
         "unknown patch type: bogus in map: map[$patch:bogus name:1]"),
        ({"mergingIntList": [[1]]}, {"mergingIntList": [[2]]}, 422, "lists of lists are not supported"),
        ({"mergingIntList": [1]}, {"mergingIntList": ["a"]}, 500, "list element types are not identical: [[1] [a]]"),
        ({"mergingIntList": [1, 3, 2]}, {"$setElementOrder/mergingIntList": [1, 2, 3], "mergingIntList": [3, 1]},
         500, "the order in patch list:\n[3 1]\n doesn't match $setElementOrder list:\n[1 2 3]"),
    ],
)
def test_smp_errors(original: dict[str, Any], patch: dict[str, Any], code: int, message: str) -> None:
    with pytest.raises(errors.StatusError) as ei:
        strategic_merge_patch(original, patch, MERGE_ITEM)
    assert ei.value.code == code
    if code == 422:
        assert ei.value.reason == "Invalid"
        assert ei.value.message == "the server rejected our request due to an error in our request"
        assert ei.value.details == {}
        assert str(ei.value.__cause__) == message
    else:
        assert ei.value.message == message
        assert ei.value.reason == ("BadRequest" if code == 400 else "")


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.5, "1.5"), (100.0, "100"), (123456.0, "123456"), (1234567.0, "1.234567e+06"), (1e21, "1e+21"),
     (0.0001, "0.0001"), (0.00001, "1e-05"), (-2.5e-7, "-2.5e-07"), (0.0, "0")],
)
def test_go_float_formatting_in_messages(value: float, text: str) -> None:
    """Error messages print decoded values the way Go's %v does (map[name:1e+06])."""
    with pytest.raises(errors.StatusError) as ei:
        strategic_merge_patch({"mergingList": [{"name": "a"}]}, {"mergingList": [{"value": value}]}, MERGE_ITEM)
    assert ei.value.message == f"map: map[value:{text}] does not contain declared merge key: name"


@pytest.mark.parametrize("body", [[1], "x", 3, True])
def test_smp_body_must_be_an_object(body: Any) -> None:
    with pytest.raises(errors.StatusError) as ei:
        strategic_merge_patch({}, body, None)
    assert ei.value.code == 400
    assert ei.value.message.endswith("into Go value of type map[string]interface {}")


# ---------------------------------------------------------------------------------------------
# kubectl against the real schemas


def _deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "default", "labels": {"app": "nginx"},
                     "annotations": {"deployment.kubernetes.io/revision": "1"},
                     "finalizers": ["a.example/x", "b.example/y"]},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "nginx"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.24",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "resources": {},
                            "terminationMessagePath": "/dev/termination-log",
                            "imagePullPolicy": "IfNotPresent",
                        },
                        {"name": "sidecar", "image": "busybox", "args": ["sleep", "inf"]},
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                    "restartPolicy": "Always",
                },
            },
        },
    }


def _smp_deploy(patch: dict[str, Any]) -> dict[str, Any]:
    obj = _deployment()
    out = strategic_merge_patch_for(obj, patch, "apps", "v1", "Deployment")
    assert obj == _deployment(), "input must not be modified"
    return out


def test_kubectl_set_image() -> None:
    out = _smp_deploy({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}],
        "containers": [{"image": "nginx:1.25", "name": "nginx"}]}}}})
    want = _deployment()
    want["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.25"
    # the sidecar is server-only for this patch: kept, after the patch's containers
    assert out == want


def test_kubectl_client_side_apply_replicas_and_label() -> None:
    last = '{"apiVersion":"apps/v1","kind":"Deployment"}\n'
    out = _smp_deploy({"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": last},
                                    "labels": {"tier": "web"}}, "spec": {"replicas": 4}})
    want = _deployment()
    want["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = last
    want["metadata"]["labels"]["tier"] = "web"
    want["spec"]["replicas"] = 4
    assert out == want


def test_kubectl_apply_removes_container() -> None:
    out = _smp_deploy({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}],
        "containers": [{"$patch": "delete", "name": "sidecar"}]}}}})
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["nginx"]
    assert out["spec"]["template"]["spec"]["containers"][0] == _deployment()["spec"]["template"]["spec"]["containers"][0]


def test_kubectl_apply_adds_container_in_order() -> None:
    out = _smp_deploy({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "init"}, {"name": "nginx"}, {"name": "sidecar"}],
        "containers": [{"name": "init", "image": "alpine", "command": None}]}}}})
    cs = out["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in cs] == ["init", "nginx", "sidecar"]
    assert cs[0] == {"name": "init", "image": "alpine"}  # nulls in new values are dropped


def test_ports_merge_by_container_port() -> None:
    out = _smp_deploy({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
        "containers": [{"name": "nginx", "$setElementOrder/ports": [{"containerPort": 80}, {"containerPort": 443}],
                        "ports": [{"containerPort": 443, "name": "https"}]}]}}}})
    ports = out["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert ports == [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443, "name": "https"}]
    out = _smp_deploy({"spec": {"template": {"spec": {"containers": [
        {"name": "nginx", "ports": [{"containerPort": 80, "name": "http"}]}]}}}})
    assert out["spec"]["template"]["spec"]["containers"][0]["ports"] == [
        {"containerPort": 80, "protocol": "TCP", "name": "http"}]


def test_env_merge_by_name() -> None:
    out = _smp_deploy({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
        "containers": [{"name": "nginx",
                        "$setElementOrder/env": [{"name": "B"}, {"name": "C"}],
                        "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"},
                                {"$patch": "delete", "name": "A"}]}]}}}})
    nginx = out["spec"]["template"]["spec"]["containers"][0]
    assert nginx["env"] == [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]
    assert nginx["image"] == "nginx:1.24"
    # a non-merge list (args) is replaced wholesale
    out = _smp_deploy({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "args": ["true"]}]}}}})
    assert out["spec"]["template"]["spec"]["containers"][1]["args"] == ["true"]


@pytest.mark.parametrize("rolling_update_null", [False, True])
def test_strategy_switch_to_recreate_retain_keys(rolling_update_null: bool) -> None:
    strategy: dict[str, Any] = {"$retainKeys": ["type"], "type": "Recreate"}
    if rolling_update_null:
        strategy["rollingUpdate"] = None
    out = _smp_deploy({"spec": {"strategy": strategy}})
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    # without the directive the union keeps the stale member, as upstream does
    out = _smp_deploy({"spec": {"strategy": {"type": "Recreate"}}})
    assert out["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": "25%", "maxSurge": "25%"}


def test_volume_source_switch_merge_retain_keys() -> None:
    out = _smp_deploy({"spec": {"template": {"spec": {
        "$setElementOrder/volumes": [{"name": "data"}],
        "volumes": [{"$retainKeys": ["configMap", "name"], "name": "data", "configMap": {"name": "cm"}}]}}}})
    assert out["spec"]["template"]["spec"]["volumes"] == [{"name": "data", "configMap": {"name": "cm"}}]


def test_finalizers_primitive_merge_and_delete() -> None:
    out = _smp_deploy({"metadata": {"finalizers": ["c.example/z"]}})
    assert out["metadata"]["finalizers"] == ["c.example/z", "a.example/x", "b.example/y"]
    out = _smp_deploy({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example/x"]}})
    assert out["metadata"]["finalizers"] == ["b.example/y"]


def test_labels_null_deletes_and_directives_do_not_leak() -> None:
    out = _smp_deploy({"metadata": {"labels": {"app": None}, "annotations": {"$patch": "replace", "x": "y"}}})
    assert "app" not in out["metadata"]["labels"]
    assert out["metadata"]["annotations"] == {"x": "y"}
    out = _smp_deploy({"spec": {"template": {"spec": {"containers": [
        {"name": "new", "image": "x", "env": [{"name": "E", "$patch": "delete"}, {"name": "F", "value": None}],
         "$setElementOrder/env": [{"name": "F"}]}]}}}})
    new = out["spec"]["template"]["spec"]["containers"][0]
    assert new == {"name": "new", "image": "x", "env": [{"name": "F"}]}


def test_replace_strategy_pdb_selector() -> None:
    pdb = {"spec": {"selector": {"matchLabels": {"a": "1"}, "matchExpressions": []}, "minAvailable": 1}}
    out = strategic_merge_patch_for(pdb, {"spec": {"selector": {"matchLabels": {"b": "2"}}}}, "policy", "v1",
                                    "PodDisruptionBudget")
    assert out["spec"] == {"selector": {"matchLabels": {"b": "2"}}, "minAvailable": 1}


def test_service_ports_merge_by_port() -> None:
    svc = {"spec": {"ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}], "type": "ClusterIP"}}
    out = strategic_merge_patch_for(svc, {"spec": {"ports": [{"port": 80, "targetPort": 9090},
                                                             {"port": 443, "targetPort": 8443}]}}, "", "v1", "Service")
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 9090, "protocol": "TCP"},
                                    {"port": 443, "targetPort": 8443}]


def test_unknown_kind_falls_back_to_merge_semantics() -> None:
    out = strategic_merge_patch_for({"spec": {"l": [1, 2], "m": {"a": 1}}}, {"spec": {"l": [3], "m": {"b": 2}}},
                                    "example.com", "v1", "Widget")
    assert out == {"spec": {"l": [3], "m": {"a": 1, "b": 2}}}


def test_result_shares_nothing_with_inputs() -> None:
    obj = _deployment()
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "x", "image": "y", "env": [{"name": "a"}]}]}}},
             "metadata": {"labels": {"new": "1"}, "ownerReferences": [{"uid": "u", "name": "o"}]}}
    out = strategic_merge_patch_for(obj, patch, "apps", "v1", "Deployment")
    seen = set()

    def ids(v: Any) -> None:
        if isinstance(v, (dict, list)):
            seen.add(id(v))
            for x in (v.values() if isinstance(v, dict) else v):
                ids(x)

    ids(obj)
    ids(patch)

    def check(v: Any) -> None:
        if isinstance(v, (dict, list)):
            assert id(v) not in seen
            for x in (v.values() if isinstance(v, dict) else v):
                check(x)

    check(out)


# ---------------------------------------------------------------------------------------------
# JSON patch


def test_rollout_undo_json_patch() -> None:
    obj = _deployment()
    template = {"metadata": {"labels": {"app": "nginx"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx:1.23"}]}}
    annotations = {"deployment.kubernetes.io/revision": "3"}
    out = json_patch(obj, [{"op": "replace", "path": "/spec/template", "value": template},
                           {"op": "replace", "path": "/metadata/annotations", "value": annotations}])
    assert out["spec"]["template"] == template and out["metadata"]["annotations"] == annotations
    assert obj == _deployment()
    out["spec"]["template"]["spec"]["containers"][0]["image"] = "mutated"
    assert template["spec"]["containers"][0]["image"] == "nginx:1.23", "patch values are copied"


def test_ssa_migration_json_patch_managed_fields_and_resource_version() -> None:
    obj = {"metadata": {"name": "n", "resourceVersion": "5", "managedFields": [{"manager": "old"}]}}
    mf = [{"manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]
    out = json_patch(obj, [{"op": "replace", "path": "/metadata/managedFields", "value": mf},
                           {"op": "replace", "path": "/metadata/resourceVersion", "value": "7"}])
    assert out["metadata"] == {"name": "n", "resourceVersion": "7", "managedFields": mf}


@pytest.mark.parametrize(
    ("ops", "want"),
    [
        ([{"op": "add", "path": "/a/-", "value": 9}], {"a": [1, 2, 3, 9], "o": {"k": "v"}}),
        ([{"op": "add", "path": "/a/0", "value": 0}], {"a": [0, 1, 2, 3], "o": {"k": "v"}}),
        ([{"op": "add", "path": "/a/-1", "value": 9}], {"a": [1, 2, 3, 9], "o": {"k": "v"}}),
        ([{"op": "add", "path": "/o/x~1y", "value": 1}], {"a": [1, 2, 3], "o": {"k": "v", "x/y": 1}}),
        ([{"op": "add", "path": "/o/t~0", "value": 1}], {"a": [1, 2, 3], "o": {"k": "v", "t~": 1}}),
        ([{"op": "add", "path": "/o/k"}], {"a": [1, 2, 3], "o": {"k": None}}),
        ([{"op": "remove", "path": "/a/1"}], {"a": [1, 3], "o": {"k": "v"}}),
        ([{"op": "remove", "path": "/a/-1"}], {"a": [1, 2], "o": {"k": "v"}}),
        ([{"op": "replace", "path": "/a/0", "value": "x"}], {"a": ["x", 2, 3], "o": {"k": "v"}}),
        ([{"op": "replace", "path": "/o/new", "value": 1}], {"a": [1, 2, 3], "o": {"k": "v", "new": 1}}),
        ([{"op": "move", "from": "/o/k", "path": "/m"}], {"a": [1, 2, 3], "o": {}, "m": "v"}),
        ([{"op": "move", "from": "/a/0", "path": "/a/-"}], {"a": [2, 3, 1], "o": {"k": "v"}}),
        ([{"op": "copy", "from": "/o", "path": "/p"}], {"a": [1, 2, 3], "o": {"k": "v"}, "p": {"k": "v"}}),
        ([{"op": "test", "path": "/a", "value": [1, 2, 3]}, {"op": "test", "path": "/o/k", "value": "v"},
          {"op": "test", "path": "/missing", "value": None}], {"a": [1, 2, 3], "o": {"k": "v"}}),
        ([{"op": "test", "path": "", "value": {"a": [1, 2, 3], "o": {"k": "v"}}}], {"a": [1, 2, 3], "o": {"k": "v"}}),
        (None, {"a": [1, 2, 3], "o": {"k": "v"}}),
        ([], {"a": [1, 2, 3], "o": {"k": "v"}}),
    ],
)
def test_json_patch_ops(ops: Any, want: dict[str, Any]) -> None:
    doc = {"a": [1, 2, 3], "o": {"k": "v"}}
    assert json_patch(doc, ops) == want
    assert doc == {"a": [1, 2, 3], "o": {"k": "v"}}


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        ([{"op": "test", "path": "/spec/replicas", "value": 2}], "testing value /spec/replicas failed: test failed"),
        ([{"op": "test", "path": "/spec/replicas", "value": 3.0}], "testing value /spec/replicas failed: test failed"),
        ([{"op": "test", "path": "/spec/missing", "value": 1}], "testing value /spec/missing failed: test failed"),
        ([{"op": "test", "path": "/nope/x", "value": 1}], "test operation does not apply: is missing path: /nope/x: missing value"),
        ([{"op": "add", "path": "/a/b/c", "value": 1}], 'add operation does not apply: doc is missing path: "/a/b/c": missing value'),
        ([{"op": "add", "path": "/spec/replicas/x", "value": 1}],
         'add operation does not apply: doc is missing path: "/spec/replicas/x": missing value'),
        ([{"op": "add", "path": "", "value": 1}], 'add operation does not apply: doc is missing path: "": missing value'),
        ([{"op": "remove", "path": "/metadata/labels/x"}],
         "error in remove for path: '/metadata/labels/x': Unable to remove nonexistent key: x: missing value"),
        ([{"op": "remove", "path": "/metadata/nope/x"}],
         'remove operation does not apply: doc is missing path: "/metadata/nope/x": missing value'),
        ([{"op": "replace", "path": "/spec/template/spec/containers/5", "value": {}}],
         "replace operation does not apply: doc is missing key: /spec/template/spec/containers/5: missing value"),
        ([{"op": "replace", "path": "/x/y", "value": 1}], "replace operation does not apply: doc is missing path: /x/y: missing value"),
        ([{"op": "add", "path": "/spec/template/spec/containers/5", "value": {}}],
         "error in add for path: '/spec/template/spec/containers/5': Unable to access invalid index: 5: invalid index referenced"),
        ([{"op": "add", "path": "/spec/template/spec/containers/x", "value": {}}],
         "error in add for path: '/spec/template/spec/containers/x': value was not a proper array index: 'x': "
         'strconv.Atoi: parsing "x": invalid syntax'),
        ([{"op": "remove", "path": "/spec/template/spec/containers/2"}],
         "error in remove for path: '/spec/template/spec/containers/2': Unable to access invalid index: 2: invalid index referenced"),
        ([{"op": "move", "from": "/spec/nope", "path": "/x"}],
         "error in move for path: 'nope': Unable to remove nonexistent key: nope: missing value"),
        ([{"op": "move", "from": "/a/b", "path": "/x"}], "move operation does not apply: doc is missing from path: /a/b: missing value"),
        ([{"op": "move", "path": "/x"}], "move operation failed to decode from: operation, missing from field: missing value"),
        ([{"op": "copy", "from": "/spec", "path": "/a/b"}],
         "copy operation does not apply: doc is missing destination path: /a/b: missing value"),
        ([{"op": "add", "value": 1}], "add operation failed to decode path: missing value"),
        ([{"op": "replace", "value": 1}], "replace operation failed to decode path: operation missing path field: missing value"),
        ([{"op": "replace", "path": 5, "value": 1}],
         "replace operation failed to decode path: json: cannot unmarshal number into Go value of type string"),
        ([{"op": "frobnicate", "path": "/x"}], "Unexpected kind: frobnicate"),
        ([{"path": "/x"}], "Unexpected kind: unknown"),
        ([{"op": "add", "path": "/ok", "value": 1}, {"op": "test", "path": "/ok", "value": 2}],
         "testing value /ok failed: test failed"),
    ],
)
def test_json_patch_errors(ops: list[Any], message: str) -> None:
    obj = _deployment()
    with pytest.raises(errors.StatusError) as ei:
        json_patch(obj, ops)
    e = ei.value
    assert (e.code, e.reason) == (422, "Invalid")
    # upstream sends no detail (kubectl: "The request is invalid: the server rejected our request ...");
    # the library message rides along as the cause for logs
    assert e.status() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                          "message": "the server rejected our request due to an error in our request",
                          "reason": "Invalid", "details": {}, "code": 422}
    assert str(e.__cause__) == message
    assert obj == _deployment()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"op": "add"}, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"),
        ("x", "json: cannot unmarshal string into Go value of type jsonpatch.Patch"),
        ([1], "json: cannot unmarshal number into Go value of type jsonpatch.Operation"),
        (["x"], "json: cannot unmarshal string into Go value of type jsonpatch.Operation"),
    ],
)
def test_json_patch_malformed_document(body: Any, message: str) -> None:
    with pytest.raises(errors.StatusError) as ei:
        json_patch({}, body)
    assert (ei.value.code, ei.value.reason, ei.value.message) == (400, "BadRequest", message)


def test_json_patch_too_many_operations() -> None:
    with pytest.raises(errors.StatusError) as ei:
        json_patch({}, [{"op": "test", "path": "/x"}] * 10001)
    assert ei.value.code == 413
    assert ei.value.message == ("Request entity too large: The allowed maximum operations in a JSON patch is 10000, "
                                "got 10001")


# ---------------------------------------------------------------------------------------------
# merge patch (RFC 7386 appendix A, evanphx quirks)


@pytest.mark.parametrize(
    ("target", "patch", "want"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
        ({}, {"a": [{"b": None, "c": 1}, None]}, {"a": [{"c": 1}, None]}),
        ({"a": {"x": 1}}, {"a": [{"b": None}]}, {"a": [{"b": None}]}),
        ({"spec": {"replicas": 3, "paused": True}}, {"spec": {"replicas": 5}}, {"spec": {"replicas": 5, "paused": True}}),
    ],
)
def test_merge_patch(target: dict[str, Any], patch: dict[str, Any], want: dict[str, Any]) -> None:
    before = copy.deepcopy((target, patch))
    out = merge_patch(target, patch)
    assert out == want
    assert (target, patch) == before


@pytest.mark.parametrize("body", [None, "x", 1])
def test_merge_patch_rejects_non_objects(body: Any) -> None:
    with pytest.raises(errors.StatusError) as ei:
        merge_patch({"a": 1}, body)
    assert (ei.value.code, ei.value.message) == (400, "Invalid JSON Patch")


def test_merge_patch_array_body_is_invalid() -> None:
    with pytest.raises(errors.StatusError) as ei:
        merge_patch({"a": 1}, ["c"])
    assert ei.value.code == 422
