"""The API server: an aiohttp application serving the Kubernetes REST API over HTTPS."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from edgeplane.api import errors
from edgeplane.api.openapi import openapi_v3_document, openapi_v3_index
from edgeplane.api.registry import Registry
from edgeplane.apiserver import discovery
from edgeplane.apiserver.auth import NODES, USER, Authenticator, Authorizer, RequestAttributes, UserInfo
from edgeplane.apiserver.codec import decode_body, encode
from edgeplane.apiserver.context import APIContext
from edgeplane.apiserver.handlers import ResourceHandler, json_response
from edgeplane.apiserver.requestinfo import RequestInfo, parse_request
from edgeplane.store.interface import Store

log = logging.getLogger(__name__)

_HEALTH_PATHS = ("/healthz", "/livez", "/readyz")
_PUBLIC_PATHS = frozenset({*_HEALTH_PATHS, "/version"})


class APIServer:
    def __init__(
        self,
        store: Store,
        registry: Registry | None = None,
        authenticator: Authenticator | None = None,
        authorizer: Authorizer | None = None,
    ) -> None:
        self.ctx = APIContext(registry or Registry.builtin(), store)
        self.authenticator = authenticator
        self.authorizer = authorizer or Authorizer()
        if self.authorizer.pod_node_lookup is None:
            self.authorizer.pod_node_lookup = self._pod_node
        self.resources = ResourceHandler(self.ctx)
        self._openapi_cache: dict[tuple[int, str], bytes] = {}
        self.ready = False
        self.extra_routes: list[tuple[str, str, Any]] = []  # (method, path, handler) added by other components
        # Paths served without credentials (extra routes that check their own, such as the edge join).
        self.public_paths: set[str] = set(_PUBLIC_PATHS)

    # -- the application -------------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(
            middlewares=[self._errors_middleware, self._auth_middleware],
            client_max_size=4 * 1024 * 1024,  # bodies over 3 MiB get a Kubernetes 413 from the handlers
        )
        for method, path, handler in self.extra_routes:
            app.router.add_route(method, path, handler)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    @web.middleware
    async def _errors_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except errors.APIError as exc:
            response = json_response(exc.status(), status=exc.code)
            if exc.retry_after:
                response.headers["Retry-After"] = str(exc.retry_after)
            return response
        except web.HTTPRequestEntityTooLarge:
            return json_response(errors.too_large("the request body is too large: the limit is 3 MiB").status(), 413)
        except web.HTTPException:
            raise
        except ConnectionError:
            raise
        except Exception as exc:
            log.exception("internal error serving %s %s", request.method, request.path)
            err = errors.internal(f"{type(exc).__name__}: {exc}")
            return json_response(err.status(), status=500)

    @web.middleware
    async def _auth_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.authenticator is None or request.path in self.public_paths:
            request[USER] = UserInfo("system:anonymous", ("system:unauthenticated",))
            return await handler(request)
        peercert = None
        ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
        if ssl_object is not None:
            peercert = ssl_object.getpeercert(binary_form=True)
        user = self.authenticator.authenticate(peercert, request.headers.get("Authorization"))
        if user is None:
            raise errors.unauthorized()
        request[USER] = user
        return await handler(request)

    async def _authorize(self, request: web.Request, info: RequestInfo) -> None:
        user: UserInfo = request[USER]
        attrs = RequestAttributes(
            verb=info.verb,
            group=info.group,
            resource=info.resource,
            subresource=info.subresource,
            namespace=info.namespace,
            name=info.name or await self._created_name(request, user, info),
            path=request.path,
            resource_request=info.resource_request,
        )
        allowed, _reason = await self.authorizer.authorize_async(user, attrs)
        if not allowed:
            if info.resource_request:
                raise errors.forbidden_request(
                    user.name, info.verb, info.resource, info.group, info.name, info.namespace
                )
            raise errors.APIError(
                403, "Forbidden", f'forbidden: User "{user.name}" cannot {info.verb} path "{request.path}"'
            )

    async def _created_name(self, request: web.Request, user: UserInfo, info: RequestInfo) -> str:
        """metadata.name of the object a node creates: node rules about its own Node and Lease need it.

        Read only for node identities; aiohttp keeps the body, so the handler reads it again for free.
        A body that does not decode leaves the name unknown, which the node rules then refuse.
        """
        if info.verb != "create" or not info.resource_request or info.subresource or NODES not in user.groups:
            return ""
        try:
            body = decode_body(await request.read(), request.headers.get("Content-Type"))
        except (errors.APIError, web.HTTPException):
            return ""
        meta = body.get("metadata") if isinstance(body, dict) else None
        name = meta.get("name") if isinstance(meta, dict) else None
        return name if isinstance(name, str) else ""

    async def _pod_node(self, namespace: str, name: str) -> str | None:
        """A pod's spec.nodeName, from the watch cache; from the store when the cache has not seen it bound."""
        rt = self.ctx.registry.get("", "v1", "pods")
        if rt is None:
            return None
        storage = self.ctx.storage(rt)
        pod = (await self.ctx.cacher(rt)).objects.get(storage.key(namespace, name))
        node = ((pod or {}).get("spec") or {}).get("nodeName")
        if node:
            return node  # spec.nodeName never changes once set, so a cached value is current
        try:
            pod = await storage.get(namespace, name)
        except errors.APIError:
            return None
        return (pod.get("spec") or {}).get("nodeName") or None

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path in _HEALTH_PATHS or path.startswith(tuple(p + "/" for p in _HEALTH_PATHS)):
            if path.startswith("/readyz") and not self.ready:
                return web.Response(status=503, text="[-]startup not finished\nreadyz check failed")
            return web.Response(text="ok")
        info = parse_request(request.method, path, request.query.get("watch") in ("1", "true", "True"))
        await self._authorize(request, info)
        if info.resource_request:
            return await self.resources.handle(request, info)
        return await self._non_resource(request, path)

    async def _non_resource(self, request: web.Request, path: str) -> web.StreamResponse:
        registry = self.ctx.registry
        path = path.rstrip("/") or "/"
        if request.method not in ("GET", "HEAD"):
            raise errors.method_not_allowed(f"the server does not allow this method on {path}")
        if path == "/version":
            return json_response(discovery.version_info())
        if path == "/api":
            return json_response(discovery.api_versions(self.ctx.server_address))
        if path == "/apis":
            return json_response(discovery.api_group_list(registry))
        if path == "/openapi/v3":
            return json_response(openapi_v3_index(registry))
        if path.startswith("/openapi/v3/"):
            return self._openapi(path[len("/openapi/v3/") :])
        if path == "/":
            paths = ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v3", "/readyz", "/version"]
            paths += [f"/apis/{g}/{v}" for g, versions in registry.groups() if g for v in versions]
            return json_response({"paths": sorted(paths)})
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            doc = discovery.api_resource_list(registry, "", parts[1])
            if doc:
                return json_response(doc)
        if parts[0] == "apis" and len(parts) == 2:
            doc = discovery.api_group(registry, parts[1])
            if doc:
                return json_response(doc)
        if parts[0] == "apis" and len(parts) == 3:
            doc = discovery.api_resource_list(registry, parts[1], parts[2])
            if doc:
                return json_response(doc)
        raise errors.APIError(404, "NotFound", "the server could not find the requested resource")

    def _openapi(self, rest: str) -> web.Response:
        registry = self.ctx.registry
        parts = rest.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            group, version = "", parts[1]
        elif parts[0] == "apis" and len(parts) == 3:
            group, version = parts[1], parts[2]
        else:
            raise errors.APIError(404, "NotFound", "the server could not find the requested resource")
        key = (registry.generation, f"{group}/{version}")
        body = self._openapi_cache.get(key)
        if body is None:
            doc = openapi_v3_document(registry, group, version)
            if not doc or not doc.get("paths"):
                raise errors.APIError(404, "NotFound", "the server could not find the requested resource")
            body = encode(doc)
            self._openapi_cache = {k: v for k, v in self._openapi_cache.items() if k[0] == registry.generation}
            self._openapi_cache[key] = body
        return web.Response(body=body, content_type="application/json")
