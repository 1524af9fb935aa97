"""Analytic functions (eKuiper: docs/en_US/sqls/functions/analytic_functions.md).

Each function is a class; the engine keeps one instance per call site and partition (OVER (PARTITION BY
...)) for the life of the rule. It calls ``instance(*args)`` for each row on which the OVER (WHEN ...)
condition holds, which updates the state and gives the row's value. For a row on which the condition does
not hold, ``instance.skip(*args)`` gives the value eKuiper shows there (the saved state, nil or false)
without touching the state.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from edgeplane.streams.functions._declare import variadic
from edgeplane.streams.functions._values import bad_arg, fail, hash_key, to_bool, to_int
from edgeplane.streams.functions.registry import analytic


def _same_value(a: Any, b: Any) -> bool:
    # Deep equality where 1 equals 1.0 (eKuiper reads JSON numbers as floats) but never equals true.
    return a is b or hash_key(a) == hash_key(b)


@analytic(
    "lag",
    1,
    4,
    constant_args=(1,),
    doc="lag(expr[, offset=1[, default=nil[, ignoreNull=false]]]): the value offset rows before",
)
class Lag:
    __slots__ = ("window",)

    def __init__(self) -> None:
        self.window: deque | None = None

    def _ready(self, offset: Any, default: Any) -> deque:
        if self.window is None:
            size = to_int("lag", 1, offset)
            if size < 1:
                fail("lag", f"the offset must be 1 or more, got {size}")
            # The first call's default fills the history, as in eKuiper.
            self.window = deque([default] * size, maxlen=size)
        return self.window

    def __call__(self, value: Any, offset: Any = 1, default: Any = None, ignore_null: Any = False) -> Any:
        window = self._ready(offset, default)
        if value is None and to_bool("lag", 3, ignore_null):
            return window[0]
        previous = window[0]
        window.append(value)
        return previous

    def skip(self, value: Any, offset: Any = 1, default: Any = None, ignore_null: Any = False) -> Any:
        return self._ready(offset, default)[0]


@analytic("latest", 1, 2, doc="latest(expr[, default]): the latest non-nil value of expr, else the default")
class Latest:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: Any = None

    def __call__(self, value: Any, default: Any = None) -> Any:
        if value is None:
            return self.value if self.value is not None else default
        self.value = value
        return value

    def skip(self, value: Any, default: Any = None) -> Any:
        if value is None:
            return self.value if self.value is not None else default
        return value


@analytic(
    "changed_col", 2, doc="changed_col(ignoreNull, expr): expr when it differs from the last value, else nil"
)
class ChangedCol:
    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: Any = None

    def __call__(self, ignore_null: Any, value: Any) -> Any:
        skip_nil = ignore_null is True or to_bool("changed_col", 0, ignore_null)
        if value is None and skip_nil:
            return None
        if _same_value(value, self.last):
            return None
        self.last = value
        return value

    def skip(self, ignore_null: Any, value: Any) -> None:
        return None


@variadic(
    "analytic",
    "had_changed",
    2,
    doc="had_changed(ignoreNull, expr1, ...): whether any expr changed since last time",
)
class HadChanged:
    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: list[Any] = []

    def __call__(self, ignore_null: Any, *values: Any) -> bool:
        skip_nil = to_bool("had_changed", 0, ignore_null)
        last = self.last
        if len(last) < len(values):
            last.extend([None] * (len(values) - len(last)))
        changed = False
        for i, value in enumerate(values):
            if value is None and skip_nil:
                continue
            if not _same_value(value, last[i]):
                last[i] = value
                changed = True
        return changed

    def skip(self, ignore_null: Any, *values: Any) -> bool:
        return False


@variadic(
    "analytic",
    "changed_cols",
    3,
    named_args_from=2,
    doc="changed_cols(prefix, ignoreNull, expr, ...): the columns whose value changed, names prefixed",
)
class ChangedCols:
    """Multi-column output: called as ``instance(prefix, ignoreNull, col1, col2, ...)`` where each column is
    a ``(name, value)`` pair for a selected expression (its output name) or a ``{name: value}`` mapping
    (``*`` expanded to the row); returns the changed columns as ``{prefix + name: value}``."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: dict[str, Any] = {}

    def __call__(self, prefix: Any, ignore_null: Any, *columns: Any) -> dict:
        if type(prefix) is not str:
            bad_arg("changed_cols", 0, "a string prefix", prefix)
        skip_nil = to_bool("changed_cols", 1, ignore_null)
        out: dict[str, Any] = {}
        last = self.last
        for i, column in enumerate(columns, start=2):
            if type(column) is dict:
                pairs = column.items()
            elif type(column) is tuple and len(column) == 2 and type(column[0]) is str:
                pairs = (column,)
            else:
                bad_arg("changed_cols", i, "a (name, value) pair or a name -> value mapping", column)
            for name, value in pairs:
                if value is None and (skip_nil or name not in last):
                    continue  # nil never counts as a change when ignored, nor before any value was seen
                if name in last and _same_value(value, last[name]):
                    continue
                last[name] = value
                out[prefix + name] = value
        return out

    def skip(self, prefix: Any, ignore_null: Any, *columns: Any) -> dict:
        return {}


class _Accumulating:
    """acc_*: running figures over the whole life of the rule (or partition); nil values are skipped."""

    __slots__ = ("state",)
    name = ""
    initial: Any = None

    def __init__(self) -> None:
        self.state: Any = self.initial

    def fold(self, state: Any, value: Any) -> Any:
        raise NotImplementedError

    def __call__(self, value: Any) -> Any:
        if value is not None:
            t = type(value)
            if t is not int and t is not float:
                bad_arg(self.name, 0, "a number", value)
            self.state = self.fold(self.state, value)
        return self.result()

    def result(self) -> Any:
        return self.state

    def skip(self, value: Any) -> Any:
        return self.result()


@analytic("acc_sum", 1, doc="acc_sum(expr): the running sum")
class AccSum(_Accumulating):
    __slots__ = ()
    name = "acc_sum"

    def fold(self, state: Any, value: Any) -> Any:
        return value if state is None else state + value


@analytic("acc_max", 1, doc="acc_max(expr): the running maximum")
class AccMax(_Accumulating):
    __slots__ = ()
    name = "acc_max"

    def fold(self, state: Any, value: Any) -> Any:
        return value if state is None or value > state else state


@analytic("acc_min", 1, doc="acc_min(expr): the running minimum")
class AccMin(_Accumulating):
    __slots__ = ()
    name = "acc_min"

    def fold(self, state: Any, value: Any) -> Any:
        return value if state is None or value < state else state


@analytic("acc_count", 1, doc="acc_count(expr): the running count of non-nil values")
class AccCount(_Accumulating):
    __slots__ = ()
    name = "acc_count"
    initial = 0

    def __call__(self, value: Any) -> int:
        if value is not None:
            self.state += 1
        return self.state


@analytic("acc_avg", 1, doc="acc_avg(expr): the running average, as a float")
class AccAvg(_Accumulating):
    __slots__ = ("count",)
    name = "acc_avg"

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def fold(self, state: Any, value: Any) -> Any:
        self.count += 1
        return value if state is None else state + value

    def result(self) -> float | None:
        return None if self.state is None else self.state / self.count
