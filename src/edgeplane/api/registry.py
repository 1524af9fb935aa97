"""The resource types the API serves: built-in kinds and the custom resources CRDs add.

A ResourceType bundles everything the API server needs to know about one group/version/kind: discovery
names, its schema (compiled once into a validator), defaulting, per-kind rules, table printing, field
selectors, scale paths and patch metadata.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from edgeplane.api import errors
from edgeplane.api.errors import Cause
from edgeplane.api.fields import Getter
from edgeplane.api.metadata import NameCheck, validate_object_meta, validate_object_meta_update
from edgeplane.api.patchmeta import PatchMeta
from edgeplane.api.rules import Rule
from edgeplane.api.schema import SchemaPatchMeta, definitions
from edgeplane.api.structural import FIELD_VALIDATION_MODES, STRICT, Run, Validator
from edgeplane.api.tables import TablePrinter

STANDARD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
SUBRESOURCE_VERBS = {
    "status": ("get", "patch", "update"),
    "scale": ("get", "patch", "update"),
    "binding": ("create",),
    "eviction": ("create",),
    "log": ("get",),
    "exec": ("create", "get"),
    "attach": ("create", "get"),
    "portforward": ("create", "get"),
}


@dataclass(eq=False)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    definition_name: str
    printer: TablePrinter
    name_check: NameCheck
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = STANDARD_VERBS
    subresources: frozenset[str] = frozenset()
    list_kind: str = ""
    is_crd: bool = False
    crd_name: str = ""
    rules: Rule | None = None
    defaulter: Callable[[dict[str, Any]], None] | None = None
    field_getters: dict[str, Getter] = field(default_factory=dict)
    scale: tuple[str, str, str | None] | None = None
    # Builds the structural validator on first use (CRDs pass their own; built-ins compile Kubernetes' schema).
    compile_validator: Callable[[], Validator] | None = None
    schema: dict[str, Any] | None = None
    _validator: Validator | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.list_kind:
            self.list_kind = self.kind + "List"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    # --- write path -----------------------------------------------------------------------------------

    def apply_defaults(self, obj: dict[str, Any]) -> None:
        """Kubernetes' defaults, in place. Malformed input is left for validate() to report."""
        if self.defaulter is None:
            return
        try:
            self.defaulter(obj)
        except (AttributeError, TypeError, KeyError):
            pass

    def validator(self) -> Validator:
        if self._validator is None:
            if self.compile_validator is None:
                raise RuntimeError(f"{self.kind}: no schema to validate against")
            self._validator = self.compile_validator()
        return self._validator

    def validate(
        self, obj: dict[str, Any], old: dict[str, Any] | None = None, field_validation: str = STRICT
    ) -> tuple[list[Cause], list[str]]:
        """(causes, warnings); no causes means valid. Unknown fields are pruned in place (Warn, Ignore).

        Structural problems (wrong types, unknown fields under Strict) are reported alone, as Kubernetes
        fails decoding before it validates. Unknown-field causes are ``errors.unknown_field`` causes.
        """
        if field_validation not in FIELD_VALIDATION_MODES:
            raise ValueError(f"fieldValidation must be one of {', '.join(FIELD_VALIDATION_MODES)}, "
                             f"not {field_validation!r}")
        if type(obj) is not dict:
            return [errors.type_invalid("", obj, "object")], []
        run = Run(field_validation)
        self.validator()(obj, "", run)
        if run.causes:
            return run.causes, run.warnings
        meta = obj.get("metadata") or {}
        causes = validate_object_meta(meta, namespaced=self.namespaced, name_check=self.name_check)
        if self.rules is not None:
            causes += self.rules(obj, old)
        if old is not None:
            causes += validate_object_meta_update(meta, old.get("metadata") or {})
        return causes, run.warnings

    # --- read path ------------------------------------------------------------------------------------

    def table_columns(self) -> list[dict[str, Any]]:
        return [c.to_dict() for c in self.printer.columns]

    def table_row(self, obj: dict[str, Any], now: datetime) -> list[Any]:
        return self.printer.row(obj, now)

    def patch_meta(self) -> PatchMeta | None:
        if self.is_crd:
            return None
        return SchemaPatchMeta({"$ref": "#/components/schemas/" + self.definition_name})

    def field_value(self, obj: dict[str, Any], path: str) -> str | None:
        getter = self.field_getters.get(path)
        return getter(obj) if getter is not None else None

    def supported_fields(self) -> tuple[str, ...]:
        return tuple(self.field_getters)

    def scale_paths(self) -> tuple[str, str, str | None] | None:
        return self.scale

    def openapi_schema(self) -> dict[str, Any]:
        if self.schema is not None:
            return self.schema
        return definitions()[self.definition_name]

    def __repr__(self) -> str:
        return f"ResourceType({self.api_version}, {self.kind}, {self.plural})"


