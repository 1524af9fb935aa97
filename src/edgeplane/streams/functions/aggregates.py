"""Aggregate functions (eKuiper: docs/en_US/sqls/functions/aggregate_functions.md).

Every aggregate is an accumulator class: the engine makes one per group per window and calls ``add`` per
row, so avg, count, sum, min, max, stddev(s) and var(s) keep constant memory (count, sums, Welford's
running mean and squared deviations) however many rows a window holds. collect, median and the
percentiles must keep the values by definition. The list form ``impl(*columns)`` that the registry also
asks for is derived from the same class, so the two can never disagree.

Nil values are ignored (except by collect, which keeps them, and count(*), which counts rows). An
aggregate over no values is nil, except count which is 0 and merge_agg which is ``{}``.

``deduplicate`` needs the whole row: its accumulator and impl carry ``wants_row = True`` and take the row
as an extra last argument.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from edgeplane.streams.functions._values import bad_arg, fail, hash_key, to_bool, to_float, type_name
from edgeplane.streams.functions.registry import aggregate


def _over_columns(cls: type) -> Callable[..., Any]:
    """The list form of an accumulator: ``impl(col1, col2, ...)`` adds the rows in order."""

    def impl(*columns: list) -> Any:
        acc = cls()
        add = acc.add
        for row in zip(*columns, strict=True):
            add(*row)
        return acc.result()

    impl.__name__ = cls.__name__.lower()
    impl.wants_row = getattr(cls, "wants_row", False)  # type: ignore[attr-defined]
    return impl


def _declare(name: str, min_args: int, max_args: int | None = None, **kw: Any) -> Callable[[type], type]:
    def deco(cls: type) -> type:
        aggregate(name, min_args, max_args, accumulator=cls, doc=(cls.__doc__ or "").strip(), **kw)(
            _over_columns(cls)
        )
        return cls

    return deco


def _number(fn: str, value: Any) -> int | float:
    t = type(value)
    if t is int or t is float:
        return value
    bad_arg(fn, 0, "a number", value)


@_declare("count", 0, 1, null_in_null_out=True)
class Count:
    """count(*) counts rows; count(col) counts the rows where col is not nil."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0

    def add(self, value: Any = True) -> None:
        if value is not None:
            self.n += 1

    def result(self) -> int:
        return self.n


@_declare("sum", 1, null_in_null_out=True)
class Sum:
    """The sum of the values: a bigint when every value is a bigint, a float otherwise."""

    __slots__ = ("seen", "total")

    def __init__(self) -> None:
        self.total: int | float = 0
        self.seen = False

    def add(self, value: Any) -> None:
        t = type(value)
        if t is int or t is float:
            self.total += value
            self.seen = True
        elif value is not None:
            bad_arg("sum", 0, "a number", value)

    def result(self) -> int | float | None:
        return self.total if self.seen else None


@_declare("avg", 1, null_in_null_out=True)
class Avg:
    """The average: over bigints an integer (eKuiper divides the bigint sum as an integer), else a float."""

    __slots__ = ("integral", "n", "total")

    def __init__(self) -> None:
        self.total: int | float = 0
        self.n = 0
        self.integral = True

    def add(self, value: Any) -> None:
        t = type(value)
        if t is int:
            self.total += value
            self.n += 1
        elif t is float:
            self.total += value
            self.n += 1
            self.integral = False
        elif value is not None:
            bad_arg("avg", 0, "a number", value)

    def result(self) -> int | float | None:
        if not self.n:
            return None
        if self.integral:
            q = abs(self.total) // self.n  # Go's integer division truncates toward zero
            return -q if self.total < 0 else q
        return self.total / self.n


class _Extreme:
    """Shared by max and min: numbers or strings (not mixed), nil ignored."""

    __slots__ = ("best", "kind")
    name = ""

    def __init__(self) -> None:
        self.best: Any = None
        self.kind: type | None = None

    def better(self, value: Any, best: Any) -> bool:
        raise NotImplementedError

    def add(self, value: Any) -> None:
        if value is None:
            return
        t = type(value)
        kind = float if (t is int or t is float) else str if t is str else None
        if kind is None:
            bad_arg(self.name, 0, "a number or a string", value)
        if self.kind is None:
            self.kind, self.best = kind, value
        elif kind is not self.kind:
            fail(self.name, f"cannot compare {type_name(value)} {value!r} with {type_name(self.best)} values")
        elif self.better(value, self.best):
            self.best = value

    def result(self) -> Any:
        return self.best


@_declare("max", 1, null_in_null_out=True)
class Max(_Extreme):
    """The greatest value."""

    __slots__ = ()
    name = "max"

    def better(self, value: Any, best: Any) -> bool:
        return value > best


@_declare("min", 1, null_in_null_out=True)
class Min(_Extreme):
    """The least value."""

    __slots__ = ()
    name = "min"

    def better(self, value: Any, best: Any) -> bool:
        return value < best


class _Moments:
    """Welford's online mean and sum of squared deviations: exact enough, constant memory."""

    __slots__ = ("m2", "mean", "n")
    name = ""
    sample = False

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0

    def add(self, value: Any) -> None:
        if value is None:
            return
        x = _number(self.name, value)
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)

    def variance(self) -> float | None:
        denominator = self.n - 1 if self.sample else self.n
        if denominator <= 0:
            return None
        return self.m2 / denominator


