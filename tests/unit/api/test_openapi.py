"""OpenAPI v3 documents: shape, GVK extensions, fieldValidation parameters, and real `kubectl explain`."""

from __future__ import annotations

import asyncio
import os
import shutil
from typing import Any

import pytest
from aiohttp import web

from edgeplane.api.openapi import openapi_v3_document, openapi_v3_index, operation_group
from edgeplane.api.registry import Registry
from tests.unit.api.test_crd import widget_crd

REF = "#/components/schemas/"


@pytest.fixture
def registry() -> Registry:
    reg = Registry.builtin()
    reg.add_crd(widget_crd())
    return reg


def test_index_lists_every_group_version_with_a_hash(registry: Registry) -> None:
    paths = openapi_v3_index(registry)["paths"]
    assert list(paths) == ["api/v1", "apis/apps/v1", "apis/coordination.k8s.io/v1", "apis/apiextensions.k8s.io/v1",
                           "apis/apps.openyurt.io/v1beta2", "apis/apps.openyurt.io/v1beta1",
                           "apis/example.com/v1", "apis/example.com/v1beta1"]
    url = paths["apis/apps/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/apps/v1?hash=") and len(url.split("=")[1]) == 128


def test_hash_changes_when_a_crd_changes(registry: Registry) -> None:
    before = openapi_v3_index(registry)["paths"]["apis/example.com/v1"]["serverRelativeURL"]
    crd = widget_crd()
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["new"] = {
        "type": "string"}
    registry.add_crd(crd)
    after = openapi_v3_index(registry)["paths"]["apis/example.com/v1"]["serverRelativeURL"]
    assert before != after


def test_kind_schemas_carry_group_version_kind(registry: Registry) -> None:
    core = openapi_v3_document(registry, "", "v1")
    assert core["openapi"] == "3.0.0"
    schemas = core["components"]["schemas"]
    assert schemas["io.k8s.api.core.v1.Pod"]["x-kubernetes-group-version-kind"] == [
        {"group": "", "kind": "Pod", "version": "v1"}]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["items"] == {"$ref": REF + "io.k8s.api.core.v1.Container"}
    for schema in schemas.values():  # every $ref resolves inside the document
        for ref in _refs(schema):
            assert ref.startswith(REF) and ref[len(REF):] in schemas, ref


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _patch_ops(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [item["patch"] for item in doc["paths"].values()
            if "patch" in item and item["patch"]["x-kubernetes-group-version-kind"]["kind"] == kind]


@pytest.mark.parametrize(("group", "version", "kind"), [
    ("", "v1", "Pod"), ("", "v1", "Namespace"), ("apps", "v1", "Deployment"),
    ("coordination.k8s.io", "v1", "Lease"), ("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
    ("example.com", "v1", "Widget"),
])
def test_patch_operations_take_field_validation(registry: Registry, group: str, version: str, kind: str) -> None:
    doc = openapi_v3_document(registry, group, version)
    ops = _patch_ops(doc, kind)
    assert ops, kind
    for op in ops:
        names = {p["name"] for p in op["parameters"] if p["in"] == "query"}
        assert {"fieldValidation", "dryRun", "fieldManager", "force"} <= names
        assert op["x-kubernetes-action"] == "patch"
        assert op["x-kubernetes-group-version-kind"] == {"group": group, "version": version, "kind": kind}
    for item in doc["paths"].values():
        for method in ("post", "put"):
            if method in item:
                assert "fieldValidation" in {p["name"] for p in item[method]["parameters"]}


def test_paths_and_operation_ids(registry: Registry) -> None:
    apps = openapi_v3_document(registry, "apps", "v1")["paths"]
    item = apps["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    assert {m: item[m]["operationId"] for m in ("get", "put", "patch", "delete")} == {
        "get": "readAppsV1NamespacedDeployment", "put": "replaceAppsV1NamespacedDeployment",
        "patch": "patchAppsV1NamespacedDeployment", "delete": "deleteAppsV1NamespacedDeployment"}
    scale = apps["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["get"]
    assert scale["x-kubernetes-group-version-kind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert "/apis/apps/v1/watch/namespaces/{namespace}/deployments" in apps
    nodes = openapi_v3_document(registry, "", "v1")["paths"]
    assert nodes["/api/v1/nodes"]["get"]["operationId"] == "listCoreV1Node"
    assert nodes["/api/v1/namespaces/{namespace}/pods/{name}/binding"]["post"]["x-kubernetes-action"] == "post"
    assert operation_group("stable.example.com", "v1beta1") == "StableExampleComV1beta1"


def test_crd_document_has_the_custom_schema(registry: Registry) -> None:
    doc = openapi_v3_document(registry, "example.com", "v1")
    schema = doc["components"]["schemas"]["com.example.v1.Widget"]
    assert schema["x-kubernetes-group-version-kind"] == [{"group": "example.com", "kind": "Widget", "version": "v1"}]
    assert schema["properties"]["metadata"]["$ref"] == REF + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    assert schema["properties"]["spec"]["properties"]["size"]["maximum"] == 10
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in doc["components"]["schemas"]
    patch = doc["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" not in patch["requestBody"]["content"]


# --- kubectl explain against a minimal discovery + OpenAPI server -----------------------------------------


def _discovery_app(registry: Registry) -> web.Application:
    def resource_list(group: str, version: str) -> dict[str, Any]:
        resources = []
        for r in registry.all():
            if r.group == group and r.version == version:
                resources.append({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                                  "kind": r.kind, "verbs": list(r.verbs), "shortNames": list(r.short_names)})
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": r_gv(group, version),
                "resources": resources}

    def r_gv(group: str, version: str) -> str:
        return f"{group}/{version}" if group else version

    async def api(_: web.Request) -> web.Response:
        return web.json_response({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})

    async def apis(_: web.Request) -> web.Response:
        groups = [{"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                   "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}}
                  for g, vs in registry.groups() if g]
        return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})

    async def core(_: web.Request) -> web.Response:
        return web.json_response(resource_list("", "v1"))

    async def group_version(request: web.Request) -> web.Response:
        return web.json_response(resource_list(request.match_info["group"], request.match_info["version"]))

    async def index(_: web.Request) -> web.Response:
        return web.json_response(openapi_v3_index(registry))

    async def document(request: web.Request) -> web.Response:
        parts = request.match_info["path"].split("/")
        group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
        return web.json_response(openapi_v3_document(registry, group, version))

    app = web.Application()
    app.router.add_get("/api", api)
    app.router.add_get("/apis", apis)
    app.router.add_get("/api/v1", core)
    app.router.add_get("/apis/{group}/{version}", group_version)
    app.router.add_get("/openapi/v3", index)
    app.router.add_get("/openapi/v3/{path:.+}", document)
    return app


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
async def test_kubectl_explain_walks_the_schemas(registry: Registry, tmp_path) -> None:
    runner = web.AppRunner(_discovery_app(registry))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "none"), "HOME": str(tmp_path)}

    async def explain(what: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            "kubectl", "explain", what, f"--server=http://127.0.0.1:{port}",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()
        return out.decode()

    try:
        containers = await explain("pods.spec.containers")
        assert "KIND:       Pod" in containers and "FIELD: containers <[]Container>" in containers
        assert "image\t<string>" in containers and "A single application container" in containers
        deploy = await explain("deployments.spec.strategy")
        assert "GROUP:      apps" in deploy and "rollingUpdate\t<RollingUpdateDeployment>" in deploy
        widgets = await explain("widgets.spec")
        assert "GROUP:      example.com" in widgets and "size\t<integer> -required-" in widgets
    finally:
        await runner.cleanup()
