"""Other functions (eKuiper: docs/en_US/sqls/functions/other_functions.md) that need no engine state.

The context functions (meta, mqtt, event_time, rule_id, window_start, window_end) are registered by the
rule runtime, which owns that state.
"""

from __future__ import annotations

import uuid
from typing import Any

from edgeplane.streams.functions import clock
from edgeplane.streams.functions._declare import variadic_scalar
from edgeplane.streams.functions.registry import scalar


@scalar("isnull", 1, doc="whether the argument is nil")
def isnull(value: Any) -> bool:
    return value is None


@variadic_scalar("coalesce", 1, doc="the first argument that is not nil, or nil")
def coalesce(*values: Any) -> Any:
    for value in values:
        if value is not None:
            return value
    return None


@scalar("newuuid", 0, doc="a random UUID as text")
def newuuid() -> str:
    return str(uuid.uuid4())


@scalar("tstamp", 0, doc="the current time in milliseconds since the epoch")
def tstamp() -> int:
    return clock.now_ms()
