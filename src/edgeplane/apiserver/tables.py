"""Table output for ``kubectl get``: rows of printable cells, built from each type's column definitions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from edgeplane.api.registry import ResourceType


def row_object(obj: dict[str, Any], include_object: str) -> dict[str, Any] | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def table_row(rt: ResourceType, obj: dict[str, Any], now: datetime, include_object: str) -> dict[str, Any]:
    row: dict[str, Any] = {"cells": rt.table_row(obj, now)}
    embedded = row_object(obj, include_object)
    if embedded is not None:
        row["object"] = embedded
    return row


def to_table(
    rt: ResourceType,
    objs: list[dict[str, Any]],
    *,
    resource_version: str,
    continue_token: str = "",
    include_object: str = "Metadata",
    api_version: str = "meta.k8s.io/v1",
) -> dict[str, Any]:
    now = datetime.now(UTC)
    metadata: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": metadata,
        "columnDefinitions": rt.table_columns(),
        "rows": [table_row(rt, o, now, include_object) for o in objs],
    }
