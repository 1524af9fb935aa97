"""Per-kind validation rules Kubernetes enforces beyond the schema (the checks users actually hit).

Each rule function takes the (structurally valid, defaulted) object and, on update, the stored one, and
returns causes with Kubernetes' field paths and messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edgeplane.api.errors import Cause

Rule = Callable[[dict[str, Any], dict[str, Any] | None], list[Cause]]
