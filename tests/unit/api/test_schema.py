"""The packaged Kubernetes schemas and the tool that generates them."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path
from typing import Any

from edgeplane.api.schema import SCHEMA_FILE, definitions, deref, referenced

ROOT = Path(__file__).resolve().parents[3]
PACKAGED = ROOT / "src" / "edgeplane" / "api" / "schemas" / SCHEMA_FILE


def _tool() -> Any:
    spec = importlib.util.spec_from_file_location("gen_k8s_schemas", ROOT / "tools" / "gen_k8s_schemas.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _walk(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node] + [n for v in node.values() for n in _walk(v)]
    if isinstance(node, list):
        return [n for v in node for n in _walk(v)]
    return []


def test_packaged_file_is_small_and_openapi_v3_shaped() -> None:
    assert PACKAGED.stat().st_size < 400_000
    defs = definitions()
    for name in ("io.k8s.api.core.v1.Pod", "io.k8s.api.apps.v1.Deployment", "io.k8s.api.autoscaling.v1.Scale",
                 "io.k8s.apimachinery.pkg.apis.meta.v1.Status", "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
                 "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"):
        assert name in defs
    for node in _walk(defs):
        if "type" in node and isinstance(node["type"], str | list):
            assert isinstance(node["type"], str) and node["type"] != "null"
        if isinstance(node.get("$ref"), str):
            assert node["$ref"].startswith("#/components/schemas/")
            assert deref(node) is not None
    pod_spec = deref({"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"})
    assert pod_spec["required"] == ["containers"] and "description" in pod_spec["properties"]["nodeName"]


def test_everything_referenced_is_packaged() -> None:
    names = referenced(["io.k8s.api.core.v1.Pod"])
    assert "io.k8s.api.core.v1.Container" in names and "io.k8s.apimachinery.pkg.util.intstr.IntOrString" in names
    assert set(names) <= set(definitions())


def test_tool_normalises_json_schema_to_openapi_v3(tmp_path: Path) -> None:
    tool = _tool()
    source = {"$defs": {
        "io.k8s.api.core.v1.Pod": {
            "type": ["object", "null"], "description": "Pod.",
            "properties": {"kind": {"type": ["string", "null"], "enum": ["Pod"]},
                           "spec": {"$ref": "#/$defs/io.k8s.api.core.v1.PodSpec"}},
            "x-kubernetes-group-version-kind": [{"group": "", "kind": "Pod", "version": "v1"},
                                                {"group": "batch", "kind": "Pod", "version": "v1"}]},
        "io.k8s.api.core.v1.PodSpec": {
            "type": "object", "x-kubernetes-unions": [{}],
            "properties": {"port": {"$ref": "#/$defs/io.k8s.apimachinery.pkg.util.intstr.IntOrString"},
                           "tags": {"type": ["array", "null"], "items": {"type": ["string", "null"]},
                                    "x-kubernetes-list-type": "atomic"}}},
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        "io.k8s.api.core.v1.Unused": {"type": "object"},
    }}
    tool.ROOTS = ["io.k8s.api.core.v1.Pod"]
    src = tmp_path / "defs.json"
    src.write_text(json.dumps(source))
    out = tmp_path / "out.json.gz"
    assert tool.main([str(src), "-o", str(out)]) == 0
    schemas = json.loads(gzip.decompress(out.read_bytes()))["schemas"]
    assert set(schemas) == {"io.k8s.api.core.v1.Pod", "io.k8s.api.core.v1.PodSpec",
                            "io.k8s.apimachinery.pkg.util.intstr.IntOrString"}
    pod = schemas["io.k8s.api.core.v1.Pod"]
    assert pod["type"] == "object" and pod["properties"]["kind"] == {"type": "string"}
    assert pod["properties"]["spec"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"}
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    spec = schemas["io.k8s.api.core.v1.PodSpec"]
    assert "x-kubernetes-unions" not in spec
    assert spec["properties"]["tags"] == {"type": "array", "items": {"type": "string"},
                                          "x-kubernetes-list-type": "atomic"}
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"
    # Regenerating gives byte-identical output.
    first = out.read_bytes()
    tool.main([str(src), "-o", str(out)])
    assert out.read_bytes() == first
