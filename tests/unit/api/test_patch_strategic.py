"""Strategic merge patch, checked against the semantics of Kubernetes' apimachinery strategicpatch."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from edgeplane.api.patch import PatchError, apply_strategic_merge_patch


class DictMeta:
    """Patch metadata read from a plain dict: {"key": merge key, "strategy": [...], "fields": {...}, "items": {...}}."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self._spec = spec

    @property
    def merge_key(self) -> str | None:
        return self._spec.get("key")

    @property
    def strategies(self) -> tuple[str, ...]:
        return tuple(self._spec.get("strategy", ()))

    def field(self, name: str) -> DictMeta | None:
        child = self._spec.get("fields", {}).get(name)
        return None if child is None else DictMeta(child)

    def items(self) -> DictMeta | None:
        child = self._spec.get("items")
        return None if child is None else DictMeta(child)


# The merge keys and strategies Kubernetes declares on these fields (core/v1, apps/v1, meta/v1).
MERGE = ["merge"]
STRING_MAP: dict[str, Any] = {"items": {}}
CONTAINER = {
    "fields": {
        "env": {"key": "name", "strategy": MERGE, "items": {}},
        "ports": {"key": "containerPort", "strategy": MERGE, "items": {}},
        "volumeMounts": {"key": "mountPath", "strategy": MERGE, "items": {}},
        "resources": {"fields": {"limits": STRING_MAP, "requests": STRING_MAP}},
    }
}
POD_SPEC = {
    "fields": {
        "containers": {"key": "name", "strategy": MERGE, "items": CONTAINER},
        "initContainers": {"key": "name", "strategy": MERGE, "items": CONTAINER},
        "volumes": {"key": "name", "strategy": ["merge", "retainKeys"], "items": {}},
        "imagePullSecrets": {"key": "name", "strategy": MERGE, "items": {}},
        "nodeSelector": STRING_MAP,
    }
}
OBJECT_META = {
    "fields": {
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
        "finalizers": {"strategy": MERGE},
        "ownerReferences": {"key": "uid", "strategy": MERGE, "items": {}},
    }
}
POD = DictMeta({"fields": {"metadata": OBJECT_META, "spec": POD_SPEC}})
DEPLOYMENT = DictMeta(
    {
        "fields": {
            "metadata": OBJECT_META,
            "spec": {
                "fields": {
                    "template": {"fields": {"metadata": OBJECT_META, "spec": POD_SPEC}},
                    "strategy": {"strategy": ["retainKeys"]},
                }
            },
            "status": {"fields": {"conditions": {"key": "type", "strategy": MERGE, "items": {}}}},
        }
    }
)


def containers(*names: str, **images: str) -> list[dict[str, str]]:
    return [{"name": n, "image": images.get(n, f"{n}:1")} for n in names]


def pod(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "labels": {"app": "web"}}, "spec": spec}


