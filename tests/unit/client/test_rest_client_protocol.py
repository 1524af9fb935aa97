"""The REST client's side of the Kubernetes wire protocol, against a small scripted HTTP server.

These pin down how the client builds URLs, decodes Status errors and splits watch streams; the
client against the real API server is covered by the integration tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
import pytest
from aiohttp import web

from edgeplane.api.errors import APIError
from edgeplane.client.rest import ResourceExpiredError, RESTClient, error_from_response, resource_path

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("v1", "namespaces"), "/api/v1/namespaces"),
        (("v1", "pods", "default"), "/api/v1/namespaces/default/pods"),
        (("v1", "pods", "default", "web-1", "status"), "/api/v1/namespaces/default/pods/web-1/status"),
        (("apps/v1", "deployments", "prod", "web"), "/apis/apps/v1/namespaces/prod/deployments/web"),
        (("coordination.k8s.io/v1", "leases"), "/apis/coordination.k8s.io/v1/leases"),
        (("v1", "nodes", "", "edge-1", "status"), "/api/v1/nodes/edge-1/status"),
    ],
)
def test_resource_paths(args: tuple[str, ...], expected: str) -> None:
    assert resource_path(*args) == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", "pods"), "api_version '' must be"),
        (("a/b/c", "pods"), "api_version 'a/b/c' must be"),
        (("v1", "pods/status"), "must be a plural resource name"),
        (("v1", "pods", "default", "", "status"), "subresource 'status' needs the object's name"),
    ],
)
def test_bad_resource_paths_are_explained(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resource_path(*args)


def test_status_body_becomes_api_error_with_causes() -> None:
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": 'Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1',
        "reason": "Invalid",
        "code": 422,
        "details": {
            "name": "web",
            "group": "apps",
            "kind": "Deployment",
            "causes": [
                {"reason": "FieldValueInvalid", "message": "Invalid value: -1", "field": "spec.replicas"}
            ],
        },
    }

    err = error_from_response(422, orjson.dumps(status))

    assert (err.code, err.reason, err.name, err.group, err.kind) == (
        422,
        "Invalid",
        "web",
        "apps",
        "Deployment",
    )
    assert [c.field for c in err.causes] == ["spec.replicas"]
    assert err.status()["details"]["causes"] == status["details"]["causes"]


def test_non_status_body_keeps_the_http_status() -> None:
    err = error_from_response(502, b"<html>bad gateway</html>", "Bad Gateway")

    assert (err.code, err.reason, err.message) == (502, "BadGateway", "<html>bad gateway</html>")


def test_gone_is_resource_expired() -> None:
    status = {
        "kind": "Status",
        "code": 410,
        "reason": "Expired",
        "message": "too old resource version: 1 (5)",
    }

    err = error_from_response(200, orjson.dumps(status))

    assert isinstance(err, ResourceExpiredError)
    assert err.code == 410
    assert "too old resource version" in str(err)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


async def _ndjson(request: web.Request, events: list[bytes], chunk: int) -> web.StreamResponse:
    """Stream events as a watch does, cut into chunks that ignore line boundaries."""
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    data = b"".join(e + b"\n" for e in events)
    for i in range(0, len(data), chunk):
        await resp.write(data[i : i + chunk])
    await resp.write_eof()
    return resp


async def test_watch_yields_events_split_across_chunks_including_large_objects(serve: Callable) -> None:
    big = {"metadata": {"name": "big", "resourceVersion": "3"}, "data": {"blob": "x" * 300_000}}
    events = [
        orjson.dumps({"type": "ADDED", "object": {"metadata": {"name": "a", "resourceVersion": "2"}}}),
        orjson.dumps({"type": "MODIFIED", "object": big}),
        orjson.dumps({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "4"}}}),
    ]
    seen: dict[str, str] = {}

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.update(request.query)
        seen["path"] = request.path
        return await _ndjson(request, events, chunk=7_001)

    async with RESTClient(await serve(handler)) as client:
        got = [e async for e in client.watch("v1", "configmaps", "default", resource_version="1")]

    assert [e["type"] for e in got] == ["ADDED", "MODIFIED", "BOOKMARK"]
    assert got[1]["object"] == big
    assert seen == {
        "path": "/api/v1/namespaces/default/configmaps",
        "watch": "1",
        "resourceVersion": "1",
        "allowWatchBookmarks": "true",
    }


async def test_watch_error_event_410_raises_resource_expired(serve: Callable) -> None:
    gone = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old resource version: 1 (9)"}
    events = [
        orjson.dumps({"type": "ADDED", "object": {"metadata": {"name": "a"}}}),
        orjson.dumps({"type": "ERROR", "object": gone}),
    ]

    async def handler(request: web.Request) -> web.StreamResponse:
        return await _ndjson(request, events, chunk=1 << 16)

    got: list[str] = []
    async with RESTClient(await serve(handler)) as client:
        with pytest.raises(ResourceExpiredError, match="too old resource version"):
            async for event in client.watch("v1", "pods", resource_version="1"):
                got.append(event["type"])
    assert got == ["ADDED"]


async def test_watch_refused_with_410_raises_resource_expired(serve: Callable) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {"kind": "Status", "code": 410, "reason": "Expired", "message": "gone"}, status=410
        )

    async with RESTClient(await serve(handler)) as client:
        with pytest.raises(ResourceExpiredError):
            async for _ in client.watch("v1", "pods"):
                pass


async def test_requests_carry_token_body_and_patch_type(serve: Callable) -> None:
    seen: list[tuple[str, str, str, str | None, bytes]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        seen.append(
            (
                request.method,
                request.path_qs,
                request.headers.get("Authorization", ""),
                request.content_type,
                body,
            )
        )
        return web.json_response({"kind": "ConfigMap", "metadata": {"name": "a"}})

    async with RESTClient(await serve(handler), token="t0k") as client:
        await client.patch("v1", "configmaps", "a", {"data": {"k": "v"}}, "ns", field_manager="me")
        await client.patch(
            "v1", "configmaps", "a", [{"op": "remove", "path": "/data/k"}], "ns", patch_type="json"
        )
        await client.update("v1", "configmaps", {"metadata": {"name": "a"}}, "ns")
        await client.delete("v1", "configmaps", "a", "ns", propagation_policy="Foreground")

    assert [s[:4] for s in seen] == [
        (
            "PATCH",
            "/api/v1/namespaces/ns/configmaps/a?fieldManager=me",
            "Bearer t0k",
            "application/merge-patch+json",
        ),
        ("PATCH", "/api/v1/namespaces/ns/configmaps/a", "Bearer t0k", "application/json-patch+json"),
        ("PUT", "/api/v1/namespaces/ns/configmaps/a", "Bearer t0k", "application/json"),
        ("DELETE", "/api/v1/namespaces/ns/configmaps/a", "Bearer t0k", "application/json"),
    ]
    assert orjson.loads(seen[3][4]) == {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "propagationPolicy": "Foreground",
    }


async def test_status_errors_are_raised_as_api_error(serve: Callable) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        status = {"kind": "Status", "code": 404, "reason": "NotFound", "message": 'pods "x" not found'}
        return web.json_response(status, status=404)

    async with RESTClient(await serve(handler)) as client:
        with pytest.raises(APIError, match='pods "x" not found') as err:
            await client.get("v1", "pods", "x", "default")
    assert (err.value.code, err.value.reason) == (404, "NotFound")


async def test_client_side_mistakes_are_explained_before_sending() -> None:
    async with RESTClient("http://127.0.0.1:1") as client:
        with pytest.raises(ValueError, match="update needs the object's name"):
            await client.update("v1", "configmaps", {"metadata": {}}, "ns")
        with pytest.raises(ValueError, match="patch_type 'yaml' is not one of"):
            await client.patch("v1", "configmaps", "a", {}, patch_type="yaml")
        with pytest.raises(ValueError, match="server-side apply patch needs a field_manager"):
            await client.patch("v1", "configmaps", "a", {}, patch_type="apply")
    with pytest.raises(ValueError, match="must be an http:// or https:// URL"):
        RESTClient("127.0.0.1:6443")
