"""Object functions (eKuiper: docs/en_US/sqls/functions/object_functions.md). Objects are ``dict``s; the
functions return new objects and keep their arguments unchanged."""

from __future__ import annotations

from typing import Any

from edgeplane.streams.functions._declare import variadic_scalar
from edgeplane.streams.functions._values import bad_arg, fail, to_dict, to_list, to_str, type_name
from edgeplane.streams.functions.registry import scalar


@scalar("keys", 1, null_in_null_out=True, doc='keys({"a":1, "b":2}) is ["a","b"]')
def keys(obj: Any) -> list | None:
    return None if obj is None else list(to_dict("keys", 0, obj))


@scalar("object_size", 1, null_in_null_out=True, doc="the number of keys of the object")
def object_size(obj: Any) -> int | None:
    return None if obj is None else len(to_dict("object_size", 0, obj))


@scalar("values", 1, null_in_null_out=True, doc='values({"a":1, "b":2}) is [1,2]')
def values(obj: Any) -> list | None:
    return None if obj is None else list(to_dict("values", 0, obj).values())


@scalar("object", 2, null_in_null_out=True, doc='object(["a","b"], [1,2]) is {"a":1, "b":2}')
def object_(keys_: Any, values_: Any) -> dict | None:
    if keys_ is None or values_ is None:
        return None
    names, items = to_list("object", 0, keys_), to_list("object", 1, values_)
    if len(names) != len(items):
        fail("object", f"keys and values must have the same length, got {len(names)} and {len(items)}")
    if not names:
        return None
    for name in names:
        if type(name) is not str:
            bad_arg("object", 0, "an array of strings", name)
    return dict(zip(names, items, strict=True))


@scalar("zip", 1, null_in_null_out=True, doc='zip([["a",1],["b",2]]) is {"a":1, "b":2}')
def zip_(entries: Any) -> dict | None:
    if entries is None:
        return None
    pairs = to_list("zip", 0, entries)
    if not pairs:
        return None
    out = {}
    for pair in pairs:
        if type(pair) is not list or len(pair) != 2:
            bad_arg("zip", 0, "an array of [key, value] pairs", pair)
        if type(pair[0]) is not str:
            fail("zip", f"the key of each pair must be a string, got {type_name(pair[0])} {pair[0]!r}")
        out[pair[0]] = pair[1]
    return out


@scalar("items", 1, null_in_null_out=True, doc='items({"a":1, "b":2}) is [["a",1],["b",2]]')
def items(obj: Any) -> list | None:
    if obj is None:
        return None
    mapping = to_dict("items", 0, obj)
    if not mapping:
        return None
    return [[k, v] for k, v in mapping.items()]


@variadic_scalar("object_construct", 0, doc='object_construct("a", 1, "b", 2): nil values are left out')
def object_construct(*args: Any) -> dict:
    if len(args) % 2:
        fail("object_construct", f"arguments must be key/value pairs, got {len(args)} arguments")
    out = {}
    for i in range(0, len(args), 2):
        if args[i + 1] is not None:
            out[to_str("object_construct", i, args[i])] = args[i + 1]
    return out


@variadic_scalar(
    "object_concat", 2, doc="object_concat(o1, o2, ...): later keys win; nil objects are skipped"
)
def object_concat(*objects: Any) -> dict:
    out: dict = {}
    for i, obj in enumerate(objects):
        if obj is not None:
            out.update(to_dict("object_concat", i, obj))
    return out


def _key_list(fn: str, index: int, spec: Any) -> list[str]:
    if type(spec) is str:
        return [spec]
    if type(spec) is list:
        for k in spec:
            if type(k) is not str:
                bad_arg(fn, index, "a string or an array of strings", spec)
        return spec
    bad_arg(fn, index, "a string or an array of strings", spec)


@scalar(
    "erase", 2, null_in_null_out=True, doc="erase(obj, k): obj without key k (or without each key in array k)"
)
def erase(obj: Any, spec: Any) -> dict | None:
    if obj is None:
        return None
    mapping = to_dict("erase", 0, obj)
    if spec is None:
        return dict(mapping)
    drop = set(_key_list("erase", 1, spec))
    return {k: v for k, v in mapping.items() if k not in drop}


@variadic_scalar(
    "object_pick",
    2,
    null_in_null_out=True,
    doc="object_pick(obj, k1, k2, ...): obj with only the given keys (each a string or array)",
)
def object_pick(obj: Any, *specs: Any) -> dict | None:
    if obj is None:
        return None
    mapping = to_dict("object_pick", 0, obj)
    out = {}
    for i, spec in enumerate(specs, start=1):
        for k in _key_list("object_pick", i, spec):
            if k in mapping:
                out[k] = mapping[k]
    return out


@scalar(
    "obj_to_kvpair_array",
    1,
    null_in_null_out=True,
    doc='obj_to_kvpair_array({"a":1}) is [{"key":"a","value":1}]',
)
def obj_to_kvpair_array(obj: Any) -> list | None:
    if obj is None:
        return None
    return [{"key": k, "value": v} for k, v in to_dict("obj_to_kvpair_array", 0, obj).items()]
