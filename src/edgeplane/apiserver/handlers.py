"""Resource requests: decode the HTTP request, call the storage, encode the answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from edgeplane.api import errors
from edgeplane.api.patch import PatchError, apply_json_patch, apply_merge_patch, apply_strategic_merge_patch
from edgeplane.api.registry import ResourceType
from edgeplane.api.selectors import FieldSelector, LabelSelector, SelectorError
from edgeplane.apiserver import codec
from edgeplane.apiserver.context import APIContext
from edgeplane.apiserver.objectmeta import parse_resource_version
from edgeplane.apiserver.requestinfo import RequestInfo
from edgeplane.apiserver.storage import DeleteOptions, WriteOptions, WriteResult
from edgeplane.apiserver.tables import to_table
from edgeplane.apiserver.watch import TableFormat, serve_watch

_FIELD_VALIDATION = ("Strict", "Warn", "Ignore")


def json_response(body: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    response = web.Response(body=codec.encode(body), status=status, content_type="application/json")
    for warning in warnings or ():
        response.headers.add("Warning", f'299 - "{warning}"')
    return response


def status_success(rt: ResourceType, name: str, uid: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": name, "group": rt.group, "kind": rt.plural, "uid": uid},
    }


class ResourceHandler:
    def __init__(self, ctx: APIContext) -> None:
        self.ctx = ctx

    async def handle(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        rt = self.ctx.resource(info.group, info.version, info.resource)
        if info.namespace and not rt.namespaced:
            raise errors.APIError(404, "NotFound", "the server could not find the requested resource")
        if info.subresource and info.subresource not in rt.subresources:
            raise errors.APIError(
                404, "NotFound", f"the server could not find the requested resource ({info.resource}/{info.subresource})"
            )
        verb = info.verb
        if verb == "get":
            return await self.get(request, rt, info)
        if verb in ("list", "watch"):
            return await self.list(request, rt, info)
        if verb == "create":
            return await self.create(request, rt, info)
        if verb == "update":
            return await self.update(request, rt, info)
        if verb == "patch":
            return await self.patch(request, rt, info)
        if verb == "delete":
            return await self.delete(request, rt, info)
        if verb == "deletecollection":
            return await self.delete_collection(request, rt, info)
        raise errors.method_not_allowed(f"the server does not allow this method on the requested resource ({verb})")

    # -- reads ---------------------------------------------------------------------------------------

    async def get(self, request: web.Request, rt: ResourceType, info: RequestInfo) -> web.StreamResponse:
        obj = await self.ctx.storage(rt).get(info.namespace, info.name)
        if info.subresource == "scale":
            return json_response(scale_of(rt, obj))
        accept = request.headers.get("Accept")
        if codec.wants_table(accept) and not info.subresource:
            return json_response(
                to_table(rt, [obj], resource_version=obj["metadata"]["resourceVersion"],
                         include_object=request.query.get("includeObject", "Metadata"),
                         api_version=codec.table_version(accept))
            )
        return json_response(obj)

    async def list(self, request: web.Request, rt: ResourceType, info: RequestInfo) -> web.StreamResponse:
        q = request.query
        keep = selector_filter(rt, q)
        accept = request.headers.get("Accept")
        table = codec.wants_table(accept)
        include_object = q.get("includeObject", "Metadata")
        if include_object not in ("None", "Metadata", "Object"):
            raise errors.bad_request(f'invalid includeObject "{include_object}": supported values are None, Metadata, Object')
        rv = q.get("resourceVersion", "")
        parse_resource_version(rv)
        if info.verb == "watch" or q.get("watch") in ("1", "true", "True"):
            timeout = q.get("timeoutSeconds")
            return await serve_watch(
                request, rt, await self.ctx.cacher(rt), self.ctx.store, info.namespace, info.name, keep, rv,
                int(timeout) if timeout and timeout.lstrip("-").isdigit() else None,
                q.get("allowWatchBookmarks") in ("1", "true", "True"),
                TableFormat(rt, codec.table_version(accept), include_object) if table else None,
            )
        limit = _int_param(q, "limit")
        cont = q.get("continue", "")
        if cont and rv not in ("", "0"):
            raise errors.bad_request("specifying resource version is not allowed when using continue")
        if rv == "0" and not cont:
            cacher = await self.ctx.cacher(rt)
            items = cacher.snapshot(info.namespace, keep)
            revision, token = cacher.revision, ""
        else:
            page = await self.ctx.storage(rt).list_page(
                info.namespace, limit or 0, cont, parse_resource_version(rv) if rv != "0" else 0, keep
            )
            items, revision, token = page.items, page.revision, page.continue_token
        if table:
            return json_response(
                to_table(rt, items, resource_version=str(revision), continue_token=token,
                         include_object=include_object, api_version=codec.table_version(accept))
            )
        metadata: dict[str, Any] = {"resourceVersion": str(revision)}
        if token:
            metadata["continue"] = token
        return json_response({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": metadata, "items": items})

    # -- writes --------------------------------------------------------------------------------------

    async def _body(self, request: web.Request) -> Any:
        if request.content_length is not None and request.content_length > codec.MAX_BODY_BYTES:
            raise errors.too_large("the request body is too large: the limit is 3 MiB")
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise errors.too_large("the request body is too large: the limit is 3 MiB") from None
        return codec.decode_body(raw, request.headers.get("Content-Type"))

    def _respond_write(self, rt: ResourceType, result: WriteResult, status: int) -> web.Response:
        return json_response(result.obj, status=status, warnings=result.warnings)

    async def create(self, request: web.Request, rt: ResourceType, info: RequestInfo) -> web.StreamResponse:
        opts = write_options(request.query)
        body = await self._body(request)
        storage = self.ctx.storage(rt)
        if info.subresource == "binding":
            target = (body or {}).get("target") or {}
            if not target.get("name"):
                raise errors.invalid_object("Binding", "", info.name, [errors.required("target.name")])
            pod = await storage.bind(info.namespace, info.name, target["name"], opts)
            return json_response(status_success(rt, info.name, pod["metadata"].get("uid", "")), status=201)
        if info.subresource or info.name:
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")
        result = await storage.create(info.namespace, body, opts)
        return self._respond_write(rt, result, 201)

    async def update(self, request: web.Request, rt: ResourceType, info: RequestInfo) -> web.StreamResponse:
        opts = write_options(request.query)
        body = await self._body(request)
        storage = self.ctx.storage(rt)
        if info.subresource == "scale":
            replicas = _scale_replicas(body)
            expected = ((body or {}).get("metadata") or {}).get("resourceVersion", "")

            def set_replicas(current: dict[str, Any]) -> dict[str, Any]:
                if expected:
                    current["metadata"]["resourceVersion"] = expected
                return with_replicas(rt, current, replicas)

            result = await storage.guaranteed_update(info.namespace, info.name, set_replicas, "", opts)
            return json_response(scale_of(rt, result.obj))
        if not isinstance(body, dict):
            raise errors.bad_request(f"the request body must be a {rt.kind} object")
        result = await storage.update(info.namespace, info.name, body, info.subresource, opts)
        return self._respond_write(rt, result, 200)

    async def patch(self, request: web.Request, rt: ResourceType, info: RequestInfo) -> web.StreamResponse:
        opts = write_options(request.query)
        kind = codec.media_type(request.headers.get("Content-Type"))
        if kind not in codec.PATCH_TYPES:
            raise errors.unsupported_media_type(
                f'the body of the request was in an unknown format "{kind}" - accepted media types include: '
                + ", ".join(t for t in codec.PATCH_TYPES if rt.patch_meta() is not None or t != codec.STRATEGIC_MERGE_PATCH)
            )
        if kind == codec.STRATEGIC_MERGE_PATCH and rt.patch_meta() is None:
            raise errors.unsupported_media_type(
                f"strategic merge patch is not supported for {rt.kind}.{rt.group or 'core'}: the body of the request "
                "was in an unknown format - accepted media types include: application/json-patch+json, "
                "application/merge-patch+json, application/apply-patch+yaml"
            )
        body = await self._body(request)
        patcher = make_patcher(rt, kind, body)
        storage = self.ctx.storage(rt)
        if info.subresource == "scale":
            def patch_scale(current: dict[str, Any]) -> dict[str, Any]:
                patched = patcher(scale_of(rt, current))
                return with_replicas(rt, current, _scale_replicas(patched))

            result = await storage.guaranteed_update(info.namespace, info.name, patch_scale, "", opts)
            return json_response(scale_of(rt, result.obj))
        result = await storage.guaranteed_update(info.namespace, info.name, patcher, info.subresource, opts)
        return self._respond_write(rt, result, 200)

    async def delete(self, request: web.Request, rt: ResourceType, info: RequestInfo) -> web.StreamResponse:
        opts = await self._delete_options(request)
        obj, gone = await self.ctx.storage(rt).delete(info.namespace, info.name, opts)
        if gone and rt.kind not in ("Pod", "Namespace") and not rt.is_crd:
            return json_response(status_success(rt, info.name, obj["metadata"].get("uid", "")))
        return json_response(obj, status=200 if gone else 202 if rt.kind == "Namespace" else 200)

    async def delete_collection(self, request: web.Request, rt: ResourceType, info: RequestInfo) -> web.StreamResponse:
        opts = await self._delete_options(request)
        keep = selector_filter(rt, request.query)
        storage = self.ctx.storage(rt)
        page = await storage.list_page(info.namespace, 0, "", 0, keep)
        deleted = []
        for obj in page.items:
            m = obj["metadata"]
            try:
                gone_obj, _ = await storage.delete(m.get("namespace", ""), m["name"], opts)
            except errors.APIError as exc:
                if exc.code == 404:
                    continue
                raise
            deleted.append(gone_obj)
        return json_response({"kind": rt.list_kind, "apiVersion": rt.api_version,
                              "metadata": {"resourceVersion": str(self.ctx.store.revision)}, "items": deleted})

    async def _delete_options(self, request: web.Request) -> DeleteOptions:
        q = request.query
        body: dict[str, Any] = {}
        if request.can_read_body:
            raw = await request.read()
            if raw.strip():
                decoded = codec.decode_body(raw, request.headers.get("Content-Type"))
                if not isinstance(decoded, dict):
                    raise errors.bad_request("the request body must be a DeleteOptions object")
                body = decoded
        grace = body.get("gracePeriodSeconds")
        if "gracePeriodSeconds" in q:
            grace = _int_param(q, "gracePeriodSeconds")
        if grace is not None and not isinstance(grace, int):
            raise errors.bad_request("gracePeriodSeconds must be an integer")
        policy = q.get("propagationPolicy") or body.get("propagationPolicy")
        if body.get("orphanDependents") is True or q.get("orphanDependents") == "true":
            policy = policy or "Orphan"
        if policy not in (None, "Orphan", "Background", "Foreground"):
            raise errors.invalid_object(
                "DeleteOptions", "", "", [errors.not_supported("propagationPolicy", policy, ["Foreground", "Background", "Orphan"])]
            )
        pre = body.get("preconditions") or {}
        dry = q.getall("dryRun", []) or body.get("dryRun") or []
        return DeleteOptions(grace, policy, pre.get("uid"), pre.get("resourceVersion"), _dry_run(dry))


# -- helpers -------------------------------------------------------------------------------------------


def _int_param(q: MultiMapping[str], name: str) -> int | None:
    value = q.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.bad_request(f'invalid value for {name}: "{value}" is not an integer') from None


def _dry_run(values: Any) -> bool:
    values = [values] if isinstance(values, str) else list(values)
    for v in values:
        if v != "All":
            raise errors.bad_request(f'dryRun "{v}" is not supported: the only supported value is "All"')
    return bool(values)


def write_options(q: MultiMapping[str]) -> WriteOptions:
    validation = q.get("fieldValidation") or "Warn"
    if validation not in _FIELD_VALIDATION:
        raise errors.bad_request(
            f'fieldValidation "{validation}" is not supported: use one of Strict, Warn, Ignore'
        )
    return WriteOptions(_dry_run(q.getall("dryRun", [])), validation, q.get("fieldManager", ""))


def selector_filter(rt: ResourceType, q: MultiMapping[str]) -> Callable[[dict[str, Any]], bool] | None:
    """The list/watch filter from labelSelector and fieldSelector, or None when both are empty."""
    try:
        labels = LabelSelector.parse(q.get("labelSelector", ""))
        fields = FieldSelector.parse(q.get("fieldSelector", ""))
    except SelectorError as exc:
        raise errors.bad_request(str(exc)) from None
    supported = rt.supported_fields()
    for f in fields.fields():
        if f not in supported:
            raise errors.bad_request(f'field label not supported: {f}')
    label_check = None if labels.empty() else labels.matches
    field_check = None
    if fields.fields():
        def field_check(obj: dict[str, Any]) -> bool:
            return fields.matches(lambda path: rt.field_value(obj, path))
    if label_check and field_check:
        return lambda obj: label_check(obj["metadata"].get("labels")) and field_check(obj)
    if label_check:
        return lambda obj: label_check(obj["metadata"].get("labels"))
    return field_check


def make_patcher(rt: ResourceType, kind: str, patch: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    if kind == codec.JSON_PATCH:
        if not isinstance(patch, list):
            raise errors.bad_request("a JSON patch must be a list of operations")
    elif not isinstance(patch, dict):
        raise errors.bad_request("a merge patch must be a JSON object")

    def mutate(current: dict[str, Any]) -> dict[str, Any]:
        try:
            if kind == codec.JSON_PATCH:
                return apply_json_patch(current, patch)
            if kind == codec.STRATEGIC_MERGE_PATCH:
                return apply_strategic_merge_patch(current, patch, rt.patch_meta())
            if kind == codec.APPLY_PATCH:
                # Server-side apply without field ownership: the applied configuration is merged in.
                return apply_strategic_merge_patch(current, patch, rt.patch_meta())
            return apply_merge_patch(current, patch)
        except PatchError as exc:
            raise exc.api_error() from None

    return mutate


def _path_get(obj: dict[str, Any], path: str) -> Any:
    cur: Any = obj
    for part in path.strip(".").split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _path_set(obj: dict[str, Any], path: str, value: Any) -> None:
    parts = path.strip(".").split(".")
    cur = obj
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value


def scale_of(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    paths = rt.scale_paths()
    if paths is None:
        raise errors.APIError(404, "NotFound", f"{rt.plural} has no scale subresource")
    spec_path, status_path, selector_path = paths
    m = obj["metadata"]
    status: dict[str, Any] = {"replicas": _path_get(obj, status_path) or 0}
    selector = _path_get(obj, selector_path) if selector_path else (obj.get("spec") or {}).get("selector")
    if selector:
        if isinstance(selector, dict):
            try:
                selector = str(LabelSelector.from_dict(selector))
            except SelectorError:
                selector = ""
        if selector:
            status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: m[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in m},
        "spec": {"replicas": _path_get(obj, spec_path) or 0},
        "status": status,
    }


def _scale_replicas(scale: Any) -> int:
    replicas = ((scale or {}).get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise errors.invalid_object(
            "Scale", "autoscaling", ((scale or {}).get("metadata") or {}).get("name", ""),
            [errors.invalid("spec.replicas", replicas, "must be greater than or equal to 0")],
        )
    return replicas


def with_replicas(rt: ResourceType, obj: dict[str, Any], replicas: int) -> dict[str, Any]:
    paths = rt.scale_paths()
    assert paths is not None
    _path_set(obj, paths[0], replicas)
    return obj
