"""Array functions (eKuiper: docs/en_US/sqls/functions/array_functions.md).

Elements compare as eKuiper compares them: numbers by value whatever their type, booleans never equal to
numbers, structures by content. Functions return new arrays and never modify their arguments.
"""

from __future__ import annotations

import random
from typing import Any

from edgeplane.streams.functions._declare import variadic_scalar
from edgeplane.streams.functions._values import (
    bad_arg,
    fail,
    hash_key,
    is_number,
    same,
    to_int,
    to_list,
    to_str,
    type_name,
)
from edgeplane.streams.functions.registry import FunctionDef, lookup, scalar


@scalar("cardinality", 1, doc="the number of members of an array; 0 for nil or a non-array")
def cardinality(array: Any) -> int:
    return len(array) if type(array) is list else 0


@scalar("array_cardinality", 1, doc="the number of non-nil members of an array; 0 for nil")
def array_cardinality(array: Any) -> int:
    if array is None:
        return 0
    return sum(1 for v in to_list("array_cardinality", 0, array) if v is not None)


@variadic_scalar("array_create", 0, doc="array_create(v1, v2, ...): an array of the arguments")
def array_create(*values: Any) -> list:
    return list(values)


@scalar("array_position", 2, doc="0-based index of the first occurrence of the value, -1 if absent or nil")
def array_position(array: Any, value: Any) -> int:
    if array is None:
        return -1
    items = to_list("array_position", 0, array)
    for i, item in enumerate(items):
        if same(item, value):
            return i
    return -1


@scalar(
    "array_last_position", 2, doc="0-based index of the last occurrence of the value, -1 if absent or nil"
)
def array_last_position(array: Any, value: Any) -> int:
    if array is None:
        return -1
    items = to_list("array_last_position", 0, array)
    for i in range(len(items) - 1, -1, -1):
        if same(items[i], value):
            return i
    return -1


@scalar(
    "element_at",
    2,
    null_in_null_out=True,
    doc="element_at(array, i) with negative i from the end; element_at(object, key)",
)
def element_at(container: Any, index: Any) -> Any:
    if container is None:
        return None
    if type(container) is dict:
        return container.get(to_str("element_at", 1, index))
    items = to_list("element_at", 0, container)
    i = to_int("element_at", 1, index)
    if i >= len(items) or i < -len(items):
        fail("element_at", f"index {i} out of range for array of length {len(items)}")
    return items[i]


@scalar("array_contains", 2, null_in_null_out=True, doc="whether the array contains the value; nil for nil")
def array_contains(array: Any, value: Any) -> bool | None:
    if array is None:
        return None
    return any(same(item, value) for item in to_list("array_contains", 0, array))


@scalar(
    "array_contains_any",
    2,
    aliases=("array_contain_any",),
    doc="whether the arrays share any member; false when the first is nil",
)
def array_contains_any(first: Any, second: Any) -> bool:
    if first is None:
        return False
    a = to_list("array_contains_any", 0, first)
    if second is None:
        return False
    keys = {hash_key(v) for v in to_list("array_contains_any", 1, second)}
    return any(hash_key(v) in keys for v in a)


@scalar("array_remove", 2, null_in_null_out=True, doc="the array without any occurrence of the value")
def array_remove(array: Any, value: Any) -> list | None:
    if array is None:
        return None
    return [item for item in to_list("array_remove", 0, array) if not same(item, value)]


