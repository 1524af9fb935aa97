"""What every component needs of an API client; RESTClient (HTTP) and LocalClient (in-process) provide it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol


class Client(Protocol):
    async def get(self, api_version: str, resource: str, name: str, namespace: str = "") -> dict[str, Any]: ...

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
    ) -> dict[str, Any]: ...

    async def create(
        self, api_version: str, resource: str, body: dict[str, Any], namespace: str = ""
    ) -> dict[str, Any]: ...

    async def update(
        self, api_version: str, resource: str, body: dict[str, Any], namespace: str = "", subresource: str = ""
    ) -> dict[str, Any]: ...

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
    ) -> dict[str, Any]: ...

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
    ) -> dict[str, Any]: ...

    def watch(
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
    ) -> AsyncIterator[dict[str, Any]]: ...
