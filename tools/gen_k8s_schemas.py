#!/usr/bin/env python3
"""Extract the Kubernetes v1.32 definitions edgeplane serves into a compact OpenAPI v3 schema file.

The source is the ``_definitions.json`` shipped in the PyPI package ``kubernetes-validate`` (JSON Schema
style: ``"type": ["string", "null"]``, ``$ref: "#/$defs/NAME"``). This tool keeps only the definitions
reachable from the served kinds and the meta types, rewrites them the way kube-apiserver publishes OpenAPI v3
(a single ``type``, no nulls, ``$ref: "#/components/schemas/NAME"``, descriptions and ``x-kubernetes-*``
extensions kept) and writes ``src/edgeplane/api/schemas/k8s-v1.32.json.gz``.

Regenerate:

    pip download --no-deps kubernetes-validate -d /tmp/kv
    unzip -o /tmp/kv/kubernetes_validate-*.whl \
        'kubernetes_validate/kubernetes-json-schema/v1.32.0-local/_definitions.json' -d /tmp/kv
    python tools/gen_k8s_schemas.py \
        /tmp/kv/kubernetes_validate/kubernetes-json-schema/v1.32.0-local/_definitions.json

kubernetes-validate is only needed to regenerate; edgeplane never imports it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).resolve().parent.parent / "src" / "edgeplane" / "api" / "schemas" / "k8s-v1.32.json.gz"

CORE = "io.k8s.api.core.v1."
APPS = "io.k8s.api.apps.v1."
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
CRD = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1."

# Kinds edgeplane serves (with their lists) and the types its API passes around.
ROOTS = [
    *(CORE + k for k in ("Namespace", "Node", "Pod", "ConfigMap", "Secret", "Service", "Event", "ServiceAccount")),
    *(CORE + k + "List" for k in ("Namespace", "Node", "Pod", "ConfigMap", "Secret", "Service", "Event")),
    CORE + "ServiceAccountList",
    CORE + "Binding",
    *(APPS + k for k in ("Deployment", "DeploymentList", "ReplicaSet", "ReplicaSetList", "DaemonSet", "DaemonSetList")),
    "io.k8s.api.coordination.v1.Lease",
    "io.k8s.api.coordination.v1.LeaseList",
    CRD + "CustomResourceDefinition",
    CRD + "CustomResourceDefinitionList",
    "io.k8s.api.autoscaling.v1.Scale",
    "io.k8s.api.policy.v1.Eviction",
    "io.k8s.api.events.v1.Event",
    "io.k8s.api.events.v1.EventList",
    *(META + k for k in ("Status", "DeleteOptions", "WatchEvent", "APIResourceList", "APIGroupList", "APIGroup",
                         "APIVersions", "Patch")),
]

# Groups whose GVKs stay in the multi-group lists of meta types (DeleteOptions, WatchEvent...).
SERVED_GROUPS = {"", "apps", "coordination.k8s.io", "apiextensions.k8s.io", "autoscaling", "policy",
                 "events.k8s.io"}

KEPT_KEYS = {"description", "type", "format", "properties", "items", "additionalProperties", "required", "enum",
             "$ref"}

# kube-openapi publishes these two as one-of types in OpenAPI v3.
SPECIAL = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
        "description": "IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML "
        "marshalling and unmarshalling, it produces or consumes the inner type.  This allows you to have, for "
        "example, a JSON field that can accept a name or number.",
        "format": "int-or-string",
        "oneOf": [{"type": "integer"}, {"type": "string"}],
    },
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {
        "description": "Quantity is a fixed-point representation of a number, such as 100m or 1Gi.",
        "oneOf": [{"type": "string"}, {"type": "number"}],
    },
}


def ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def normalise(schema: Any, *, top_level: bool = False) -> Any:
    """One JSON-Schema node rewritten to kube-apiserver's OpenAPI v3 style."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type":
            types = [t for t in (value if isinstance(value, list) else [value]) if t != "null"]
            if len(types) == 1:
                out["type"] = types[0]
        elif key == "$ref":
            out["$ref"] = "#/components/schemas/" + ref_name(value)
        elif key == "properties":
            out["properties"] = {
                name: _drop_envelope_enum(name, normalise(prop)) if top_level else normalise(prop)
                for name, prop in value.items()
            }
        elif key in ("items", "additionalProperties"):
            out[key] = normalise(value)
        elif key == "x-kubernetes-group-version-kind":
            out[key] = [gvk for gvk in value if gvk["group"] in SERVED_GROUPS]
        elif key in KEPT_KEYS or key.startswith("x-kubernetes-"):
            if key == "x-kubernetes-unions":
                continue
            out[key] = value
    return out


def _drop_envelope_enum(name: str, prop: dict[str, Any]) -> dict[str, Any]:
    # The source pins apiVersion/kind with enums; kube-apiserver does not (lists and meta types share them).
    if name in ("apiVersion", "kind"):
        prop.pop("enum", None)
    return prop


def reachable(defs: dict[str, Any], roots: list[str]) -> list[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        if name not in defs:
            raise SystemExit(f"definition {name!r} is not in the source file")
        seen.add(name)
        if name in SPECIAL:
            continue
        stack.extend(_refs(defs[name]))
    return sorted(seen)


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.append(ref_name(value))
            else:
                found.extend(_refs(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_refs(item))
    return found


def build(defs: dict[str, Any]) -> dict[str, Any]:
    names = reachable(defs, ROOTS)
    return {
        name: SPECIAL.get(name) or normalise(defs[name], top_level="x-kubernetes-group-version-kind" in defs[name])
        for name in names
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("definitions", type=Path, help="kubernetes-validate's v1.32.0-local/_definitions.json")
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    source = json.loads(args.definitions.read_text())
    defs = source.get("$defs") or source.get("definitions")
    if not isinstance(defs, dict):
        raise SystemExit(f"{args.definitions}: no $defs/definitions object found")
    schemas = build(defs)
    payload = json.dumps({"version": "v1.32.0", "schemas": schemas}, separators=(",", ":"), sort_keys=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 keeps the file byte-identical between runs, so regenerating shows no spurious diff.
    args.output.write_bytes(gzip.compress(payload.encode(), compresslevel=9, mtime=0))
    print(f"{len(schemas)} definitions, {len(payload)} bytes JSON, {args.output.stat().st_size} bytes gzipped "
          f"-> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
