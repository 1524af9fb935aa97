"""What strategic merge patch needs to know about a type: merge keys and patch strategies per field.

The schema module implements this from the OpenAPI extensions ``x-kubernetes-patch-merge-key`` and
``x-kubernetes-patch-strategy``; the patch module only reads it.
"""

from __future__ import annotations

from typing import Protocol


class PatchMeta(Protocol):
    @property
    def merge_key(self) -> str | None:
        """For a list field: the key its items are merged by (``name`` for containers), if any."""

    @property
    def strategies(self) -> tuple[str, ...]:
        """This field's patch strategies: ``("merge",)``, ``("replace",)``, ``("retainKeys",)``,
        ``("merge", "retainKeys")`` or ``()`` when the field has none."""

    def field(self, name: str) -> PatchMeta | None:
        """The meta of child field ``name`` of this object (None when unknown: treat as atomic/replace
        for lists and recursive merge for maps, as Kubernetes does for unknown fields)."""

    def items(self) -> PatchMeta | None:
        """The meta of this list's items, or of this map's values (``additionalProperties``)."""
