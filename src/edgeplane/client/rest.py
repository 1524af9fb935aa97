"""A small async Kubernetes REST client: objects in and out as dicts, failures as ``APIError``.

Controllers and the edge agent talk to the API server through this, with the credentials of a
kubeconfig (mutual TLS or a bearer token). Any Kubernetes-compatible server will do.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from edgeplane.api.errors import APIError, Cause
from edgeplane.pki.kubeconfig import load_kubeconfig
from edgeplane.pki.tls import client_ssl_context

PATCH_CONTENT_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",  # JSON is valid YAML, so the body is still JSON
}


class ResourceExpiredError(APIError):
    """410 Gone: the requested resourceVersion was compacted away. List again, then watch from the list."""

    def __init__(self, message: str) -> None:
        super().__init__(410, "Expired", message)


def resource_path(
    api_version: str, resource: str, namespace: str = "", name: str = "", subresource: str = ""
) -> str:
    """``/api/v1/namespaces/ns/pods/p/status`` or ``/apis/apps/v1/deployments`` for the given parts."""
    if not api_version or api_version.count("/") > 1:
        raise ValueError(f"api_version {api_version!r} must be 'v1' or 'group/version'")
    if not resource or "/" in resource:
        raise ValueError(f"resource {resource!r} must be a plural resource name such as 'pods'")
    if subresource and not name:
        raise ValueError(f"subresource {subresource!r} needs the object's name")
    path = "/api/" + api_version if "/" not in api_version else "/apis/" + api_version
    if namespace:
        path += "/namespaces/" + quote(namespace, safe="")
    path += "/" + resource
    if name:
        path += "/" + quote(name, safe="")
    if subresource:
        path += "/" + subresource
    return path


def error_from_response(status: int, body: bytes, reason: str = "") -> APIError:
    """The server's Status object as an APIError; a non-Status body becomes one with the HTTP reason."""
    try:
        doc = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and doc.get("kind") == "Status":
        details = doc.get("details") or {}
        causes = [
            Cause(c.get("reason", ""), c.get("message", ""), c.get("field", ""))
            for c in details.get("causes") or []
        ]
        code = int(doc.get("code") or status)
        message = str(doc.get("message", ""))
        if code == 410:
            return ResourceExpiredError(message or "resource version too old")
        return APIError(
            code,
            str(doc.get("reason", "")),
            message,
            name=str(details.get("name", "")),
            group=str(details.get("group", "")),
            kind=str(details.get("kind", "")),
            causes=causes,
            retry_after=int(details.get("retryAfterSeconds") or 0),
        )
    text = body.decode("utf-8", "replace").strip()[:500]
    if status == 410:
        return ResourceExpiredError(text or "resource version too old")
    return APIError(status, reason.replace(" ", ""), text or f"HTTP {status} {reason}".strip())


