"""Declaration helpers the families share, beyond the fixed decorators in ``registry``.

``registry.scalar`` reads ``max_args=None`` as "exactly ``min_args``"; functions such as ``concat`` take
any number of arguments, so they are declared here with an open upper bound.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from edgeplane.streams.functions.registry import FunctionDef, Kind, lookup, register


def variadic(kind: Kind, name: str, min_args: int, **kw: Any) -> Callable:
    """Declare a function of any kind that takes ``min_args`` or more arguments."""

    def deco(impl: Callable) -> Callable:
        register(FunctionDef(name, kind, min_args, None, impl, **kw))
        return impl

    return deco


def variadic_scalar(name: str, min_args: int, **kw: Any) -> Callable:
    """Declare a scalar that takes ``min_args`` or more arguments."""
    return variadic("scalar", name, min_args, **kw)


def alias(name: str, *aliases: str) -> None:
    """Register an existing function under more names (eKuiper's synonyms such as ``ceiling``)."""
    fn = lookup(name)
    if fn is None:
        raise KeyError(f"cannot alias unknown function {name!r}")
    for other in aliases:
        register(replace(fn, name=other, aliases=()))
