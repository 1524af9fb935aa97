import pytest

from edgeplane.streams.functions import FunctionError, lookup


def run(name, rows):
    """One call site, one partition: call the instance on each row's arguments, as the engine does."""
    instance = lookup(name).impl()
    return [instance(*args) for args in rows]


def test_lag_previous_value():
    assert run("lag", [(1,), (2,), (3,)]) == [None, 1, 2]


def test_lag_offset_and_default():
    assert run("lag", [(1, 2, 0), (2, 2, 0), (3, 2, 0)]) == [0, 0, 1]


def test_lag_ignore_null_keeps_history():
    assert run("lag", [(1, 1, None, True), (None, 1, None, True), (3, 1, None, True)]) == [None, 1, 1]


def test_lag_skip_reuses_state_without_consuming():
    lag = lookup("lag").impl()
    lag(1)
    assert lag.skip(2) == 1
    assert lag(3) == 1


def test_latest():
    assert run("latest", [(None, "d"), (1, "d"), (None, "d"), (2, "d")]) == ["d", 1, 1, 2]


# eKuiper's documented change-detection example: ts, temperature, humidity.
READINGS = [
    (1, 23, 88),
    (2, 23, 88),
    (3, 23, 88),
    (4, 25, 88),
    (5, 25, 90),
    (6, 25, 91),
    (7, 25, 91),
    (8, 25, 91),
]


def test_changed_col_documented_example():
    temp = run("changed_col", [(True, t) for _, t, _ in READINGS])
    hum = run("changed_col", [(True, h) for _, _, h in READINGS])
    assert temp == [23, None, None, 25, None, None, None, None]
    assert hum == [88, None, None, None, 90, 91, None, None]


def test_had_changed_documented_examples():
    any_changed = run("had_changed", [(True, t, h) for _, t, h in READINGS])
    assert [ts for (ts, _, _), c in zip(READINGS, any_changed, strict=True) if c] == [1, 4, 5, 6]
    temp = run("had_changed", [(True, t) for _, t, _ in READINGS])
    hum = run("had_changed", [(True, h) for _, _, h in READINGS])
    only_temp = [ts for (ts, _, _), t, h in zip(READINGS, temp, hum, strict=True) if t and not h]
    assert only_temp == [4]


def test_changed_col_ignore_null():
    assert run("changed_col", [(True, 1), (True, None), (True, 1)]) == [1, None, None]
    assert run("changed_col", [(False, 1), (False, None), (False, 1)]) == [1, None, 1]


def test_changed_values_compare_numbers_by_value_not_booleans():
    assert run("changed_col", [(True, 1), (True, 1.0), (True, True)]) == [1, None, True]


def test_changed_cols_with_prefix():
    rows = [("c_", True, ("temperature", t), ("humidity", h)) for _, t, h in READINGS[:5]]
    assert run("changed_cols", rows) == [
        {"c_temperature": 23, "c_humidity": 88},
        {},
        {},
        {"c_temperature": 25},
        {"c_humidity": 90},
    ]


def test_changed_cols_takes_a_row_mapping_for_star():
    rows = [("", False, {"a": 1, "b": None}), ("", False, {"a": 1, "b": 2}), ("", False, {"a": 3, "b": None})]
    assert run("changed_cols", rows) == [{"a": 1}, {"b": 2}, {"a": 3, "b": None}]


def test_changed_cols_needs_named_columns():
    with pytest.raises(FunctionError, match="changed_cols: third argument must be a"):
        lookup("changed_cols").impl()("", True, 5)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("acc_sum", [1, 3, 6]),
        ("acc_max", [1, 2, 3]),
        ("acc_min", [1, 1, 1]),
        ("acc_count", [1, 2, 3]),
        ("acc_avg", [1.0, 1.5, 2.0]),
    ],
)
def test_acc_documented_examples(name, expected):
    assert run(name, [(1,), (2,), (3,)]) == expected


def test_acc_skips_nil():
    assert run("acc_sum", [(None,), (2,), (None,)]) == [None, 2, 2]
    assert run("acc_count", [(None,), (2,), (None,)]) == [0, 1, 1]


def test_partitions_are_independent_instances():
    cls = lookup("acc_sum").impl
    a, b = cls(), cls()
    assert (a(1), b(10), a(2), b(20)) == (1, 10, 3, 30)


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("lag", (1, 0), "lag: the offset must be 1 or more, got 0"),
        ("lag", (1, "x"), "lag: second argument must be an integer"),
        ("changed_col", ("yes", 1), "changed_col: first argument must be a boolean"),
        ("had_changed", (1, 1), "had_changed: first argument must be a boolean"),
        ("acc_sum", ("3",), "acc_sum: first argument must be a number, got string '3'"),
    ],
)
def test_bad_values(name, args, message):
    with pytest.raises(FunctionError) as err:
        lookup(name).impl()(*args)
    assert message in str(err.value)
