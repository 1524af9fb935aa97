"""Kubernetes' own OpenAPI v3 definitions of the built-in kinds, loaded once from the packaged file.

The file is produced by tools/gen_k8s_schemas.py. Everything that needs a built-in type's shape (validation,
patch metadata, OpenAPI documents, ``kubectl explain``) reads it from here.
"""

from __future__ import annotations

import functools
import gzip
import json
from importlib import resources
from typing import Any

REF_PREFIX = "#/components/schemas/"
SCHEMA_FILE = "k8s-v1.32.json.gz"


@functools.cache
def definitions() -> dict[str, dict[str, Any]]:
    """All packaged definitions by name (``io.k8s.api.core.v1.Pod``); treat as read-only.

    OpenYurt's apps.openyurt.io kinds are served as built-ins too, so their definitions join Kubernetes' here.
    """
    from edgeplane.api.openyurt.schemas import openyurt_definitions

    raw = resources.files("edgeplane.api").joinpath("schemas", SCHEMA_FILE).read_bytes()
    schemas = json.loads(gzip.decompress(raw))["schemas"]
    schemas.update(openyurt_definitions(schemas))
    return schemas


def ref_name(ref: str) -> str:
    return ref[len(REF_PREFIX) :] if ref.startswith(REF_PREFIX) else ref.rsplit("/", 1)[-1]


def deref(node: dict[str, Any], defs: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The definition a ``$ref`` node points at (the node itself when it has no ``$ref``)."""
    ref = node.get("$ref")
    if ref is None:
        return node
    return (defs if defs is not None else definitions())[ref_name(ref)]


def referenced(names: list[str], defs: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """``names`` and every definition they reach through ``$ref``, sorted (for OpenAPI components)."""
    table = defs if defs is not None else definitions()
    seen: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name in seen or name not in table:
            continue
        seen.add(name)
        stack.extend(_refs(table[name]))
    return sorted(seen)


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.append(ref_name(value))
            elif isinstance(value, dict | list):
                found.extend(_refs(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_refs(item))
    return found


class SchemaPatchMeta:
    """edgeplane.api.patchmeta.PatchMeta read from the ``x-kubernetes-patch-*`` extensions of a schema node."""

    __slots__ = ("_defs", "_node")

    def __init__(self, node: dict[str, Any], defs: dict[str, dict[str, Any]] | None = None) -> None:
        self._node = node
        self._defs = defs if defs is not None else definitions()

    @property
    def merge_key(self) -> str | None:
        return self._node.get("x-kubernetes-patch-merge-key")

    @property
    def strategies(self) -> tuple[str, ...]:
        strategy = self._node.get("x-kubernetes-patch-strategy")
        return tuple(strategy.split(",")) if strategy else ()

    def field(self, name: str) -> SchemaPatchMeta | None:
        child = deref(self._node, self._defs).get("properties", {}).get(name)
        return SchemaPatchMeta(child, self._defs) if child is not None else None

    def items(self) -> SchemaPatchMeta | None:
        target = deref(self._node, self._defs)
        child = target.get("items")
        if child is None and isinstance(target.get("additionalProperties"), dict):
            child = target["additionalProperties"]
        return SchemaPatchMeta(child, self._defs) if child is not None else None

    def __repr__(self) -> str:
        return f"SchemaPatchMeta({self._node.get('$ref') or self._node.get('type')!r})"
