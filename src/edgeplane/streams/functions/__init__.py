"""The stream SQL function catalogue, complete on import.

Each family module registers its functions with ``registry`` when imported; the rule compiler then looks
names up with ``registry.lookup`` once per rule. Users add their own scalars with ``register_scalar``::

    from edgeplane.streams.functions import register_scalar
    register_scalar("f_to_c", lambda f: (f - 32) * 5 / 9, 1)
"""

from edgeplane.streams.functions import (  # noqa: F401  (imported for their registrations)
    aggregates,
    analytics,
    arrays,
    conversion,
    datetime,
    hashing,
    json_path,
    math,
    objects,
    other,
    srf,
    strings,
)
from edgeplane.streams.functions.clock import set_clock
from edgeplane.streams.functions.registry import (
    Accumulator,
    CallContext,
    FunctionDef,
    FunctionError,
    catalogue,
    lookup,
    register,
    register_scalar,
)

__all__ = [
    "Accumulator",
    "CallContext",
    "FunctionDef",
    "FunctionError",
    "catalogue",
    "lookup",
    "register",
    "register_scalar",
    "set_clock",
]