CASES: list[tuple[str, dict, dict, dict]] = [
    (
        "maps merge recursively and null deletes",
        {"metadata": {"labels": {"app": "web", "tier": "fe"}}},
        {"metadata": {"labels": {"tier": None, "track": "stable"}}},
        {"metadata": {"labels": {"app": "web", "track": "stable"}}},
    ),
    ("null for a missing key is ignored", {"spec": {}}, {"spec": {"nodeName": None}}, {"spec": {}}),
    (
        "nulls inside a new value are dropped",
        {"metadata": {}},
        {"metadata": {"annotations": {"a": None, "b": "1"}}},
        {"metadata": {"annotations": {"b": "1"}}},
    ),
    (
        "containers merge by name, keeping the others",
        pod(containers=containers("a", "b")),
        {"spec": {"containers": [{"name": "b", "image": "b:2"}]}},
        pod(containers=containers("a", "b", b="b:2")),
    ),
    (
        # Kubernetes puts patch items the server lacks first unless $setElementOrder says otherwise.
        "a new container goes first",
        pod(containers=containers("a")),
        {"spec": {"containers": [{"name": "z", "image": "z:1"}]}},
        pod(containers=containers("z", "a")),
    ),
    (
        "$patch: delete removes the item with that merge key",
        pod(containers=containers("a", "b", "c")),
        {"spec": {"containers": [{"name": "b", "$patch": "delete"}]}},
        pod(containers=containers("a", "c")),
    ),
    (
        "$patch: replace in a list replaces it with the other items",
        pod(containers=containers("a", "b")),
        {"spec": {"containers": [{"$patch": "replace"}, {"name": "x", "image": "x:1"}]}},
        pod(containers=containers("x")),
    ),
    (
        "$patch: replace in a map replaces the map",
        pod(nodeSelector={"zone": "a", "disk": "ssd"}),
        {"spec": {"nodeSelector": {"$patch": "replace", "zone": "b"}}},
        pod(nodeSelector={"zone": "b"}),
    ),
    (
        "$patch: delete in a map empties it",
        pod(affinity={"nodeAffinity": {"x": 1}}),
        {"spec": {"affinity": {"$patch": "delete"}}},
        pod(affinity={}),
    ),
    (
        "$patch: delete of a map the object lacks adds nothing",
        pod(),
        {"spec": {"affinity": {"$patch": "delete"}}},
        pod(),
    ),
    (
        "env merges by name inside a container; server-only items keep their place",
        pod(containers=[{"name": "a", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]}]),
        {
            "spec": {
                "containers": [
                    {"name": "a", "env": [{"name": "Y", "value": "3"}, {"name": "Z", "value": "4"}]}
                ]
            }
        },
        pod(
            containers=[
                {
                    "name": "a",
                    "env": [
                        {"name": "X", "value": "1"},
                        {"name": "Y", "value": "3"},
                        {"name": "Z", "value": "4"},
                    ],
                }
            ]
        ),
    ),
    (
        "ports merge by containerPort",
        pod(containers=[{"name": "a", "ports": [{"containerPort": 80, "name": "http"}]}]),
        {
            "spec": {
                "containers": [
                    {"name": "a", "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443}]}
                ]
            }
        },
        pod(
            containers=[
                {
                    "name": "a",
                    "ports": [
                        {"containerPort": 80, "name": "http", "protocol": "TCP"},
                        {"containerPort": 443},
                    ],
                }
            ]
        ),
    ),
    (
        "volumeMounts merge by mountPath",
        pod(containers=[{"name": "a", "volumeMounts": [{"mountPath": "/d", "name": "v1"}]}]),
        {"spec": {"containers": [{"name": "a", "volumeMounts": [{"mountPath": "/d", "readOnly": True}]}]}},
        pod(
            containers=[{"name": "a", "volumeMounts": [{"mountPath": "/d", "name": "v1", "readOnly": True}]}]
        ),
    ),
    (
        "tolerations have no merge key: the list is replaced",
        pod(tolerations=[{"key": "a", "operator": "Exists"}]),
        {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}},
        pod(tolerations=[{"key": "b", "operator": "Exists"}]),
    ),
    (
        "primitive merge list: union, patch order first, server-only kept",
        {"metadata": {"finalizers": ["a", "b"]}},
        {"metadata": {"finalizers": ["c", "a"]}},
        {"metadata": {"finalizers": ["c", "a", "b"]}},
    ),
    (
        "$deleteFromPrimitiveList removes values",
        {"metadata": {"finalizers": ["a", "b", "c"]}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "zz"]}},
        {"metadata": {"finalizers": ["a", "c"]}},
    ),
    (
        "$deleteFromPrimitiveList on a missing list does nothing",
        {"metadata": {}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}},
        {"metadata": {}},
    ),
    (
        "$setElementOrder reorders a merge list without changing it",
        pod(containers=containers("a", "b", "c")),
        {"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}]}},
        pod(containers=containers("c", "a", "b")),
    ),
    (
        "$setElementOrder places a new item where the directive says",
        pod(containers=containers("a", "b")),
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "a"}, {"name": "n"}, {"name": "b"}],
                "containers": [{"name": "n", "image": "n:1"}],
            }
        },
        pod(containers=containers("a", "n", "b")),
    ),
    (
        "$setElementOrder keeps server-only items near their live neighbours",
        pod(containers=containers("a", "s", "b")),
        {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}},
        pod(containers=containers("s", "b", "a")),
    ),
    (
        "$setElementOrder for a primitive list with additions and deletions",
        {"metadata": {"finalizers": ["a", "b", "c"]}},
        {
            "metadata": {
                "$setElementOrder/finalizers": ["c", "d", "a"],
                "$deleteFromPrimitiveList/finalizers": ["b"],
                "finalizers": ["d"],
            }
        },
        {"metadata": {"finalizers": ["c", "d", "a"]}},
    ),
    (
        "$setElementOrder creates a list the object lacks",
        pod(),
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                "containers": containers("b", "a"),
            }
        },
        pod(containers=containers("b", "a")),
    ),
    (
        "$retainKeys clears the fields of a union being switched",
        {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}},
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
        {"spec": {"strategy": {"type": "Recreate"}}},
    ),
    (
        "$retainKeys on a volume switches its source",
        pod(volumes=[{"name": "v", "emptyDir": {}}, {"name": "w", "emptyDir": {}}]),
        {
            "spec": {
                "volumes": [{"name": "v", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/x"}}]
            }
        },
        pod(volumes=[{"name": "v", "hostPath": {"path": "/x"}}, {"name": "w", "emptyDir": {}}]),
    ),
    (
        "conditions merge by type",
        {
            "status": {
                "conditions": [
                    {"type": "Available", "status": "False"},
                    {"type": "Progressing", "status": "True"},
                ]
            }
        },
        {"status": {"conditions": [{"type": "Available", "status": "True"}]}},
        {
            "status": {
                "conditions": [
                    {"type": "Available", "status": "True"},
                    {"type": "Progressing", "status": "True"},
                ]
            }
        },
    ),
    (
        "unknown list fields are replaced, unknown maps merged",
        {"spec": {"extra": [1, 2], "blob": {"a": 1}}},
        {"spec": {"extra": [3], "blob": {"b": 2}}},
        {"spec": {"extra": [3], "blob": {"a": 1, "b": 2}}},
    ),
    (
        "a value of another type replaces",
        {"spec": {"x": {"a": 1}, "y": [1]}},
        {"spec": {"x": [1], "y": "s"}},
        {"spec": {"x": [1], "y": "s"}},
    ),
    (
        "new list items are cleaned of nulls and directives",
        pod(containers=containers("a")),
        {"spec": {"containers": [{"name": "n", "image": None, "env": [{"name": "E", "$patch": "delete"}]}]}},
        pod(containers=[{"name": "n", "env": []}, *containers("a")]),
    ),
    (
        "kubectl apply: change image, delete an env var, keep order",
        {
            "metadata": {"name": "web", "annotations": {"old": "x"}},
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": "nginx:1.25",
                                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            }
                        ]
                    }
                }
            },
        },
        {
            "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}\n"}},
            "spec": {
                "template": {
                    "spec": {
                        "$setElementOrder/containers": [{"name": "web"}],
                        "containers": [
                            {
                                "$setElementOrder/env": [{"name": "A"}],
                                "env": [{"$patch": "delete", "name": "B"}],
                                "image": "nginx:1.26",
                                "name": "web",
                            }
                        ],
                    }
                }
            },
        },
        {
            "metadata": {
                "name": "web",
                "annotations": {"old": "x", "kubectl.kubernetes.io/last-applied-configuration": "{}\n"},
            },
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "web", "image": "nginx:1.26", "env": [{"name": "A", "value": "1"}]}
                        ]
                    }
                }
            },
        },
    ),
    (
        "top-level $patch: replace replaces the document",
        {"a": 1, "b": {"c": 2}},
        {"$patch": "replace", "b": {"d": 3}},
        {"b": {"d": 3}},
    ),
]


