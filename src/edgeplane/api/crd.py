"""CustomResourceDefinitions: validating and defaulting the CRD itself, and the ResourceTypes it serves.

Each served version becomes a ResourceType whose validator is compiled from ``schema.openAPIV3Schema`` as a
structural schema (unknown fields pruned or rejected, non-nullable nulls dropped), whose defaults come from
the schema's ``default`` values, and whose table comes from ``additionalPrinterColumns``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from edgeplane.api import errors, names, tables
from edgeplane.api.errors import Cause
from edgeplane.api.fields import getters_for
from edgeplane.api.jsonpath import compile_path
from edgeplane.api.metadata import immutable
from edgeplane.api.registry import ResourceType
from edgeplane.api.rules.common import one_of
from edgeplane.api.schema import definitions
from edgeplane.api.structural import Compiler, Run, Validator

SCOPES = ["Cluster", "Namespaced"]
SCHEMA_TYPES = ["array", "boolean", "integer", "number", "object", "string"]
COLUMN_TYPES = ["boolean", "date", "integer", "number", "string"]
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

Defaulter = Callable[[Any], None]


# --- the CRD object -------------------------------------------------------------------------------------


def defaults(crd: dict[str, Any]) -> None:
    spec = crd.setdefault("spec", {})
    names_ = spec.get("names") or {}
    if names_.get("kind"):
        names_.setdefault("singular", names_["kind"].lower())
        names_.setdefault("listKind", names_["kind"] + "List")
    spec.setdefault("conversion", {"strategy": "None"})


def validate_crd(crd: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    spec = crd.get("spec") or {}
    causes: list[Cause] = []
    group = spec.get("group") or ""
    if not group:
        causes.append(errors.required("spec.group"))
    else:
        causes += [errors.invalid("spec.group", group, m) for m in names.dns1123_subdomain(group)]
        if "." not in group:
            causes.append(errors.invalid("spec.group", group, "should be a domain with at least one dot"))
    names_ = spec.get("names") or {}
    for key in ("plural", "kind"):
        if not names_.get(key):
            causes.append(errors.required(f"spec.names.{key}"))
    for key in ("plural", "singular"):
        value = names_.get(key)
        if value:
            causes += [errors.invalid(f"spec.names.{key}", value, m) for m in names.dns1123_label(value)]
    for index, short in enumerate(names_.get("shortNames") or ()):
        causes += [errors.invalid(f"spec.names.shortNames[{index}]", short, m) for m in names.dns1123_label(short)]
    name = (crd.get("metadata") or {}).get("name", "")
    if names_.get("plural") and group and name != f"{names_['plural']}.{group}":
        causes.append(errors.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    scope = spec.get("scope")
    if not scope:
        causes.append(errors.required("spec.scope"))
    else:
        causes += one_of("spec.scope", scope, SCOPES)
    causes += _versions(spec.get("versions") or [])
    if old is not None:
        old_spec = old.get("spec") or {}
        causes += immutable("spec.group", group, old_spec.get("group"))
        causes += immutable("spec.scope", scope, old_spec.get("scope"))
        causes += immutable("spec.names.plural", names_.get("plural"), (old_spec.get("names") or {}).get("plural"))
    return causes


def _versions(versions: list[dict[str, Any]]) -> list[Cause]:
    causes: list[Cause] = []
    if not versions:
        return [errors.required("spec.versions", "must have exactly one version marked as storage version")]
    seen: set[str] = set()
    for index, version in enumerate(versions):
        here = f"spec.versions[{index}]"
        name = version.get("name") or ""
        if not name:
            causes.append(errors.required(f"{here}.name"))
        else:
            causes += [errors.invalid(f"{here}.name", name, m) for m in names.dns1035_label(name)]
            if name in seen:
                causes.append(errors.duplicate(f"{here}.name", name))
            seen.add(name)
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            causes.append(errors.required(f"{here}.schema.openAPIV3Schema", "schemas are required"))
        else:
            causes += _schema_problems(schema, f"{here}.schema.openAPIV3Schema", root=True)
        causes += _subresources(version.get("subresources") or {}, f"{here}.subresources")
        for col_index, column in enumerate(version.get("additionalPrinterColumns") or ()):
            col_here = f"{here}.additionalPrinterColumns[{col_index}]"
            for key in ("name", "type", "jsonPath"):
                if not column.get(key):
                    causes.append(errors.required(f"{col_here}.{key}"))
            causes += one_of(f"{col_here}.type", column.get("type"), COLUMN_TYPES)
            if column.get("jsonPath"):
                try:
                    compile_path(column["jsonPath"])
                except ValueError as exc:
                    causes.append(errors.invalid(f"{col_here}.jsonPath", column["jsonPath"], str(exc)))
    if sum(1 for v in versions if v.get("storage")) != 1:
        causes.append(errors.invalid("spec.versions", versions, "must have exactly one version marked as storage "
                                                                  "version"))
    if not any(v.get("served") for v in versions):
        causes.append(errors.invalid("spec.versions", versions, "must have at least one version served"))
    return causes


def _subresources(sub: dict[str, Any], path: str) -> list[Cause]:
    scale = sub.get("scale")
    if scale is None:
        return []
    causes: list[Cause] = []
    for key, prefix in (("specReplicasPath", ".spec."), ("statusReplicasPath", ".status.")):
        value = scale.get(key)
        if not value:
            causes.append(errors.required(f"{path}.scale.{key}"))
        elif not value.startswith(prefix):
            causes.append(errors.invalid(f"{path}.scale.{key}", value, f"should be a json path under {prefix[:-1]}"))
    selector = scale.get("labelSelectorPath")
    if selector and not selector.startswith((".spec.", ".status.")):
        causes.append(errors.invalid(f"{path}.scale.labelSelectorPath", selector,
                                     "should be a json path under either .spec or .status"))
    return causes


def _schema_problems(node: Any, path: str, *, root: bool = False) -> list[Cause]:
    if not isinstance(node, dict):
        return [errors.type_invalid(path, node, "object")]
    causes: list[Cause] = []
    kind = node.get("type")
    if "$ref" in node:
        causes.append(errors.forbidden(f"{path}.$ref", "$ref is not supported"))
    if root and kind != "object":
        causes.append(errors.invalid(f"{path}.type", kind or "", "must be object at the root"))
    elif kind is None:
        if not (node.get("x-kubernetes-int-or-string") or node.get("x-kubernetes-preserve-unknown-fields")):
            causes.append(errors.required(f"{path}.type", "must not be empty for specified object fields"))
    else:
        causes += one_of(f"{path}.type", kind, SCHEMA_TYPES)
    if kind == "array" and not isinstance(node.get("items"), dict):
        causes.append(errors.required(f"{path}.items", "must be specified"))
    if node.get("properties") and node.get("additionalProperties") not in (None, False):
        causes.append(errors.forbidden(f"{path}.additionalProperties",
                                       "additionalProperties and properties are mutual exclusive"))
    if "pattern" in node:
        try:
            re.compile(node["pattern"])
        except re.error as exc:
            causes.append(errors.invalid(f"{path}.pattern", node["pattern"], f"must be a valid regular expression: "
                                                                             f"{exc}"))
    for name, sub in (node.get("properties") or {}).items():
        causes += _schema_problems(sub, f"{path}.properties[{name}]")
    if isinstance(node.get("items"), dict):
        causes += _schema_problems(node["items"], f"{path}.items")
    if isinstance(node.get("additionalProperties"), dict):
        causes += _schema_problems(node["additionalProperties"], f"{path}.additionalProperties")
    return causes


# --- the resources a CRD serves ------------------------------------------------------------------------


def definition_name(group: str, version: str, kind: str) -> str:
    """``stable.example.com`` + v1 + CronTab -> ``com.example.stable.v1.CronTab``, as kube-apiserver names it."""
    return ".".join(reversed(group.split("."))) + f".{version}.{kind}"


def resource_types(crd: dict[str, Any]) -> list[ResourceType]:
    """One ResourceType per served version; ValueError names what is wrong with an unusable CRD."""
    crd = copy.deepcopy(crd)
    defaults(crd)
    problems = validate_crd(crd, None)
    if problems:
        name = (crd.get("metadata") or {}).get("name", "")
        raise ValueError(f"CustomResourceDefinition {name!r} is invalid: " +
                         "; ".join(f"{c.field}: {c.message}" for c in problems))
    spec = crd["spec"]
    names_ = spec["names"]
    group = spec["group"]
    out = []
    for version in spec["versions"]:
        if not version.get("served"):
            continue
        schema = version["schema"]["openAPIV3Schema"]
        subresources = version.get("subresources") or {}
        scale = subresources.get("scale")
        out.append(ResourceType(
            group=group,
            version=version["name"],
            kind=names_["kind"],
            plural=names_["plural"],
            singular=names_["singular"],
            namespaced=spec["scope"] == "Namespaced",
            definition_name=definition_name(group, version["name"], names_["kind"]),
            printer=tables.custom_printer(version.get("additionalPrinterColumns") or []),
            name_check=names.dns1123_subdomain,
            short_names=tuple(names_.get("shortNames") or ()),
            categories=tuple(names_.get("categories") or ()),
            subresources=frozenset(k for k in ("status", "scale") if k in subresources),
            list_kind=names_["listKind"],
            is_crd=True,
            crd_name=crd["metadata"]["name"],
            defaulter=compile_defaulter(schema),
            field_getters=getters_for(group, names_["kind"]),
            scale=(scale["specReplicasPath"], scale["statusReplicasPath"], scale.get("labelSelectorPath"))
            if scale else None,
            compile_validator=_validator_factory(schema),
            schema=openapi_schema(schema, group, version["name"], names_["kind"]),
        ))
    return out


def openapi_schema(schema: dict[str, Any], group: str, version: str, kind: str) -> dict[str, Any]:
    """The kind's schema as kube-apiserver publishes it: the CRD schema plus the standard object fields."""
    published = copy.deepcopy(schema)
    props = published.setdefault("properties", {})
    base = definitions()["io.k8s.api.coordination.v1.Lease"]["properties"]
    props["apiVersion"] = copy.deepcopy(base["apiVersion"])
    props["kind"] = copy.deepcopy(base["kind"])
    props["metadata"] = {"$ref": "#/components/schemas/" + OBJECT_META,
                         "description": base["metadata"].get("description", "")}
    published["x-kubernetes-group-version-kind"] = [{"group": group, "kind": kind, "version": version}]
    return published


