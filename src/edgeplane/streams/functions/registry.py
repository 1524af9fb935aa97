"""The catalogue of stream SQL functions, and how a function is declared.

Function families (math, string, aggregate, ...) live in modules beside this one and register
themselves with ``@scalar``, ``@aggregate`` or ``@analytic``. The rule compiler looks names up here
(case-insensitively) once, when a rule is compiled; nothing is looked up per message. Users add their
own functions the same way (``edgeplane.streams.functions.register_scalar``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Kind = Literal["scalar", "aggregate", "analytic", "srf"]


class FunctionError(Exception):
    """A function was called with arguments it cannot take (wrong count, wrong type).

    Raised at compile time for a wrong argument count, and at run time for a bad value: the engine
    counts it against the rule, drops that message's result, and goes on."""


class _NotConstant:
    """Stands for an argument whose value is only known per message, in what ``validate_args`` sees."""

    def __repr__(self) -> str:
        return "NOT_CONSTANT"


NOT_CONSTANT: Any = _NotConstant()


class CallContext(Protocol):
    """What the engine gives functions declared with ``needs_context=True``."""

    rule_id: str
    def meta(self, key: str) -> Any: ...  # meta(topic), meta(device), ... of the current message
    def event_time(self) -> int: ...  # ms since the epoch of the current message
    def window_start(self) -> int | None: ...
    def window_end(self) -> int | None: ...


class Accumulator(Protocol):
    """An incremental aggregate: one instance per group per window; ``add`` per row."""

    def add(self, *args: Any) -> None: ...
    def result(self) -> Any: ...


@dataclass(slots=True)
class FunctionDef:
    name: str
    kind: Kind
    min_args: int
    max_args: int | None  # None: any number
    # scalar / srf: impl(*args) -> value (srf: an iterable of values or of dicts);
    #   with needs_context, impl(ctx, *args).
    # aggregate: impl(*columns) -> value, each column the list of that argument's values over the group
    #   (used when no accumulator fits); accumulator: a class whose instances add() row by row.
    # analytic: impl is a class; the engine keeps one instance per call site and partition and calls
    #   instance(*args) -> value for each row on which the OVER (WHEN ...) condition holds.
    impl: Callable[..., Any]
    accumulator: type | None = None
    needs_context: bool = False
    # Aggregates that ignore nulls (most do), and scalars that return null when any argument is null.
    null_in_null_out: bool = False
    # Arguments that must be constants (indexes from 0), checked at compile time: percentile's fraction.
    constant_args: tuple[int, ...] = ()
    # Compile-time check of a call: validate_args(args), args[i] the literal value of argument i or
    # NOT_CONSTANT; raises FunctionError for a call that could never succeed (cast(x, "decimal")).
    validate_args: Callable[[tuple[Any, ...]], None] | None = None
    # Multi-column functions (changed_cols): arguments from this index on are passed as (name, value)
    # pairs, named after the column (``*`` as a {name: value} mapping of the row); the result is a
    # mapping whose entries become columns of the output row.
    named_args_from: int | None = None
    doc: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)


_CATALOGUE: dict[str, FunctionDef] = {}


def register(fn: FunctionDef) -> FunctionDef:
    for name in (fn.name, *fn.aliases):
        _CATALOGUE[name.lower()] = fn
    return fn


def lookup(name: str) -> FunctionDef | None:
    return _CATALOGUE.get(name.lower())


def catalogue() -> dict[str, FunctionDef]:
    return dict(_CATALOGUE)


def scalar(name: str, min_args: int, max_args: int | None = None, **kw: Any) -> Callable:
    def deco(impl: Callable) -> Callable:
        register(FunctionDef(name, "scalar", min_args, min_args if max_args is None else max_args, impl, **kw))
        return impl
    return deco


def aggregate(name: str, min_args: int, max_args: int | None = None, accumulator: type | None = None, **kw: Any) -> Callable:
    def deco(impl: Callable) -> Callable:
        register(FunctionDef(name, "aggregate", min_args, min_args if max_args is None else max_args, impl,
                             accumulator=accumulator, **kw))
        return impl
    return deco


def analytic(name: str, min_args: int, max_args: int | None = None, **kw: Any) -> Callable:
    def deco(cls: type) -> type:
        register(FunctionDef(name, "analytic", min_args, min_args if max_args is None else max_args, cls, **kw))
        return cls
    return deco


def register_scalar(name: str, impl: Callable[..., Any], min_args: int = 0, max_args: int | None = None) -> None:
    """Register a user function: ``register_scalar("f_to_c", lambda f: (f - 32) * 5 / 9, 1)``."""
    register(FunctionDef(name, "scalar", min_args, max_args if max_args is not None else min_args, impl))
