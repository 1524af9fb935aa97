"""JSON patch (RFC 6902) and JSON merge patch (RFC 7386) as the API server applies them."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from edgeplane.api.patch import REJECTED, PatchError, apply_json_patch, apply_merge_patch

POD: dict[str, Any] = {
    "metadata": {"name": "web", "labels": {"app": "web", "a/b": "slash", "m~n": "tilde"}},
    "spec": {"containers": [{"name": "c0", "image": "nginx"}, {"name": "c1", "image": "redis"}]},
}

JSON_PATCH_CASES = [
    (
        "add key",
        [{"op": "add", "path": "/metadata/labels/tier", "value": "fe"}],
        ("metadata", "labels", "tier"),
        "fe",
    ),
    (
        "add replaces existing key",
        [{"op": "add", "path": "/metadata/name", "value": "x"}],
        ("metadata", "name"),
        "x",
    ),
    (
        "add appends with -",
        [{"op": "add", "path": "/spec/containers/-", "value": {"name": "c2"}}],
        ("spec", "containers", 2, "name"),
        "c2",
    ),
    (
        "add inserts at index",
        [{"op": "add", "path": "/spec/containers/0", "value": {"name": "first"}}],
        ("spec", "containers", 0, "name"),
        "first",
    ),
    (
        "add at index == length appends",
        [{"op": "add", "path": "/spec/containers/2", "value": {"name": "end"}}],
        ("spec", "containers", 2, "name"),
        "end",
    ),
    (
        "remove array item",
        [{"op": "remove", "path": "/spec/containers/0"}],
        ("spec", "containers", 0, "name"),
        "c1",
    ),
    (
        "replace",
        [{"op": "replace", "path": "/spec/containers/1/image", "value": "r7"}],
        ("spec", "containers", 1, "image"),
        "r7",
    ),
    (
        "~1 escapes a slash",
        [{"op": "replace", "path": "/metadata/labels/a~1b", "value": "v"}],
        ("metadata", "labels", "a/b"),
        "v",
    ),
    (
        "~0 escapes a tilde",
        [{"op": "replace", "path": "/metadata/labels/m~0n", "value": "v"}],
        ("metadata", "labels", "m~n"),
        "v",
    ),
    (
        "move",
        [{"op": "move", "from": "/metadata/labels/app", "path": "/metadata/labels/role"}],
        ("metadata", "labels", "role"),
        "web",
    ),
    (
        "copy",
        [{"op": "copy", "from": "/spec/containers/0", "path": "/spec/containers/-"}],
        ("spec", "containers", 2, "image"),
        "nginx",
    ),
    (
        "test then replace",
        [
            {"op": "test", "path": "/metadata/name", "value": "web"},
            {"op": "replace", "path": "/metadata/name", "value": "web2"},
        ],
        ("metadata", "name"),
        "web2",
    ),
    (
        "test null value of existing key",
        [
            {"op": "add", "path": "/spec/nodeName", "value": None},
            {"op": "test", "path": "/spec/nodeName", "value": None},
        ],
        ("spec", "nodeName"),
        None,
    ),
    ("replace whole document", [{"op": "replace", "path": "", "value": {"x": 1}}], ("x",), 1),
]


def _at(doc: Any, where: tuple) -> Any:
    for step in where:
        doc = doc[step]
    return doc


@pytest.mark.parametrize(
    ("name", "ops", "where", "expected"), JSON_PATCH_CASES, ids=[c[0] for c in JSON_PATCH_CASES]
)
def test_json_patch_operations(name: str, ops: list, where: tuple, expected: Any) -> None:
    before = copy.deepcopy(POD)
    result = apply_json_patch(POD, ops)
    assert _at(result, where) == expected
    assert before == POD, "the input document must not change"


def test_json_patch_removes_and_moves_exactly() -> None:
    result = apply_json_patch(POD, [{"op": "move", "from": "/metadata/labels/app", "path": "/metadata/app"}])
    assert "app" not in result["metadata"]["labels"]
    assert result["metadata"]["app"] == "web"
    result = apply_json_patch(POD, [{"op": "remove", "path": "/metadata/labels"}])
    assert result["metadata"] == {"name": "web"}


def test_json_patch_copy_is_independent_of_its_source() -> None:
    result = apply_json_patch(
        POD,
        [
            {"op": "copy", "from": "/spec/containers/0", "path": "/spec/containers/-"},
            {"op": "replace", "path": "/spec/containers/2/image", "value": "changed"},
        ],
    )
    assert result["spec"]["containers"][0]["image"] == "nginx"


def test_json_patch_value_is_copied_not_shared() -> None:
    value = {"name": "c2"}
    result = apply_json_patch(POD, [{"op": "add", "path": "/spec/containers/-", "value": value}])
    result["spec"]["containers"][2]["name"] = "mutated"
    assert value == {"name": "c2"}


def test_json_patch_is_atomic() -> None:
    before = copy.deepcopy(POD)
    with pytest.raises(PatchError):
        apply_json_patch(
            POD,
            [
                {"op": "replace", "path": "/metadata/name", "value": "x"},
                {"op": "test", "path": "/metadata/name", "value": "y"},
            ],
        )
    assert before == POD


def test_json_patch_test_distinguishes_types() -> None:
    doc = {"a": 1, "b": True, "c": 1.0, "d": [1, {"x": "y"}]}
    apply_json_patch(doc, [{"op": "test", "path": "/a", "value": 1.0}])  # JSON numbers: 1 == 1.0
    apply_json_patch(doc, [{"op": "test", "path": "/d", "value": [1, {"x": "y"}]}])
    for path, value in (("/a", True), ("/b", 1), ("/a", "1"), ("/d", [1]), ("/d", [1, {"x": "z"}])):
        with pytest.raises(PatchError, match="test failed"):
            apply_json_patch(doc, [{"op": "test", "path": path, "value": value}])


ERROR_CASES = [
    (
        "failed test",
        [{"op": "test", "path": "/metadata/name", "value": "db"}],
        422,
        "testing value /metadata/name failed: test failed",
    ),
    (
        "test of a missing path",
        [{"op": "test", "path": "/nope", "value": None}],
        422,
        "testing value /nope failed",
    ),
    (
        "remove missing key",
        [{"op": "remove", "path": "/metadata/nope"}],
        422,
        'doc is missing path: "/metadata/nope"',
    ),
    (
        "replace missing key",
        [{"op": "replace", "path": "/spec/nope", "value": 1}],
        422,
        "doc is missing key: /spec/nope",
    ),
    (
        "add under missing parent",
        [{"op": "add", "path": "/status/phase", "value": "x"}],
        422,
        'doc is missing path: "/status/phase"',
    ),
    ("add past the end", [{"op": "add", "path": "/spec/containers/3", "value": {}}], 422, "invalid index: 3"),
    ("remove past the end", [{"op": "remove", "path": "/spec/containers/2"}], 422, "invalid index: 2"),
    (
        "replace with -",
        [{"op": "replace", "path": "/spec/containers/-", "value": {}}],
        422,
        "doc is missing key",
    ),
    (
        "leading zero index",
        [{"op": "add", "path": "/spec/containers/01", "value": {}}],
        422,
        "invalid index: 01",
    ),
    ("negative index", [{"op": "remove", "path": "/spec/containers/-1"}], 422, "invalid index: -1"),
    (
        "move from missing",
        [{"op": "move", "from": "/x", "path": "/y"}],
        422,
        'move operation does not apply: doc is missing from path: "/x"',
    ),
    (
        "copy from missing",
        [{"op": "copy", "from": "/x", "path": "/y"}],
        422,
        'copy operation does not apply: doc is missing from path: "/x"',
    ),
    (
        "move into own child",
        [{"op": "move", "from": "/metadata", "path": "/metadata/inner"}],
        422,
        "into its own child",
    ),
    ("unknown op", [{"op": "frobnicate", "path": "/a"}], 422, "Unexpected kind: frobnicate (operation 0"),
    ("missing op", [{"path": "/a"}], 422, "Unexpected kind: unknown"),
    ("missing path", [{"op": "remove"}], 422, 'operation 0 (remove) is missing its "path" member'),
    (
        "missing value",
        [{"op": "add", "path": "/a"}],
        422,
        'add operation at index 0 is missing its "value" member',
    ),
    ("path not a pointer", [{"op": "add", "path": "a", "value": 1}], 422, 'path "a" is not a JSON pointer'),
    ("bad escape", [{"op": "add", "path": "/a~2", "value": 1}], 422, 'has a "~" not followed by 0 or 1'),
    ("remove the document", [{"op": "remove", "path": ""}], 422, "the whole document cannot be removed"),
    (
        "result not an object",
        [{"op": "replace", "path": "", "value": [1]}],
        422,
        "must be an object, got array",
    ),
    ("operation not an object", ["add"], 400, "operation 0 must be an object, got string"),
]


@pytest.mark.parametrize(("name", "ops", "code", "fragment"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_json_patch_errors(name: str, ops: list, code: int, fragment: str) -> None:
    with pytest.raises(PatchError) as info:
        apply_json_patch(POD, ops)
    assert info.value.code == code
    assert fragment in info.value.message


def test_json_patch_error_names_the_failing_operation() -> None:
    with pytest.raises(PatchError, match="operation 2"):
        apply_json_patch(
            POD, [{"op": "test", "path": "/metadata/name", "value": "web"}] * 2 + [{"op": "x", "path": "/"}]
        )


def test_json_patch_must_be_a_list() -> None:
    with pytest.raises(PatchError) as info:
        apply_json_patch(POD, {"op": "add"})  # type: ignore[arg-type]
    assert info.value.code == 400
    assert "must be an array of operations, got object" in info.value.message


def test_patch_error_status_mirrors_kube_apiserver() -> None:
    with pytest.raises(PatchError) as info:
        apply_json_patch(POD, [{"op": "test", "path": "/metadata/name", "value": "db"}])
    status = info.value.api_error().status()
    assert status["code"] == 422
    assert status["reason"] == "Invalid"
    assert status["message"] == REJECTED
    assert status["details"]["causes"] == [
        {"reason": "UnexpectedServerResponse", "message": "testing value /metadata/name failed: test failed"}
    ]
    bad = PatchError("invalid merge patch: must be an object, got array", code=400).api_error().status()
    assert (bad["code"], bad["reason"]) == (400, "BadRequest")


def _random_value(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if depth > 2 or roll < 0.4:
        return rng.choice([rng.randint(-5, 5), f"s{rng.randint(0, 9)}", True, None, 1.5])
    if roll < 0.7:
        return {f"k{i}": _random_value(rng, depth + 1) for i in range(rng.randint(0, 3))}
    return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]


def _random_containers(doc: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every (pointer, node) of a document."""
    out = [(prefix, doc)]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _random_containers(v, f"{prefix}/{k.replace('~', '~0').replace('/', '~1')}")
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _random_containers(v, f"{prefix}/{i}")
    return out