class RESTClient:
    """One connection pool to one API server. Use as ``async with RESTClient.from_kubeconfig(path) as c``."""

    def __init__(
        self,
        server: str,
        *,
        ca_pem: bytes | None = None,
        cert_pem: bytes | None = None,
        key_pem: bytes | None = None,
        token: str | None = None,
        insecure: bool = False,
        timeout: float = 30.0,
        user_agent: str = "edgeplane-client",
    ) -> None:
        if not server.startswith(("https://", "http://")):
            raise ValueError(f"server {server!r} must be an http:// or https:// URL")
        self.server = server.rstrip("/")
        self._ssl: ssl.SSLContext | bool = True
        if server.startswith("https://"):
            ctx = client_ssl_context(ca_pem, cert_pem, key_pem)
            if insecure:  # kubeconfig's insecure-skip-tls-verify: encrypted but unauthenticated server
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            self._ssl = ctx
        self._headers = {"Accept": "application/json", "User-Agent": user_agent}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_kubeconfig(cls, path: Path, context: str | None = None, **kwargs: Any) -> RESTClient:
        cfg = load_kubeconfig(path, context)
        return cls(
            cfg["server"],
            ca_pem=cfg["ca_pem"],
            cert_pem=cfg["cert_pem"],
            key_pem=cfg["key_pem"],
            token=cfg["token"],
            insecure=cfg["insecure"],
            **kwargs,
        )

    async def __aenter__(self) -> RESTClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        # Created lazily: an aiohttp session must be made inside the running event loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._ssl),
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._timeout),
                json_serialize=lambda o: orjson.dumps(o).decode(),
            )
        return self._session

    # -- requests ---------------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """Send one request; the decoded JSON answer, or APIError built from the server's Status."""
        data = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": content_type} if data is not None else None
        async with self._client().request(
            method,
            self.server + path,
            params=_clean(params),
            data=data,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=self._timeout),
        ) as resp:
            payload = await resp.read()
            if resp.status >= 400:
                raise error_from_response(resp.status, payload, resp.reason or "")
            return orjson.loads(payload) if payload else {}

    async def get(self, api_version: str, resource: str, name: str, namespace: str = "") -> dict[str, Any]:
        _need_name(name, "get")
        return await self.request("GET", resource_path(api_version, resource, namespace, name))

    async def list(
        self,
        api_version: str,
        resource: str,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
        resource_version: str = "",
        limit: int = 0,
        continue_token: str = "",
    ) -> dict[str, Any]:
        """One page of a list (everything if ``limit`` is 0); follow ``metadata.continue`` for more."""
        params = {
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
            "resourceVersion": resource_version,
            "limit": str(limit) if limit else "",
            "continue": continue_token,
        }
        return await self.request("GET", resource_path(api_version, resource, namespace), params=params)

    async def create(
        self, api_version: str, resource: str, body: dict[str, Any], namespace: str = ""
    ) -> dict[str, Any]:
        return await self.request("POST", resource_path(api_version, resource, namespace), body=body)

    async def update(
        self,
        api_version: str,
        resource: str,
        body: dict[str, Any],
        namespace: str = "",
        subresource: str = "",
    ) -> dict[str, Any]:
        """PUT the whole object (its metadata.resourceVersion, if set, guards against lost updates)."""
        name = (body.get("metadata") or {}).get("name", "")
        _need_name(name, "update")
        path = resource_path(api_version, resource, namespace, name, subresource)
        return await self.request("PUT", path, body=body)

    async def patch(
        self,
        api_version: str,
        resource: str,
        name: str,
        patch: dict[str, Any] | list[Any],
        namespace: str = "",
        *,
        patch_type: str = "merge",
        subresource: str = "",
        field_manager: str = "",
        force: bool = False,
    ) -> dict[str, Any]:
        """``patch_type``: merge, strategic, json or apply (server-side apply needs ``field_manager``)."""
        _need_name(name, "patch")
        if patch_type not in PATCH_CONTENT_TYPES:
            raise ValueError(f"patch_type {patch_type!r} is not one of {', '.join(PATCH_CONTENT_TYPES)}")
        if patch_type == "apply" and not field_manager:
            raise ValueError("a server-side apply patch needs a field_manager")
        params = {"fieldManager": field_manager, "force": "true" if force else ""}
        return await self.request(
            "PATCH",
            resource_path(api_version, resource, namespace, name, subresource),
            params=params,
            body=patch,
            content_type=PATCH_CONTENT_TYPES[patch_type],
        )

    async def delete(
        self,
        api_version: str,
        resource: str,
        name: str,
        namespace: str = "",
        *,
        propagation_policy: str = "",
        grace_period_seconds: int | None = None,
        precondition_uid: str = "",
    ) -> dict[str, Any]:
        """The deleted object, or a Status if it was deleted at once; APIError 404 if it did not exist."""
        _need_name(name, "delete")
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if precondition_uid:
            options["preconditions"] = {"uid": precondition_uid}
        return await self.request(
            "DELETE", resource_path(api_version, resource, namespace, name), body=options
        )

    # -- watching ---------------------------------------------------------------------------------------

    async def watch(
        self,
        api_version: str,
        resource: str,
        namespace: str = "",
        *,
        resource_version: str = "",
        label_selector: str = "",
        field_selector: str = "",
        timeout_seconds: int = 0,
        allow_bookmarks: bool = True,
    ) -> AsyncIterator[dict[str, Any]]:
        """Events (``{"type": ADDED|MODIFIED|DELETED|BOOKMARK, "object": {...}}``) until the server ends
        the watch. Raises ResourceExpiredError when ``resource_version`` is too old (list again), and
        APIError for any other ERROR event."""
        params = {
            "watch": "1",
            "resourceVersion": resource_version,
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
            "timeoutSeconds": str(timeout_seconds) if timeout_seconds else "",
            "allowWatchBookmarks": "true" if allow_bookmarks else "",
        }
        async with self._client().get(
            self.server + resource_path(api_version, resource, namespace), params=_clean(params)
        ) as resp:
            if resp.status >= 400:
                raise error_from_response(resp.status, await resp.read(), resp.reason or "")
            async for line in _lines(resp.content):
                event = orjson.loads(line)
                if event.get("type") == "ERROR":
                    raise error_from_response(500, orjson.dumps(event.get("object") or {}))
                yield event


async def _lines(stream: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    """Newline-delimited records of any size (aiohttp's readline refuses lines over its buffer limit)."""
    buf = bytearray()
    async for chunk in stream.iter_any():
        buf += chunk
        start = 0
        while (end := buf.find(b"\n", start)) != -1:
            if end > start:
                yield bytes(buf[start:end])
            start = end + 1
        del buf[:start]
    if buf.strip():
        yield bytes(buf)


def _clean(params: Mapping[str, str] | None) -> dict[str, str]:
    return {k: v for k, v in (params or {}).items() if v}


def _need_name(name: str, verb: str) -> None:
    if not name:
        raise ValueError(f"{verb} needs the object's name")
