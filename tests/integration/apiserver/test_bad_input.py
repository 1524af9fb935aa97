"""Every kind of bad input gets its Kubernetes Status, and the server keeps serving."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from tests.integration.apiserver.http import admin_session, configmap
from tests.integration.cloudproc import Cloud

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http(cloud: Cloud) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    async with admin_session(cloud.kubeconfig) as pair:
        yield pair


async def _status(resp: aiohttp.ClientResponse) -> dict:
    body = await resp.json(content_type=None)
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure"
    assert body["code"] == resp.status
    return body


async def test_not_found_already_exists_and_conflict(http) -> None:
    session, server = http
    base = f"{server}/api/v1/namespaces/default/configmaps"
    async with session.get(f"{base}/nope") as resp:
        body = await _status(resp)
        assert resp.status == 404 and body["reason"] == "NotFound"
        assert body["message"] == 'configmaps "nope" not found'
        assert body["details"] == {"name": "nope", "kind": "configmaps"}
    async with session.post(base, json=configmap("dup")) as resp:
        assert resp.status == 201
        rv = (await resp.json())["metadata"]["resourceVersion"]
    async with session.post(base, json=configmap("dup")) as resp:
        body = await _status(resp)
        assert resp.status == 409 and body["reason"] == "AlreadyExists"
    async with session.put(f"{base}/dup", json=configmap("dup", a="1")) as resp:
        assert resp.status == 200
    stale = configmap("dup", a="2")
    stale["metadata"]["resourceVersion"] = rv
    async with session.put(f"{base}/dup", json=stale) as resp:
        body = await _status(resp)
        assert resp.status == 409 and body["reason"] == "Conflict"
        assert "the object has been modified" in body["message"]
    async with session.get(f"{server}/apis/nothing.example.com/v1/widgets") as resp:
        assert resp.status == 404


async def test_invalid_objects_get_422_with_field_causes(http) -> None:
    session, server = http
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "Bad_Name"},
        "spec": {"replicas": -1, "selector": {"matchLabels": {"app": "x"}},
                 "template": {"metadata": {"labels": {"app": "y"}},
                              "spec": {"containers": [{"name": "c"}], "restartPolicy": "Sometimes"}}},
    }
    async with session.post(f"{server}/apis/apps/v1/namespaces/default/deployments", json=deployment) as resp:
        body = await _status(resp)
    assert resp.status == 422 and body["reason"] == "Invalid"
    fields = {c["field"]: c for c in body["details"]["causes"]}
    assert "metadata.name" in fields
    assert fields["spec.replicas"]["reason"] == "FieldValueInvalid"
    assert fields["spec.template.spec.containers[0].image"]["reason"] == "FieldValueRequired"
    assert fields["spec.template.spec.restartPolicy"]["reason"] == "FieldValueNotSupported"
    assert body["message"].startswith('Deployment.apps "Bad_Name" is invalid: ')

    deployment["metadata"]["name"] = "typed"
    deployment["spec"]["replicas"] = "three"
    async with session.post(f"{server}/apis/apps/v1/namespaces/default/deployments", json=deployment) as resp:
        body = await _status(resp)
    assert resp.status == 422
    assert body["details"]["causes"] == [{"reason": "FieldValueTypeInvalid", "field": "spec.replicas",
                                          "message": 'Invalid value: "three": must be of type integer'}]

    async with session.post(f"{server}/api/v1/namespaces/default/configmaps?fieldValidation=Strict",
                            json={**configmap("strict"), "extra": {"x": 1}}) as resp:
        body = await _status(resp)
    assert resp.status == 422 and 'unknown field "extra"' in body["message"]

    async with session.post(f"{server}/api/v1/namespaces/default/configmaps?fieldValidation=Warn",
                            json={**configmap("warned"), "extra": {"x": 1}}) as resp:
        assert resp.status == 201
        assert 'unknown field "extra"' in resp.headers.get("Warning", "")
        assert "extra" not in await resp.json()

    async with session.get(f"{server}/api/v1/namespaces/default/configmaps/strict") as resp:
        assert resp.status == 404  # nothing half-written


async def test_malformed_bodies_and_selectors_get_400(http) -> None:
    session, server = http
    base = f"{server}/api/v1/namespaces/default/configmaps"
    async with session.post(base, data=b'{"apiVersion": "v1", "kind": ', headers={"Content-Type": "application/json"}) as resp:
        body = await _status(resp)
        assert resp.status == 400 and body["reason"] == "BadRequest"
    async with session.post(base, data=b"metadata: [unclosed", headers={"Content-Type": "application/yaml"}) as resp:
        assert resp.status == 400
    async with session.get(f"{base}?labelSelector=a%20in%20b") as resp:
        body = await _status(resp)
        assert resp.status == 400
    async with session.get(f"{base}?fieldSelector=spec.nodeName%3Dx") as resp:
        body = await _status(resp)
        assert resp.status == 400 and "field label not supported" in body["message"]
    async with session.get(f"{base}?limit=abc") as resp:
        assert resp.status == 400
    async with session.post(f"{base}?fieldValidation=Loose", json=configmap("fv")) as resp:
        assert resp.status == 400
    async with session.post(f"{base}?dryRun=Some", json=configmap("dr")) as resp:
        assert resp.status == 400
    async with session.post(f"{server}/api/v1/namespaces/default/pods", json=configmap("wrong-kind")) as resp:
        body = await _status(resp)
        assert resp.status == 400 and "does not match the expected" in body["message"]


async def test_oversized_bodies_get_413(http) -> None:
    session, server = http
    huge = configmap("huge", blob="x" * (3 * 1024 * 1024 + 10))
    async with session.post(f"{server}/api/v1/namespaces/default/configmaps", json=huge) as resp:
        body = await _status(resp)
        assert resp.status == 413 and body["reason"] == "RequestEntityTooLarge"


async def test_strategic_merge_patch_on_a_custom_resource_gets_415(http) -> None:
    session, server = http
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                   "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}]},
    }
    async with session.post(f"{server}/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd) as resp:
        assert resp.status == 201, await resp.text()
    widgets = f"{server}/apis/example.com/v1/namespaces/default/widgets"
    for _ in range(50):
        async with session.post(widgets, json={"apiVersion": "example.com/v1", "kind": "Widget",
                                               "metadata": {"name": "w"}, "spec": {"size": 1}}) as resp:
            if resp.status == 201:
                break
        await asyncio.sleep(0.1)
    assert resp.status == 201
    async with session.patch(f"{widgets}/w", data=b'{"spec":{"size":2}}',
                             headers={"Content-Type": "application/strategic-merge-patch+json"}) as resp:
        body = await _status(resp)
        assert resp.status == 415 and body["reason"] == "UnsupportedMediaType"
    async with session.patch(f"{widgets}/w", data=b'{"spec":{"size":"big"}}',
                             headers={"Content-Type": "application/merge-patch+json"}) as resp:
        body = await _status(resp)
        assert resp.status == 422 and body["details"]["causes"][0]["field"] == "spec.size"
    async with session.patch(f"{widgets}/w", data=b'{"spec":{"size":3}}',
                             headers={"Content-Type": "application/merge-patch+json"}) as resp:
        assert resp.status == 200 and (await resp.json())["spec"]["size"] == 3


async def test_dry_run_persists_nothing(http) -> None:
    session, server = http
    base = f"{server}/api/v1/namespaces/default/configmaps"
    async with session.post(f"{base}?dryRun=All", json=configmap("dry")) as resp:
        assert resp.status == 201
        assert (await resp.json())["metadata"]["name"] == "dry"
    async with session.get(f"{base}/dry") as resp:
        assert resp.status == 404
    async with session.post(base, json=configmap("wet", a="1")) as resp:
        assert resp.status == 201
    for method, kwargs in (("put", {"json": configmap("wet", a="2")}),
                           ("patch", {"data": b'{"data":{"a":"3"}}',
                                      "headers": {"Content-Type": "application/merge-patch+json"}}),
                           ("delete", {})):
        async with session.request(method, f"{base}/wet?dryRun=All", **kwargs) as resp:
            assert resp.status == 200, await resp.text()
        async with session.get(f"{base}/wet") as resp:
            assert resp.status == 200 and (await resp.json())["data"] == {"a": "1"}


async def test_anonymous_requests_get_401(cloud: Cloud) -> None:
    import ssl

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as anon:
        async with anon.get(f"{cloud.url}/api/v1/namespaces") as resp:
            body = await _status(resp)
            assert resp.status == 401 and body["reason"] == "Unauthorized"
        async with anon.get(f"{cloud.url}/api/v1/namespaces", headers={"Authorization": "Bearer wrong"}) as resp:
            assert resp.status == 401
        async with anon.get(f"{cloud.url}/healthz") as resp:
            assert resp.status == 200
