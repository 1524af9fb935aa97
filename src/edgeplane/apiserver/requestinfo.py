"""Turns a request path and method into what it asks of the API, as kube-apiserver's RequestInfoFactory does."""

from __future__ import annotations

from dataclasses import dataclass

from edgeplane.api import errors

# /api/v1/...           core group
# /apis/GROUP/VERSION/...
# then: [watch/] [namespaces/NS/] RESOURCE [/NAME [/SUBRESOURCE]]   or   namespaces/NAME[/SUBRESOURCE]


_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


@dataclass(slots=True)
class RequestInfo:
    resource_request: bool
    path: str
    verb: str = ""  # get list watch create update patch delete deletecollection
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    name: str = ""
    subresource: str = ""


def parse_request(method: str, path: str, watch_param: bool) -> RequestInfo:
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] not in ("api", "apis"):
        return RequestInfo(False, path, verb=method.lower())
    if parts[0] == "api":
        if len(parts) < 2:
            return RequestInfo(False, path, verb=method.lower())
        group, version, rest = "", parts[1], parts[2:]
    else:
        if len(parts) < 3:
            return RequestInfo(False, path, verb=method.lower())
        group, version, rest = parts[1], parts[2], parts[3:]
    if not rest:
        return RequestInfo(False, path, verb=method.lower())

    info = RequestInfo(True, path, group=group, version=version)
    legacy_watch = False
    if rest[0] == "watch":
        legacy_watch = True
        rest = rest[1:]
        if not rest:
            raise errors.APIError(404, "NotFound", "the server could not find the requested resource")

    if rest[0] == "namespaces" and len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
        info.namespace = rest[1]
        rest = rest[2:]
    info.resource = rest[0]
    if len(rest) >= 2:
        info.name = rest[1]
    if len(rest) >= 3:
        info.subresource = rest[2]
    if len(rest) > 3:
        raise errors.APIError(404, "NotFound", "the server could not find the requested resource")
    info.verb = _verb(method, bool(info.name), legacy_watch or watch_param)
    return info


def _verb(method: str, has_name: bool, watch: bool) -> str:
    method = method.upper()
    if method in ("GET", "HEAD"):
        if watch:
            return "watch"
        return "get" if has_name else "list"
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "delete" if has_name else "deletecollection"
    return method.lower()