@pytest.mark.parametrize(("name", "original", "patch", "expected"), CASES, ids=[c[0] for c in CASES])
def test_strategic_merge_patch(name: str, original: dict, patch: dict, expected: dict) -> None:
    meta = (
        DEPLOYMENT
        if "template" in original.get("spec", {}) or "strategy" in original.get("spec", {})
        else POD
    )
    if "status" in original:
        meta = DEPLOYMENT
    before_original, before_patch = copy.deepcopy(original), copy.deepcopy(patch)
    assert apply_strategic_merge_patch(original, patch, meta) == expected
    assert (original, patch) == (before_original, before_patch), "inputs must not change"


def test_result_shares_nothing_with_the_inputs() -> None:
    original = pod(containers=containers("a"))
    patch = {"spec": {"containers": [{"name": "b", "env": [{"name": "E"}]}]}}
    result = apply_strategic_merge_patch(original, patch, POD)
    result["spec"]["containers"][1]["image"] = "mutated"
    result["spec"]["containers"][0]["env"].append({"name": "F"})
    assert original == pod(containers=containers("a"))
    assert patch == {"spec": {"containers": [{"name": "b", "env": [{"name": "E"}]}]}}


def test_without_meta_it_is_a_json_merge_patch() -> None:
    original = {"spec": {"containers": containers("a", "b"), "x": {"y": 1}}}
    patch = {"spec": {"containers": [{"name": "b", "image": "b:2"}], "x": {"$patch": "replace"}}}
    assert apply_strategic_merge_patch(original, patch, None) == {
        "spec": {"containers": [{"name": "b", "image": "b:2"}], "x": {"y": 1, "$patch": "replace"}}
    }