def _random_op(rng: random.Random, doc: Any) -> tuple[dict, dict]:
    """A random valid operation on ``doc`` and the operation that undoes it."""
    nodes = _random_containers(doc)
    pointer, node = rng.choice([(p, n) for p, n in nodes if isinstance(n, dict | list)])
    value = _random_value(rng, 1)
    if isinstance(node, dict):
        key = rng.choice([*node.keys(), "new~/key"]) if node else "new~/key"
        path = f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}"
        if key in node:
            if rng.random() < 0.5:
                return {"op": "remove", "path": path}, {
                    "op": "add",
                    "path": path,
                    "value": copy.deepcopy(node[key]),
                }
            return {"op": "replace", "path": path, "value": value}, {
                "op": "replace",
                "path": path,
                "value": copy.deepcopy(node[key]),
            }
        return {"op": "add", "path": path, "value": value}, {"op": "remove", "path": path}
    index = rng.randint(0, len(node))
    if index < len(node) and rng.random() < 0.5:
        path = f"{pointer}/{index}"
        return {"op": "remove", "path": path}, {
            "op": "add",
            "path": path,
            "value": copy.deepcopy(node[index]),
        }
    append = index == len(node) and rng.random() < 0.5
    return (
        {"op": "add", "path": f"{pointer}/{'-' if append else index}", "value": value},
        {"op": "remove", "path": f"{pointer}/{index}"},
    )


