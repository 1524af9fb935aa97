"""System-owned metadata: uids, timestamps, generated names, resourceVersions."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

# Kubernetes' generateName suffix alphabet: no vowels (no words), no look-alikes.
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uid() -> str:
    return str(uuid.uuid4())


def generated_name(prefix: str) -> str:
    return prefix[:58] + "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(5))


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    m = obj.get("metadata")
    if not isinstance(m, dict):
        m = obj["metadata"] = {}
    return m


def parse_resource_version(value: str | None, what: str = "resourceVersion") -> int:
    """'' -> 0; otherwise a positive integer, or a 400 naming the bad value."""
    from edgeplane.api import errors

    if value in (None, ""):
        return 0
    try:
        rv = int(value)
    except ValueError:
        raise errors.bad_request(f'invalid {what} "{value}": must be a non-negative integer') from None
    if rv < 0:
        raise errors.bad_request(f'invalid {what} "{value}": must be a non-negative integer')
    return rv