@_declare("var", 1, null_in_null_out=True)
class Var(_Moments):
    """The population variance."""

    __slots__ = ()
    name = "var"

    def result(self) -> float | None:
        return self.variance()


@_declare("vars", 1, null_in_null_out=True)
class Vars(_Moments):
    """The sample variance (nil for fewer than two values)."""

    __slots__ = ()
    name, sample = "vars", True

    def result(self) -> float | None:
        return self.variance()


@_declare("stddev", 1, null_in_null_out=True)
class Stddev(_Moments):
    """The population standard deviation."""

    __slots__ = ()
    name = "stddev"

    def result(self) -> float | None:
        v = self.variance()
        return None if v is None else math.sqrt(v)


@_declare("stddevs", 1, null_in_null_out=True)
class Stddevs(_Moments):
    """The sample standard deviation (nil for fewer than two values)."""

    __slots__ = ()
    name, sample = "stddevs", True

    def result(self) -> float | None:
        v = self.variance()
        return None if v is None else math.sqrt(v)


@_declare("collect", 1)
class Collect:
    """The values (or whole rows for collect(*)) as an array, nil values included."""

    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values: list = []

    def add(self, value: Any) -> None:
        self.values.append(value)

    def result(self) -> list:
        return self.values


@_declare("last_value", 1, 2)
class LastValue:
    """last_value(col[, ignoreNull=true]): the last value in the group, skipping nil when ignoreNull."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last: Any = None

    def add(self, value: Any, ignore_null: Any = True) -> None:
        skip_nil = ignore_null is True or to_bool("last_value", 1, ignore_null)
        if value is not None or not skip_nil:
            self.last = value

    def result(self) -> Any:
        return self.last


@_declare("merge_agg", 1)
class MergeAgg:
    """The union of the objects' keys, later values winning; non-objects are ignored."""

    __slots__ = ("merged",)

    def __init__(self) -> None:
        self.merged: dict = {}

    def add(self, value: Any) -> None:
        if type(value) is dict:
            self.merged.update(value)

    def result(self) -> dict:
        return self.merged


@_declare("deduplicate", 2, constant_args=(1,))
class Deduplicate:
    """deduplicate(col, all): with all, the rows whose col was not seen before in the group; without,
    the latest row if its col is new, else nil."""

    __slots__ = ("all", "last_new", "rows", "seen")
    wants_row = True

    def __init__(self) -> None:
        self.seen: set = set()
        self.rows: list = []
        self.last_new: Any = None
        self.all = True

    def add(self, key: Any, all_rows: Any, row: Any = None) -> None:
        self.all = to_bool("deduplicate", 1, all_rows)
        item = key if row is None else row
        k = hash_key(key)
        if k in self.seen:
            self.last_new = None
            return
        self.seen.add(k)
        self.last_new = item
        if self.all:
            self.rows.append(item)

    def result(self) -> Any:
        return self.rows if self.all else self.last_new


class _Distribution:
    """The numeric values, kept: median and the percentiles need them all."""

    __slots__ = ("fraction", "values")
    name = ""

    def __init__(self) -> None:
        self.values: list[int | float] = []
        self.fraction: float | None = None

    def add(self, value: Any, fraction: Any = None) -> None:
        if fraction is not None and self.fraction is None:
            p = to_float(self.name, 1, fraction)
            if not 0.0 <= p <= 1.0:
                fail(self.name, f"the percentile must be between 0.0 and 1.0, got {p}")
            self.fraction = p
        if value is not None:
            self.values.append(_number(self.name, value))

    def percent(self) -> float:
        return 100.0 * (self.fraction if self.fraction is not None else 0.5)


@_declare("median", 1, null_in_null_out=True)
class Median(_Distribution):
    """The middle value (the mean of the two middle values for an even count)."""

    __slots__ = ()
    name = "median"

    def result(self) -> float | None:
        if not self.values:
            return None
        data = sorted(self.values)
        mid = len(data) // 2
        return float(data[mid]) if len(data) % 2 else (data[mid - 1] + data[mid]) / 2


@_declare("percentile_cont", 2, null_in_null_out=True, constant_args=(1,), aliases=("percentile",))
class PercentileCont(_Distribution):
    """percentile_cont(col, p): the p-quantile (0.0-1.0) as eKuiper computes it (montanaflynn/stats
    Percentile): rank p*n; a whole rank picks that value, otherwise the mean of the two around it."""

    __slots__ = ()
    name = "percentile_cont"

    def result(self) -> float | None:
        n = len(self.values)
        if n == 0:
            return None
        data = sorted(self.values)
        if n == 1:
            return float(data[0])
        percent = self.percent()
        if percent <= 0:
            return None  # out of bounds for the Go library: eKuiper yields nil
        rank = percent / 100 * n
        if rank.is_integer():
            return float(data[int(rank) - 1])
        if rank > 1:
            i = int(rank)
            return (data[i - 1] + data[i]) / 2
        return None


@_declare("percentile_disc", 2, null_in_null_out=True, constant_args=(1,))
class PercentileDisc(_Distribution):
    """percentile_disc(col, p): the nearest-rank p-quantile (0.0-1.0), always one of the values."""

    __slots__ = ()
    name = "percentile_disc"

    def result(self) -> float | None:
        if not self.values:
            return None
        data = sorted(self.values)
        rank = math.ceil(len(data) * self.percent() / 100)
        return float(data[max(rank, 1) - 1])
