"""CustomResourceDefinitions: validating the CRD, serving its versions, validating and defaulting its objects."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from edgeplane.api.registry import Registry

SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 8},
                "port": {"x-kubernetes-int-or-string": True},
                "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "limits": {"type": "object", "additionalProperties": {"type": "string"}},
                "note": {"type": "string", "nullable": True},
                "replicas": {"type": "integer", "default": 1},
                "items": {"type": "array", "items": {"type": "object", "properties": {
                    "weight": {"type": "integer", "default": 5}, "id": {"type": "string"}}}},
            },
        },
        "status": {"type": "object", "properties": {
            "replicas": {"type": "integer"}, "selector": {"type": "string"},
            "conditions": {"type": "array", "items": {"type": "object", "properties": {
                "type": {"type": "string"}, "status": {"type": "string"}}}}}},
    },
}


def widget_crd(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "group": "example.com",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"],
                  "categories": ["all"]},
        "scope": "Namespaced",
        "versions": [
            {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": SCHEMA},
             "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                      "statusReplicasPath": ".status.replicas",
                                                      "labelSelectorPath": ".status.selector"}},
             "additionalPrinterColumns": [
                 {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                 {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
                 {"name": "Color", "type": "string", "jsonPath": ".spec.color", "priority": 1},
                 {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]},
            {"name": "v1beta1", "served": True, "storage": False, "schema": {"openAPIV3Schema": SCHEMA}},
            {"name": "v1alpha1", "served": False, "storage": False, "schema": {"openAPIV3Schema": SCHEMA}},
        ],
    }
    base.update(spec)
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"}, "spec": base}


def widget(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w1", "namespace": "default", "creationTimestamp": "2025-01-10T11:00:00Z"},
            "spec": {"size": 3, **spec}}


@pytest.fixture
def registry() -> Registry:
    reg = Registry.builtin()
    reg.add_crd(widget_crd())
    return reg


def check(registry: Registry, obj: dict[str, Any], mode: str = "Strict") -> tuple[list[tuple[str, str]], list[str]]:
    resource = registry.get("example.com", "v1", "widgets")
    resource.apply_defaults(obj)
    causes, warnings = resource.validate(obj, None, mode)
    return [(c.field, c.message) for c in causes], warnings


def test_served_versions_become_resource_types(registry: Registry) -> None:
    v1 = registry.get("example.com", "v1", "widgets")
    assert v1 is not None and registry.by_kind("example.com", "v1beta1", "Widget") is not None
    assert registry.get("example.com", "v1alpha1", "widgets") is None
    assert (v1.kind, v1.list_kind, v1.singular, v1.short_names, v1.categories, v1.namespaced, v1.is_crd) == (
        "Widget", "WidgetList", "widget", ("wd",), ("all",), True, True)
    assert v1.subresources == {"status", "scale"}
    assert v1.scale_paths() == (".spec.replicas", ".status.replicas", ".status.selector")
    assert v1.definition_name == "com.example.v1.Widget" and v1.api_version == "example.com/v1"
    assert v1.patch_meta() is None
    assert v1.supported_fields() == ("metadata.name", "metadata.namespace")
    assert ("example.com", ["v1", "v1beta1"]) in registry.groups()


def test_generation_bumps_and_removal(registry: Registry) -> None:
    before = registry.generation
    registry.add_crd(widget_crd())  # refresh replaces, not duplicates
    assert registry.generation == before + 1
    assert sum(1 for r in registry.all() if r.kind == "Widget") == 2
    registry.remove_crd("widgets.example.com")
    assert registry.get("example.com", "v1", "widgets") is None and registry.generation == before + 2
    assert all(g != "example.com" for g, _ in registry.groups())


def test_valid_object_gets_schema_defaults(registry: Registry) -> None:
    obj = widget(items=[{"id": "a"}, {"id": "b", "weight": 1}], note=None)
    assert check(registry, obj) == ([], [])
    assert obj["spec"]["color"] == "red" and obj["spec"]["replicas"] == 1
    assert obj["spec"]["items"] == [{"id": "a", "weight": 5}, {"id": "b", "weight": 1}]
    assert obj["spec"]["note"] is None  # nullable keeps null


@pytest.mark.parametrize(("spec", "expected"), [
    ({"size": 0}, [("spec.size", "Invalid value: 0: spec.size in body should be greater than or equal to 1")]),
    ({"size": 11}, [("spec.size", "Invalid value: 11: spec.size in body should be less than or equal to 10")]),
    ({"size": "big"}, [("spec.size", 'Invalid value: "big": must be of type integer')]),
    ({"color": "green"}, [("spec.color", 'Unsupported value: "green": supported values: "red", "blue"')]),
    ({"name": "Abc"}, [("spec.name", "Invalid value: \"Abc\": spec.name in body should match '^[a-z]+$'")]),
    ({"name": "abcdefghij"}, [("spec.name", "Too long: may not be longer than 8")]),
    ({"port": 1.5}, [("spec.port", "Invalid value: 1.5: must be of type integer or string")]),
    ({"tags": ["a", "b", "c"]}, [("spec.tags", "Too many: 3: must have at most 2 items")]),
    ({"limits": {"cpu": 1}}, [("spec.limits[cpu]", "Invalid value: 1: must be of type string")]),
])
def test_schema_violations(registry: Registry, spec: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert check(registry, widget(**spec))[0] == expected


def test_required_and_null_pruning(registry: Registry) -> None:
    obj = widget()
    del obj["spec"]["size"]
    obj["spec"]["name"] = None
    assert check(registry, obj)[0] == [("spec.size", "Required value")]
    assert "name" not in obj["spec"]


def test_unknown_fields_in_each_mode(registry: Registry) -> None:
    strict = widget(bogus=1, extra={"anything": {"goes": True}})
    assert check(registry, strict) == ([("spec.bogus", 'unknown field "spec.bogus"')], [])
    warn = widget(bogus=1)
    assert check(registry, warn, "Warn") == ([], ['unknown field "spec.bogus"'])
    assert "bogus" not in warn["spec"]
    ignore = widget(bogus=1)
    ignore["metadata"]["junk"] = 1
    assert check(registry, ignore, "Ignore") == ([], [])
    assert "bogus" not in ignore["spec"] and "junk" not in ignore["metadata"]


def test_metadata_is_checked_like_builtins(registry: Registry) -> None:
    obj = widget()
    obj["metadata"]["name"] = "Bad_Name"
    causes, _ = check(registry, obj)
    assert [f for f, _ in causes] == ["metadata.name"]


def test_printer_columns(registry: Registry) -> None:
    resource = registry.get("example.com", "v1", "widgets")
    assert [(c["name"], c["type"], c["priority"]) for c in resource.table_columns()] == [
        ("Name", "string", 0), ("Size", "integer", 0), ("Ready", "string", 0), ("Color", "string", 1),
        ("Age", "date", 0)]
    obj = widget(color="blue")
    obj["status"] = {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]}
    now = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
    assert resource.table_row(obj, now) == ["w1", 3, "True", "blue", "60m"]
    assert resource.table_row({"metadata": {"name": "empty"}}, now) == ["empty", None, None, None, None]
    plain = registry.get("example.com", "v1beta1", "widgets")
    assert [c["name"] for c in plain.table_columns()] == ["Name", "Age"]


CRD_PROBLEMS = [
    ({"group": "example"}, [("spec.group", 'Invalid value: "example": should be a domain with at least one dot')]),
    ({"scope": "Global"}, [("spec.scope", 'Unsupported value: "Global": supported values: "Cluster", '
                                          '"Namespaced"')]),
    ({"names": {"plural": "widgets"}}, [("spec.names.kind", "Required value")]),
    ({"versions": [{"name": "v1", "served": True, "storage": False,
                    "schema": {"openAPIV3Schema": {"type": "object"}}}]},
     [("spec.versions", "Invalid value: [...]: must have exactly one version marked as storage version")]),
    ({"versions": [{"name": "v1", "served": False, "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}}}]},
     [("spec.versions", "Invalid value: [...]: must have at least one version served")]),
    ({"versions": [{"name": "v1", "served": True, "storage": True}]},
     [("spec.versions[0].schema.openAPIV3Schema", "Required value: schemas are required")]),
    ({"versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
        "type": "object", "properties": {"spec": {"properties": {"a": {"type": "array"}}}}}}}]},
     [("spec.versions[0].schema.openAPIV3Schema.properties[spec].type",
       "Required value: must not be empty for specified object fields"),
      ("spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[a].items",
       "Required value: must be specified")]),
]


@pytest.mark.parametrize(("change", "expected"), CRD_PROBLEMS, ids=[str(i) for i in range(len(CRD_PROBLEMS))])
def test_crd_validation(change: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    crds = Registry.builtin().get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    crd = widget_crd(**change)
    if "group" in change:
        crd["metadata"]["name"] = f"widgets.{change['group']}"
    crds.apply_defaults(crd)
    causes, _ = crds.validate(crd)
    assert [(c.field, c.message) for c in causes] == expected
    with pytest.raises(ValueError, match="is invalid"):
        Registry.builtin().add_crd(crd)


def test_crd_name_must_be_plural_dot_group() -> None:
    crds = Registry.builtin().get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    crd = widget_crd()
    crd["metadata"]["name"] = "gadgets.example.com"
    causes, _ = crds.validate(crd)
    assert [(c.field, c.message) for c in causes] == [
        ("metadata.name", 'Invalid value: "gadgets.example.com": must be spec.names.plural+"."+spec.group')]


def test_crd_defaults_and_immutable_group() -> None:
    crds = Registry.builtin().get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    crd = widget_crd(names={"plural": "widgets", "kind": "Widget"})
    crds.apply_defaults(crd)
    assert crd["spec"]["names"]["singular"] == "widget" and crd["spec"]["names"]["listKind"] == "WidgetList"
    assert crd["spec"]["conversion"] == {"strategy": "None"}
    assert crds.validate(crd) == ([], [])
    changed = copy.deepcopy(crd)
    changed["spec"]["scope"] = "Cluster"
    causes, _ = crds.validate(changed, crd)
    assert [(c.field, c.message) for c in causes] == [("spec.scope", 'Invalid value: "Cluster": field is immutable')]


def test_cluster_scoped_crd() -> None:
    reg = Registry.builtin()
    crd = widget_crd(scope="Cluster")
    reg.add_crd(crd)
    resource = reg.get("example.com", "v1", "widgets")
    assert not resource.namespaced
    obj = widget()
    causes, _ = resource.validate(obj)
    assert [(c.field, c.message) for c in causes] == [("metadata.namespace", "Forbidden: not allowed on this type")]
