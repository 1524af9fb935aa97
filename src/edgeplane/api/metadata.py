"""ObjectMeta rules Kubernetes applies to every object: names, namespace, labels, annotations, immutability."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edgeplane.api import errors, names
from edgeplane.api.errors import Cause

NameCheck = Callable[[str], list[str]]
TOTAL_ANNOTATION_SIZE = 256 * 1024


def validate_object_meta(
    meta: dict[str, Any], *, namespaced: bool, name_check: NameCheck, path: str = "metadata"
) -> list[Cause]:
    causes: list[Cause] = []
    name = meta.get("name")
    generate = meta.get("generateName")
    if name:
        causes += [errors.invalid(f"{path}.name", name, m) for m in name_check(name)]
    elif generate:
        # A generated name ends with random characters, so a trailing '-' in the prefix is fine.
        masked = generate[:-1] + "a" if generate.endswith("-") else generate
        causes += [errors.invalid(f"{path}.generateName", generate, m) for m in name_check(masked)]
    else:
        causes.append(errors.required(f"{path}.name", "name or generateName is required"))
    namespace = meta.get("namespace")
    if namespaced:
        if namespace:
            causes += [errors.invalid(f"{path}.namespace", namespace, m) for m in names.dns1123_label(namespace)]
    elif namespace:
        causes.append(errors.forbidden(f"{path}.namespace", "not allowed on this type"))
    causes += validate_labels(meta.get("labels"), f"{path}.labels")
    causes += _annotations(meta.get("annotations"), f"{path}.annotations")
    for index, finalizer in enumerate(meta.get("finalizers") or ()):
        causes += [errors.invalid(f"{path}.finalizers[{index}]", finalizer, m) for m in names.qualified_name(finalizer)]
    for index, ref in enumerate(meta.get("ownerReferences") or ()):
        for key in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(key):
                causes.append(errors.required(f"{path}.ownerReferences[{index}].{key}"))
    return causes


def validate_labels(labels: dict[str, str] | None, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for key, value in (labels or {}).items():
        causes += [errors.invalid(path, key, m) for m in names.qualified_name(key)]
        causes += [errors.invalid(path, value, m) for m in names.label_value(value)]
    return causes


def _annotations(annotations: dict[str, str] | None, path: str) -> list[Cause]:
    causes: list[Cause] = []
    total = 0
    for key, value in (annotations or {}).items():
        causes += [errors.invalid(path, key, m) for m in names.qualified_name(key.lower())]
        total += len(key) + len(value)
    if total > TOTAL_ANNOTATION_SIZE:
        causes.append(Cause(errors.TOO_LONG, f"Too long: must have at most {TOTAL_ANNOTATION_SIZE} bytes", path))
    return causes


def immutable(path: str, new: Any, old: Any) -> list[Cause]:
    """Kubernetes' ``field is immutable`` check for one field."""
    return [] if new == old else [errors.invalid(path, new, "field is immutable")]


def validate_object_meta_update(meta: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    for key in ("name", "namespace"):
        causes += immutable(f"metadata.{key}", meta.get(key, ""), old.get(key, ""))
    # The server copies uid and creationTimestamp from the stored object when a client leaves them out.
    for key in ("uid", "creationTimestamp"):
        if meta.get(key) and old.get(key):
            causes += immutable(f"metadata.{key}", meta[key], old[key])
    return causes