def _distinct(items: Any, seen: set | None = None) -> list:
    seen = set() if seen is None else seen
    out = []
    for item in items:
        key = hash_key(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


@scalar("array_intersect", 2, null_in_null_out=True, doc="members of both arrays, without duplicates")
def array_intersect(first: Any, second: Any) -> list | None:
    if first is None or second is None:
        return None
    keys = {hash_key(v) for v in to_list("array_intersect", 0, first)}
    return _distinct(v for v in to_list("array_intersect", 1, second) if hash_key(v) in keys)


@scalar("array_union", 2, null_in_null_out=True, doc="members of either array, without duplicates")
def array_union(first: Any, second: Any) -> list | None:
    if first is None or second is None:
        return None
    return _distinct([*to_list("array_union", 0, first), *to_list("array_union", 1, second)])


@scalar(
    "array_except",
    2,
    null_in_null_out=True,
    doc="members of the first array not in the second, without duplicates",
)
def array_except(first: Any, second: Any) -> list | None:
    if first is None:
        return None
    excluded = {hash_key(v) for v in (to_list("array_except", 1, second) if second is not None else ())}
    return _distinct(to_list("array_except", 0, first), excluded)


@scalar("array_distinct", 1, null_in_null_out=True, doc="the array without duplicate members")
def array_distinct(array: Any) -> list | None:
    return None if array is None else _distinct(to_list("array_distinct", 0, array))


def _extreme(name: str, array: Any, better: Any) -> Any:
    if array is None:
        return None
    best: Any = None
    kind = None
    for item in to_list(name, 0, array):
        if item is None:
            continue
        item_kind = "number" if is_number(item) else "string" if type(item) is str else None
        if item_kind is None or (kind is not None and item_kind != kind):
            fail(name, f"members must be all numbers or all strings, found {type_name(item)} {item!r}")
        kind = item_kind
        if best is None or better(item, best):
            best = item
    return best


@scalar("array_max", 1, null_in_null_out=True, doc="the greatest member, nil members ignored")
def array_max(array: Any) -> Any:
    return _extreme("array_max", array, lambda a, b: a > b)


@scalar("array_min", 1, null_in_null_out=True, doc="the least member, nil members ignored")
def array_min(array: Any) -> Any:
    return _extreme("array_min", array, lambda a, b: a < b)


@scalar(
    "array_avg", 1, null_in_null_out=True, doc="the average of the numeric members as a float; nil if none"
)
def array_avg(array: Any) -> float | None:
    if array is None:
        return None
    total, count = 0.0, 0
    for item in to_list("array_avg", 0, array):
        if item is None:
            continue
        if not is_number(item):
            fail("array_avg", f"members must be numbers, found {type_name(item)} {item!r}")
        total += item
        count += 1
    return total / count if count else None


@scalar("repeat", 2, null_in_null_out=True, doc="repeat(value, n): an array of the value n times")
def repeat(value: Any, count: Any) -> list | None:
    if count is None:
        return None
    n = to_int("repeat", 1, count)
    if n < 0:
        fail("repeat", f"count must not be negative, got {n}")
    return [value] * n


@scalar(
    "sequence", 2, 3, null_in_null_out=True, doc="sequence(start, stop[, step]): integers from start to stop"
)
def sequence(start: Any, stop: Any, step: Any = None) -> list | None:
    if start is None or stop is None:
        return None
    a, b = to_int("sequence", 0, start), to_int("sequence", 1, stop)
    if step is None:
        s = 1 if a <= b else -1
    else:
        s = to_int("sequence", 2, step)
        if s == 0:
            fail("sequence", "step must not be 0")
    if (b - a) * s < 0:
        return []
    return list(range(a, b + (1 if s > 0 else -1), s))


@scalar("array_flatten", 1, null_in_null_out=True, doc="an array of arrays as one array")
def array_flatten(array: Any) -> list | None:
    if array is None:
        return None
    out: list = []
    for item in to_list("array_flatten", 0, array):
        if type(item) is not list:
            fail("array_flatten", f"members must be arrays, found {type_name(item)} {item!r}")
        out.extend(item)
    return out


@scalar("array_map", 2, doc="array_map(function_name, array): the one-argument scalar applied to each member")
def array_map(function_name: Any, array: Any) -> list | None:
    name = to_str("array_map", 0, function_name)
    fn = _map_functions.get(name)
    if fn is None:
        fn = lookup(name)
        if fn is None:
            fail("array_map", f"unknown function {name!r}")
        if (
            fn.kind != "scalar"
            or fn.needs_context
            or not (fn.min_args <= 1 and (fn.max_args is None or fn.max_args >= 1))
        ):
            fail("array_map", f"{name} is not a scalar function taking one argument")
        _map_functions[name] = fn
    if array is None:
        return None
    impl = fn.impl
    return [impl(item) for item in to_list("array_map", 1, array)]


_map_functions: dict[str, FunctionDef] = {}


@scalar("array_join", 2, 3, doc="array_join(array, delimiter[, null_replacement]): string members joined")
def array_join(array: Any, delimiter: Any, null_replacement: Any = None) -> str | None:
    if array is None:
        return None
    sep = to_str("array_join", 1, delimiter)
    replacement = "" if null_replacement is None else to_str("array_join", 2, null_replacement)
    parts = []
    for item in to_list("array_join", 0, array):
        if item is None:
            parts.append(replacement)
        elif type(item) is str:
            parts.append(item)
        else:
            fail("array_join", f"members must be strings, found {type_name(item)} {item!r}")
    return sep.join(parts)


@scalar("array_shuffle", 1, null_in_null_out=True, doc="the members in random order")
def array_shuffle(array: Any) -> list | None:
    if array is None:
        return None
    items = list(to_list("array_shuffle", 0, array))
    random.shuffle(items)
    return items


@variadic_scalar("array_concat", 1, doc="array_concat(a1, a2, ...): the arrays joined; nil counts as empty")
def array_concat(*arrays: Any) -> list:
    out: list = []
    for i, array in enumerate(arrays):
        if array is not None:
            out.extend(to_list("array_concat", i, array))
    return out


def _sort_key(value: Any) -> tuple:
    if is_number(value):
        return (0, value, "")
    if type(value) is str:
        return (1, 0, value)
    if type(value) is bool:
        return (2, int(value), "")
    return (3, 0, repr(value))


@scalar("array_sort", 1, null_in_null_out=True, doc="a sorted copy: numbers first, then strings")
def array_sort(array: Any) -> list | None:
    if array is None:
        return None
    return sorted(to_list("array_sort", 0, array), key=_sort_key)


@scalar(
    "kvpair_array_to_obj",
    1,
    null_in_null_out=True,
    doc='kvpair_array_to_obj([{"key": k, "value": v}, ...]): an object {k: v, ...}',
)
def kvpair_array_to_obj(array: Any) -> dict | None:
    if array is None:
        return None
    out = {}
    for item in to_list("kvpair_array_to_obj", 0, array):
        if type(item) is not dict or "key" not in item:
            bad_arg("kvpair_array_to_obj", 0, 'an array of {"key": ..., "value": ...} objects', item)
        out[to_str("kvpair_array_to_obj", 0, item["key"])] = item.get("value")
    return out