ERRORS = [
    (
        "list item without its merge key",
        pod(containers=containers("a")),
        {"spec": {"containers": [{"image": "x"}]}},
        400,
        'map: {"image":"x"} does not contain declared merge key: name',
    ),
    (
        "$patch: delete without the merge key",
        pod(containers=containers("a")),
        {"spec": {"containers": [{"$patch": "delete"}]}},
        400,
        "does not contain declared merge key: name",
    ),
    (
        "$patch: merge in a list item",
        pod(containers=containers("a")),
        {"spec": {"containers": [{"$patch": "merge", "name": "a"}]}},
        400,
        "merging lists cannot yet be specified in the patch",
    ),
    (
        "unknown $patch in a map",
        pod(),
        {"spec": {"$patch": "bogus"}},
        400,
        'unknown patch type: bogus in map: {"$patch":"bogus"}',
    ),
    (
        "$patch: merge in a map is unknown to Kubernetes too",
        pod(),
        {"spec": {"$patch": "merge"}},
        400,
        "unknown patch type: merge",
    ),
    (
        "lists of lists",
        {"metadata": {"finalizers": ["a"]}},
        {"metadata": {"finalizers": [["b"]]}},
        422,
        'field "finalizers": lists of lists are not supported',
    ),
    (
        "mixed element types",
        {"metadata": {"finalizers": ["a"]}},
        {"metadata": {"finalizers": [1]}},
        400,
        "list element types are not identical",
    ),
    (
        "patched field missing from $retainKeys",
        {"spec": {"strategy": {"type": "RollingUpdate"}}},
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": {}}}},
        400,
        'invalid patch format of retainKeys: field "rollingUpdate" is patched but not in $retainKeys',
    ),
    (
        "$retainKeys not a list",
        {"spec": {"strategy": {}}},
        {"spec": {"strategy": {"$retainKeys": "type"}}},
        400,
        "invalid patch format of retainKeys: must be a list",
    ),
    (
        "patch list out of $setElementOrder's order",
        pod(containers=containers("a", "b")),
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                "containers": containers("b", "a"),
            }
        },
        400,
        "doesn't match $setElementOrder/containers list",
    ),
    (
        "$setElementOrder not a list",
        pod(containers=containers("a")),
        {"spec": {"$setElementOrder/containers": {"name": "a"}}},
        400,
        'invalid patch format of setElementOrder list: "$setElementOrder/containers" must be a list',
    ),
    (
        "$deleteFromPrimitiveList without a field",
        {"metadata": {"finalizers": ["a"]}},
        {"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"]}},
        400,
        "invalid patch format of primitive list",
    ),
    ("patch not an object", {}, [1], 400, "invalid strategic merge patch: must be an object, got array"),
]


