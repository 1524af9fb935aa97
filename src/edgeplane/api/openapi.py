"""OpenAPI v3 documents per group/version, in the shape kube-apiserver serves at /openapi/v3.

kubectl reads them to explain types (``kubectl explain``), to compute strategic merge patches from the
``x-kubernetes-*`` extensions on kind schemas, and to decide whether the server supports field validation: it
looks for the PATCH operation whose ``x-kubernetes-group-version-kind`` matches the kind and checks that its own
parameters include ``fieldValidation``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from edgeplane.api.builtin import SUBRESOURCE_KINDS
from edgeplane.api.registry import Registry, ResourceType
from edgeplane.api.schema import REF_PREFIX, definitions, referenced

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
COMMON_DEFINITIONS = [META + n for n in ("DeleteOptions", "Status", "WatchEvent", "Patch", "APIResourceList")]
JSON_TYPES = ("application/json", "application/yaml")
PATCH_TYPES = ("application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json")


def _query(name: str, kind: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description,
            "schema": {"type": kind, "uniqueItems": True}}


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "uniqueItems": True}}


DRY_RUN = _query("dryRun", "string", "When present, indicates that modifications should not be persisted. An "
                 "invalid or unrecognized dryRun directive will result in an error response and no further "
                 "processing of the request. Valid values are: - All: all dry run stages will be processed")
FIELD_MANAGER = _query("fieldManager", "string", "fieldManager is a name associated with the actor or entity "
                       "that is making these changes.")
FIELD_VALIDATION = _query("fieldValidation", "string", "fieldValidation instructs the server on how to handle "
                          "objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid "
                          "values are: - Ignore - Warn - Strict (the default)")
FORCE = _query("force", "boolean", "Force is going to \"force\" Apply requests. It means user will re-acquire "
               "conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.")
PRETTY = _query("pretty", "string", "If 'true', then the output is pretty printed.")
NAME = _path_param("name", "name of the resource")
NAMESPACE = _path_param("namespace", "object name and auth scope, such as for teams and projects")
LIST_PARAMS = [
    _query("allowWatchBookmarks", "boolean", "allowWatchBookmarks requests watch events with type \"BOOKMARK\"."),
    _query("continue", "string", "The continue option should be set when retrieving more results from the "
           "server."),
    _query("fieldSelector", "string", "A selector to restrict the list of returned objects by their fields. "
           "Defaults to everything."),
    _query("labelSelector", "string", "A selector to restrict the list of returned objects by their labels. "
           "Defaults to everything."),
    _query("limit", "integer", "limit is a maximum number of responses to return for a list call."),
    _query("resourceVersion", "string", "resourceVersion sets a constraint on what resource versions a request "
           "may be served from."),
    _query("resourceVersionMatch", "string", "resourceVersionMatch determines how resourceVersion is applied to "
           "list calls."),
    _query("sendInitialEvents", "boolean", "`sendInitialEvents=true` may be set together with `watch=true`."),
    _query("timeoutSeconds", "integer", "Timeout for the list/watch call."),
    _query("watch", "boolean", "Watch for changes to the described resources and return them as a stream of "
           "add, update, and remove notifications. Specify resourceVersion."),
]
DELETE_PARAMS = [
    DRY_RUN,
    _query("gracePeriodSeconds", "integer", "The duration in seconds before the object should be deleted."),
    _query("orphanDependents", "boolean", "Deprecated: please use the PropagationPolicy."),
    _query("propagationPolicy", "string", "Whether and how garbage collection will be performed. Acceptable "
           "values are: 'Orphan', 'Background', 'Foreground'."),
]


def group_version_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def openapi_v3_index(registry: Registry) -> dict[str, Any]:
    """``/openapi/v3``: one entry per served group/version, its URL carrying a hash of the document."""
    paths = {}
    for group, versions in registry.groups():
        for version in versions:
            key = group_version_path(group, version)
            paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={document_hash(registry, group, version)}"}
    return {"paths": paths}


def document_hash(registry: Registry, group: str, version: str) -> str:
    key = ("openapi-v3-hash", group, version)
    if key not in registry.cache:
        body = json.dumps(openapi_v3_document(registry, group, version), sort_keys=True, separators=(",", ":"))
        registry.cache[key] = hashlib.sha512(body.encode()).hexdigest().upper()
    return registry.cache[key]


def openapi_v3_document(registry: Registry, group: str, version: str) -> dict[str, Any]:
    """The OpenAPI v3 document of one group/version (cached until the registry changes); read-only."""
    key = ("openapi-v3", group, version)
    if key not in registry.cache:
        registry.cache[key] = _build(registry, group, version)
    return registry.cache[key]


def _build(registry: Registry, group: str, version: str) -> dict[str, Any]:
    resources = [r for r in registry.all() if r.group == group and r.version == version]
    if not resources:
        raise KeyError(f"group/version {group_version_path(group, version)} is not served")
    paths: dict[str, Any] = {}
    builtin_names = list(COMMON_DEFINITIONS)
    custom: dict[str, Any] = {}
    for resource in resources:
        paths.update(_resource_paths(resource))
        for sub in resource.subresources & SUBRESOURCE_KINDS.keys():
            builtin_names.append(SUBRESOURCE_KINDS[sub][3])
        if resource.is_crd:
            custom[resource.definition_name] = resource.openapi_schema()
            custom[resource.definition_name + "List"] = _custom_list_schema(resource)
            builtin_names += [META + "ObjectMeta", META + "ListMeta"]
        else:
            builtin_names += [resource.definition_name, resource.definition_name + "List"]
    defs = definitions()
    schemas = {name: defs[name] for name in referenced(builtin_names)}
    schemas.update(custom)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"BearerToken": {"type": "apiKey", "description": "Bearer Token authentication",
                                                "name": "authorization", "in": "header"}},
        },
    }


def _custom_list_schema(resource: ResourceType) -> dict[str, Any]:
    return {
        "description": f"{resource.list_kind} is a list of {resource.kind}",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string", "description": "APIVersion defines the versioned schema of this "
                                                            "representation of an object."},
            "items": {"type": "array", "description": f"List of {resource.plural}.",
                      "items": {"$ref": REF_PREFIX + resource.definition_name}},
            "kind": {"type": "string", "description": "Kind is a string value representing the REST resource "
                                                      "this object represents."},
            "metadata": {"$ref": REF_PREFIX + META + "ListMeta", "description": "Standard list metadata."},
        },
        "x-kubernetes-group-version-kind": [{"group": resource.group, "kind": resource.list_kind,
                                             "version": resource.version}],
    }


def operation_group(group: str, version: str) -> str:
    """``CoreV1``, ``AppsV1``, ``CoordinationV1``, ``StableExampleComV1``: the operationId infix."""
    if not group:
        return "Core" + version.capitalize()
    name = group.removesuffix(".k8s.io")
    return "".join(part[:1].upper() + part[1:] for part in name.replace("-", ".").split(".")) + \
        version.capitalize()


def _content(ref: str, types: tuple[str, ...] = JSON_TYPES) -> dict[str, Any]:
    return {t: {"schema": {"$ref": REF_PREFIX + ref}} for t in types}


def _ok(ref: str, *codes: str, types: tuple[str, ...] = JSON_TYPES) -> dict[str, Any]:
    text = {"200": "OK", "201": "Created", "202": "Accepted"}
    responses = {code: {"description": text[code], "content": _content(ref, types)} for code in codes}
    responses["401"] = {"description": "Unauthorized"}
    return responses


def _op(op_id: str, action: str, gvk: dict[str, str], description: str, responses: dict[str, Any],
        parameters: list[dict[str, Any]] | None = None, body: dict[str, Any] | None = None,
        tag: str = "") -> dict[str, Any]:
    op: dict[str, Any] = {"description": description, "operationId": op_id, "tags": [tag]}
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = body
    op["responses"] = responses
    op["x-kubernetes-action"] = action
    op["x-kubernetes-group-version-kind"] = gvk
    return op


def _body(ref: str, types: tuple[str, ...] = ("application/json", "application/yaml")) -> dict[str, Any]:
    return {"content": _content(ref, types), "required": True}


def _resource_paths(resource: ResourceType) -> dict[str, Any]:
    prefix = "/" + group_version_path(resource.group, resource.version)
    gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
    infix = operation_group(resource.group, resource.version)
    tag = infix[0].lower() + infix[1:]
    scope = "Namespaced" if resource.namespaced else ""
    kind, plural, ref = resource.kind, resource.plural, resource.definition_name
    list_ref = ref + "List"
    scoped = f"{prefix}/namespaces/{{namespace}}/{plural}" if resource.namespaced else f"{prefix}/{plural}"
    watch_scoped = (f"{prefix}/watch/namespaces/{{namespace}}/{plural}" if resource.namespaced
                    else f"{prefix}/watch/{plural}")
    ns_params = [NAMESPACE] if resource.namespaced else []
    patch_types = PATCH_TYPES if not resource.is_crd else PATCH_TYPES[:3]
    write_params = [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION]
    patch_params = [*write_params, FORCE]
    delete_status = {"200": {"description": "OK", "content": _content(META + "Status")},
                     "202": {"description": "Accepted", "content": _content(META + "Status")},
                     "401": {"description": "Unauthorized"}}
    paths: dict[str, Any] = {
        scoped: {
            "get": _op(f"list{infix}{scope}{kind}", "list", gvk, f"list or watch objects of kind {kind}",
                       _ok(list_ref, "200", types=(*JSON_TYPES, "application/json;stream=watch")),
                       LIST_PARAMS, tag=tag),
            "post": _op(f"create{infix}{scope}{kind}", "post", gvk, f"create a {kind}",
                        _ok(ref, "200", "201", "202"), write_params, _body(ref), tag),
            "delete": _op(f"delete{infix}Collection{scope}{kind}", "deletecollection", gvk,
                          f"delete collection of {kind}", _ok(META + "Status", "200"),
                          [*DELETE_PARAMS, *LIST_PARAMS], {"content": _content(META + "DeleteOptions")}, tag),
            "parameters": [*ns_params, PRETTY],
        },
        f"{scoped}/{{name}}": {
            "get": _op(f"read{infix}{scope}{kind}", "get", gvk, f"read the specified {kind}", _ok(ref, "200"),
                       tag=tag),
            "put": _op(f"replace{infix}{scope}{kind}", "put", gvk, f"replace the specified {kind}",
                       _ok(ref, "200", "201"), write_params, _body(ref), tag),
            "patch": _op(f"patch{infix}{scope}{kind}", "patch", gvk, f"partially update the specified {kind}",
                         _ok(ref, "200", "201"), patch_params, _body(META + "Patch", patch_types), tag),
            "delete": _op(f"delete{infix}{scope}{kind}", "delete", gvk, f"delete a {kind}", delete_status,
                          DELETE_PARAMS, {"content": _content(META + "DeleteOptions")}, tag),
            "parameters": [NAME, *ns_params, PRETTY],
        },
        watch_scoped: {
            "get": _op(f"watch{infix}{scope}{kind}List", "watchlist", gvk,
                       f"watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with "
                       "a list operation instead.", _ok(META + "WatchEvent", "200"), tag=tag),
            "parameters": [*LIST_PARAMS, *ns_params, PRETTY],
        },
        f"{watch_scoped}/{{name}}": {
            "get": _op(f"watch{infix}{scope}{kind}", "watch", gvk,
                       f"watch changes to an object of kind {kind}. deprecated: use the 'watch' parameter with a "
                       "list operation instead, filtered to a single item with the 'fieldSelector' parameter.",
                       _ok(META + "WatchEvent", "200"), tag=tag),
            "parameters": [*LIST_PARAMS, NAME, *ns_params, PRETTY],
        },
    }
    if resource.namespaced:
        paths[f"{prefix}/{plural}"] = {
            "get": _op(f"list{infix}{kind}ForAllNamespaces", "list", gvk, f"list or watch objects of kind {kind}",
                       _ok(list_ref, "200", types=(*JSON_TYPES, "application/json;stream=watch")), tag=tag),
            "parameters": [*LIST_PARAMS, PRETTY],
        }
        paths[f"{prefix}/watch/{plural}"] = {
            "get": _op(f"watch{infix}{kind}ListForAllNamespaces", "watchlist", gvk,
                       f"watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with "
                       "a list operation instead.", _ok(META + "WatchEvent", "200"), tag=tag),
            "parameters": [*LIST_PARAMS, PRETTY],
        }
    item = f"{scoped}/{{name}}"
    for sub in sorted(resource.subresources):
        suffix = sub.capitalize()
        if sub in ("status", "scale"):
            sub_ref = ref if sub == "status" else SUBRESOURCE_KINDS["scale"][3]
            sub_group, sub_version, sub_kind, _ = (resource.group, resource.version, resource.kind, ref) \
                if sub == "status" else SUBRESOURCE_KINDS["scale"]
            sub_gvk = {"group": sub_group, "version": sub_version, "kind": sub_kind}
            paths[f"{item}/{sub}"] = {
                "get": _op(f"read{infix}{scope}{kind}{suffix}", "get", sub_gvk,
                           f"read {sub} of the specified {kind}", _ok(sub_ref, "200"), tag=tag),
                "put": _op(f"replace{infix}{scope}{kind}{suffix}", "put", sub_gvk,
                           f"replace {sub} of the specified {kind}", _ok(sub_ref, "200", "201"), write_params,
                           _body(sub_ref), tag),
                "patch": _op(f"patch{infix}{scope}{kind}{suffix}", "patch", sub_gvk,
                             f"partially update {sub} of the specified {kind}", _ok(sub_ref, "200", "201"),
                             patch_params, _body(META + "Patch", patch_types), tag),
                "parameters": [NAME, *ns_params, PRETTY],
            }
        elif sub in SUBRESOURCE_KINDS:
            sub_group, sub_version, sub_kind, sub_ref = SUBRESOURCE_KINDS[sub]
            sub_gvk = {"group": sub_group, "version": sub_version, "kind": sub_kind}
            paths[f"{item}/{sub}"] = {
                "post": _op(f"create{infix}{scope}{kind}{suffix}", "post", sub_gvk, f"create {sub} of a {kind}",
                            _ok(sub_ref, "200", "201", "202"), write_params, _body(sub_ref), tag),
                "parameters": [NAME, *ns_params, PRETTY],
            }
    return paths
