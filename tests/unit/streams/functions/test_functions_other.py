import uuid

import pytest

import edgeplane.streams.functions as functions
from edgeplane.streams.functions import FunctionError, catalogue, lookup, register_scalar


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("isnull", (None,), True),
        ("isnull", (0,), False),
        ("isnull", ("",), False),
        ("coalesce", (None, None, 3, 4), 3),
        ("coalesce", (None,), None),
    ],
)
def test_documented_behaviour(call, name, args, expected):
    assert call(name, *args) == expected


def test_newuuid_is_a_fresh_uuid(call):
    a, b = call("newuuid"), call("newuuid")
    assert a != b
    assert str(uuid.UUID(a)) == a


def test_unnest_yields_one_value_per_member():
    fn = lookup("unnest")
    assert fn.kind == "srf"
    assert list(fn.impl([1, {"a": 2}])) == [1, {"a": 2}]
    assert list(fn.impl(None)) == []
    with pytest.raises(FunctionError, match="unnest: first argument must be an array"):
        fn.impl("x")


def test_user_functions_are_looked_up_like_builtins():
    register_scalar("f_to_c", lambda f: (f - 32) * 5 / 9, 1)
    fn = lookup("F_TO_C")
    assert fn.kind == "scalar"
    assert (fn.min_args, fn.max_args) == (1, 1)
    assert fn.impl(212) == 100


# The documented eKuiper catalogue (docs/en_US/sqls/functions/*.md), less the context functions the
# runtime registers (meta, mqtt, event_time, rule_id, window_start, window_end, row_number).
DOCUMENTED = [
    "abs",
    "acos",
    "asin",
    "atan",
    "atan2",
    "bitand",
    "bitor",
    "bitxor",
    "bitnot",
    "ceil",
    "ceiling",
    "cos",
    "cosh",
    "exp",
    "floor",
    "ln",
    "log",
    "mod",
    "power",
    "rand",
    "round",
    "sign",
    "sin",
    "sinh",
    "sqrt",
    "tan",
    "tanh",
    "concat",
    "endswith",
    "format_time",
    "indexof",
    "length",
    "lower",
    "lpad",
    "ltrim",
    "numbytes",
    "regexp_matches",
    "regexp_replace",
    "regexp_substring",
    "rpad",
    "rtrim",
    "substring",
    "startswith",
    "split_value",
    "trim",
    "upper",
    "format",
    "cast",
    "convert_tz",
    "to_seconds",
    "encode",
    "decode",
    "compress",
    "decompress",
    "trunc",
    "chr",
    "hex2dec",
    "dec2hex",
    "md5",
    "sha1",
    "sha256",
    "sha384",
    "sha512",
    "to_json",
    "parse_json",
    "json_path_exists",
    "json_path_query",
    "json_path_query_first",
    "cardinality",
    "array_position",
    "element_at",
    "array_contains",
    "array_create",
    "array_remove",
    "array_last_position",
    "array_contains_any",
    "array_intersect",
    "array_union",
    "array_max",
    "array_avg",
    "array_min",
    "array_except",
    "repeat",
    "sequence",
    "array_cardinality",
    "array_flatten",
    "array_distinct",
    "array_map",
    "array_join",
    "array_shuffle",
    "array_concat",
    "array_sort",
    "kvpair_array_to_obj",
    "keys",
    "values",
    "object",
    "zip",
    "items",
    "object_construct",
    "object_concat",
    "erase",
    "object_size",
    "year",
    "array_contain_any",
    "now",
    "current_timestamp",
    "local_time",
    "local_timestamp",
    "cur_date",
    "current_date",
    "cur_time",
    "current_time",
    "date_calc",
    "date_diff",
    "day_name",
    "day_of_month",
    "day",
    "day_of_week",
    "day_of_year",
    "from_days",
    "from_unix_time",
    "hour",
    "last_day",
    "microsecond",
    "minute",
    "month",
    "month_name",
    "second",
    "avg",
    "count",
    "max",
    "min",
    "sum",
    "collect",
    "merge_agg",
    "deduplicate",
    "stddev",
    "stddevs",
    "var",
    "vars",
    "percentile",
    "percentile_cont",
    "percentile_disc",
    "last_value",
    "median",
    "lag",
    "latest",
    "changed_col",
    "changed_cols",
    "had_changed",
    "acc_sum",
    "acc_max",
    "acc_min",
    "acc_count",
    "acc_avg",
    "isnull",
    "coalesce",
    "newuuid",
    "tstamp",
    "unnest",
]


def test_catalogue_covers_the_documented_functions():
    missing = [name for name in DOCUMENTED if lookup(name) is None]
    assert missing == []


def test_every_entry_is_well_formed():
    for name, fn in catalogue().items():
        assert fn.kind in ("scalar", "aggregate", "analytic", "srf"), name
        assert callable(fn.impl), name
        assert fn.max_args is None or fn.max_args >= fn.min_args, name
        if fn.kind == "aggregate" and fn.accumulator is not None:
            assert hasattr(fn.accumulator, "add") and hasattr(fn.accumulator, "result"), name


def test_package_exports():
    assert set(functions.__all__) >= {"register_scalar", "lookup", "FunctionError", "set_clock"}