@pytest.mark.parametrize(
    ("name", "original", "patch", "code", "fragment"), ERRORS, ids=[c[0] for c in ERRORS]
)
def test_strategic_merge_patch_errors(
    name: str, original: dict, patch: Any, code: int, fragment: str
) -> None:
    with pytest.raises(PatchError) as info:
        apply_strategic_merge_patch(
            original, patch, DEPLOYMENT if "strategy" in original.get("spec", {}) else POD
        )
    assert info.value.code == code
    assert fragment in info.value.message


def test_merge_list_of_maps_without_merge_key_is_rejected() -> None:
    meta = DictMeta({"fields": {"items": {"strategy": MERGE}}})
    with pytest.raises(PatchError, match='cannot merge lists without merge key for field "items"'):
        apply_strategic_merge_patch({"items": [{"a": 1}]}, {"items": [{"a": 2}]}, meta)


def test_misdeclared_strategy_is_a_server_error() -> None:
    meta = DictMeta({"fields": {"x": {"strategy": ["merge", "replace"]}}})
    with pytest.raises(PatchError) as info:
        apply_strategic_merge_patch({"x": [1]}, {"x": [2]}, meta)
    assert info.value.code == 500


# --- property: a two-way patch computed from A to B, applied to A, gives B --------------------------------


def _child(meta: DictMeta | None, key: str) -> DictMeta | None:
    if meta is None:
        return None
    return meta.field(key) or meta.items()


def two_way_patch(a: dict, b: dict, meta: DictMeta | None) -> dict:
    """A strategic merge patch from ``a`` to ``b`` as kubectl computes one, for the shapes used here."""
    patch: dict[str, Any] = {k: None for k in a if k not in b}
    for key, new in b.items():
        old = a.get(key)
        if old == new:
            continue
        field = _child(meta, key)
        if isinstance(old, dict) and isinstance(new, dict):
            patch[key] = two_way_patch(old, new, field)
        elif (
            isinstance(old, list)
            and isinstance(new, list)
            and field is not None
            and "merge" in field.strategies
        ):
            mk = field.merge_key
            if mk:
                before = {item[mk]: item for item in old}
                after = {item[mk] for item in new}
                items = []
                for item in new:
                    if item[mk] not in before:
                        items.append(item)
                    elif before[item[mk]] != item:
                        items.append({**two_way_patch(before[item[mk]], item, field.items()), mk: item[mk]})
                items += [{mk: k, "$patch": "delete"} for k in before if k not in after]
                patch[f"$setElementOrder/{key}"] = [{mk: item[mk]} for item in new]
            else:
                items = [v for v in new if v not in old]
                removed = [v for v in old if v not in new]
                if removed:
                    patch[f"$deleteFromPrimitiveList/{key}"] = removed
                patch[f"$setElementOrder/{key}"] = list(new)
            if items:
                patch[key] = items
        else:
            patch[key] = new
    return patch


def _random_pod(rng: random.Random) -> dict[str, Any]:
    def some(names: str) -> list[str]:
        chosen = [n for n in names if rng.random() < 0.6]
        rng.shuffle(chosen)
        return chosen

    spec: dict[str, Any] = {
        "containers": [
            {
                "name": n,
                "image": f"{n}:{rng.randint(1, 2)}",
                **(
                    {"env": [{"name": e, "value": str(rng.randint(0, 1))} for e in some("XYZ")]}
                    if rng.random() < 0.7
                    else {}
                ),
            }
            for n in some("abcd")
        ]
    }
    if rng.random() < 0.5:
        spec["tolerations"] = [{"key": k} for k in some("tu")]
    if rng.random() < 0.5:
        spec["nodeSelector"] = {k: "1" for k in some("pq")}
    metadata: dict[str, Any] = {"name": "p", "labels": {k: str(rng.randint(0, 1)) for k in some("lmn")}}
    if rng.random() < 0.7:
        metadata["finalizers"] = some("fgh")
    return {"metadata": metadata, "spec": spec}


def test_patch_from_a_to_b_applied_to_a_gives_b() -> None:
    rng = random.Random(7386)
    for _ in range(400):
        a, b = _random_pod(rng), _random_pod(rng)
        patch = two_way_patch(a, b, POD)
        assert apply_strategic_merge_patch(a, patch, POD) == b, patch
