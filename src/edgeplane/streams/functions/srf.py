"""Set-returning functions (eKuiper: docs/en_US/sqls/functions/multi_row_functions.md).

``unnest(array)`` turns one row into one row per member; when the members are objects the engine spreads
their keys into columns. ``row_number`` depends on the engine's row order and is registered by the runtime.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from edgeplane.streams.functions._values import to_list
from edgeplane.streams.functions.registry import FunctionDef, register


def unnest(array: Any) -> Iterable[Any]:
    """The members of the array, one per output row; nil gives no rows."""
    if array is None:
        return ()
    return to_list("unnest", 0, array)


register(FunctionDef("unnest", "srf", 1, 1, unnest, doc="unnest(array): one row per member"))