def _validator_factory(schema: dict[str, Any]) -> Callable[[], Validator]:
    def build() -> Validator:
        from edgeplane.api.builtin import object_meta_validator

        root = copy.deepcopy(schema)
        props = root.setdefault("properties", {})
        props["apiVersion"] = {"type": "string"}
        props["kind"] = {"type": "string"}
        # metadata is Kubernetes' ObjectMeta whatever the CRD says; it is checked by the built-in schema.
        props["metadata"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        body = Compiler({}, structural=True).compile(root)
        meta = object_meta_validator()

        def check(value: Any, path: str, run: Run) -> None:
            body(value, path, run)
            if type(value) is dict and type(value.get("metadata")) is dict:
                meta(value["metadata"], "metadata", run)

        return check

    return build


def compile_defaulter(node: dict[str, Any]) -> Defaulter | None:
    """Applies the schema's ``default`` values to missing (or non-nullable null) fields, in place."""
    props = node.get("properties") or {}
    fill = {k: (sub["default"], bool(sub.get("nullable"))) for k, sub in props.items() if "default" in sub}
    children = {k: d for k, sub in props.items() if (d := compile_defaulter(sub)) is not None}
    items = compile_defaulter(node["items"]) if isinstance(node.get("items"), dict) else None
    extra = node.get("additionalProperties")
    values = compile_defaulter(extra) if isinstance(extra, dict) else None
    if not (fill or children or items or values):
        return None

    def apply(value: Any) -> None:
        if isinstance(value, dict):
            for key, (default, nullable) in fill.items():
                if key not in value or (value[key] is None and not nullable):
                    value[key] = copy.deepcopy(default)
            for key, child in children.items():
                if key in value:
                    child(value[key])
            if values is not None:
                for item in value.values():
                    values(item)
        elif isinstance(value, list) and items is not None:
            for item in value:
                items(item)

    return apply