class Registry:
    """Served resource types by group/version/plural and by kind; ``generation`` bumps on every change."""

    def __init__(self, types: list[ResourceType] | None = None) -> None:
        self._types: list[ResourceType] = []
        self._by_plural: dict[tuple[str, str, str], ResourceType] = {}
        self._by_kind: dict[tuple[str, str, str], ResourceType] = {}
        self.generation = 0
        # Derived documents (discovery, OpenAPI) keyed by whatever their builder likes; dropped on change.
        self.cache: dict[Any, Any] = {}
        for resource in types or ():
            self._add(resource)

    @classmethod
    def builtin(cls) -> Registry:
        from edgeplane.api.builtin import builtin_types

        return cls(builtin_types())

    def _add(self, resource: ResourceType) -> None:
        self._types.append(resource)
        self._by_plural[(resource.group, resource.version, resource.plural)] = resource
        self._by_kind[(resource.group, resource.version, resource.kind)] = resource

    def _changed(self) -> None:
        self.generation += 1
        self.cache.clear()

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_plural.get((group, version, plural))

    def by_kind(self, group: str, version: str, kind: str) -> ResourceType | None:
        return self._by_kind.get((group, version, kind))

    def all(self) -> list[ResourceType]:
        return list(self._types)

    def groups(self) -> list[tuple[str, list[str]]]:
        """(group, versions with the preferred first) in discovery order: built-in groups, then CRD groups."""
        order: list[str] = []
        versions: dict[str, list[str]] = {}
        for resource in self._types:
            if resource.group not in versions:
                order.append(resource.group)
                versions[resource.group] = []
            if resource.version not in versions[resource.group]:
                versions[resource.group].append(resource.version)
        builtin = [g for g in order if not self._is_crd_group(g)]
        custom = sorted(g for g in order if self._is_crd_group(g))
        return [(g, sorted(versions[g], key=version_priority)) for g in builtin + custom]

    def _is_crd_group(self, group: str) -> bool:
        return all(r.is_crd for r in self._types if r.group == group)

    def add_crd(self, crd: dict[str, Any]) -> None:
        """Register (or refresh) the served versions of a CRD; raises ValueError for an invalid CRD."""
        from edgeplane.api.crd import resource_types

        types = resource_types(crd)
        self._drop(crd["metadata"]["name"])
        for resource in types:
            if self.get(resource.group, resource.version, resource.plural) is not None:
                raise ValueError(f"{resource.plural}.{resource.group}/{resource.version} is already served")
            self._add(resource)
        self._changed()

    def remove_crd(self, name: str) -> None:
        if self._drop(name):
            self._changed()

    def _drop(self, crd_name: str) -> bool:
        kept = [r for r in self._types if not (r.is_crd and r.crd_name == crd_name)]
        if len(kept) == len(self._types):
            return False
        self._types = []
        self._by_plural.clear()
        self._by_kind.clear()
        for resource in kept:
            self._add(resource)
        return True


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Kubernetes' version ordering: GA before beta before alpha, higher numbers first, others last by name."""
    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if match is None:
        return (3, 0, 0, version)
    major = int(match[1])
    stage = {None: 0, "beta": 1, "alpha": 2}[match[2]]
    minor = int(match[3] or 0)
    return (stage, -major, -minor, "")