def test_json_patch_followed_by_its_inverse_round_trips() -> None:
    rng = random.Random(6902)
    for _ in range(300):
        original = {"root": _random_value(rng, 0), "list": [1, {"a": [2]}]}
        doc, forward, backward = original, [], []
        for _ in range(rng.randint(1, 6)):
            op, undo = _random_op(rng, doc)
            doc = apply_json_patch(doc, [op])
            forward.append(op)
            backward.insert(0, undo)
        assert apply_json_patch(original, forward) == doc
        assert apply_json_patch(doc, backward) == original


MERGE_CASES = [
    ("objects merge", {"a": {"b": 1}}, {"a": {"c": 2}}, {"a": {"b": 1, "c": 2}}),
    ("null deletes", {"a": 1, "b": 2}, {"a": None}, {"b": 2}),
    ("null for a missing key is ignored", {"a": 1}, {"z": None}, {"a": 1}),
    ("lists replace", {"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
    ("scalar replaces object", {"a": {"b": 1}}, {"a": "x"}, {"a": "x"}),
    ("object replaces scalar, nulls pruned", {"a": "x"}, {"a": {"b": None, "c": 1}}, {"a": {"c": 1}}),
    ("new nested object has nulls pruned", {}, {"a": {"b": {"c": None, "d": 1}}}, {"a": {"b": {"d": 1}}}),
    ("nulls inside lists are kept", {}, {"a": [None, {"b": None}]}, {"a": [None, {"b": None}]}),
    ("empty patch", {"a": 1}, {}, {"a": 1}),
    (
        "directives are plain keys",
        {"a": {"b": 1}},
        {"a": {"$patch": "replace"}},
        {"a": {"b": 1, "$patch": "replace"}},
    ),
]


@pytest.mark.parametrize(("name", "doc", "patch", "expected"), MERGE_CASES, ids=[c[0] for c in MERGE_CASES])
def test_merge_patch(name: str, doc: dict, patch: dict, expected: dict) -> None:
    before_doc, before_patch = copy.deepcopy(doc), copy.deepcopy(patch)
    assert apply_merge_patch(doc, patch) == expected
    assert (doc, patch) == (before_doc, before_patch)


def test_merge_patch_result_shares_nothing_with_inputs() -> None:
    doc, patch = {"a": {"b": [1]}}, {"c": {"d": [2]}}
    result = apply_merge_patch(doc, patch)
    result["a"]["b"].append(9)
    result["c"]["d"].append(9)
    assert doc == {"a": {"b": [1]}}
    assert patch == {"c": {"d": [2]}}


def test_merge_patch_must_be_an_object() -> None:
    with pytest.raises(PatchError) as info:
        apply_merge_patch({"a": 1}, [1])  # type: ignore[arg-type]
    assert info.value.code == 400
    assert "must be an object, got array" in info.value.message
