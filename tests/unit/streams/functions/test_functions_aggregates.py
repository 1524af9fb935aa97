import math
import statistics
import tracemalloc

import pytest

from edgeplane.streams.functions import FunctionError, lookup

TEMPS = [20.5, 22.0, None, 25.5, 21.0]
VALUES = [v for v in TEMPS if v is not None]

CASES = [
    ("avg", [TEMPS], sum(VALUES) / 4),
    ("avg", [[3, 6, 2, 4, 1]], 3),  # bigints divide as integers: 16 / 5
    ("avg", [[-7, 2]], -2),  # truncated toward zero, as Go does
    ("avg", [[1, 2.0]], 1.5),
    ("avg", [[None]], None),
    ("count", [TEMPS], 4),
    ("count", [[]], 0),
    ("sum", [[1, 2, 3]], 6),
    ("sum", [[1, 2.5]], 3.5),
    ("sum", [[None, None]], None),
    ("max", [TEMPS], 25.5),
    ("max", [["b", "c", "a"]], "c"),
    ("min", [TEMPS], 20.5),
    ("min", [[]], None),
    ("collect", [[32, None, 45]], [32, None, 45]),
    ("last_value", [[1, 2, None], [True, True, True]], 2),
    ("last_value", [[1, 2, None], [False, False, False]], None),
    ("merge_agg", [[{"a": 2}, {"b": 2}, {"a": 3}]], {"a": 3, "b": 2}),
    ("merge_agg", [[2, 5, 8]], {}),
    ("median", [[3, 1, 2]], 2.0),
    ("median", [[4, 1, 3, 2]], 2.5),
    ("stddev", [VALUES], statistics.pstdev(VALUES)),
    ("stddevs", [VALUES], statistics.stdev(VALUES)),
    ("var", [VALUES], statistics.pvariance(VALUES)),
    ("vars", [VALUES], statistics.variance(VALUES)),
    ("vars", [[5]], None),
    # eKuiper's percentile_cont (montanaflynn/stats): rank p*n, whole rank picks, else mean of neighbours
    ("percentile_cont", [[3, 6, 2, 4, 1], [0.5] * 5], 2.5),
    ("percentile_cont", [[3, 6, 2, 4, 1], [0.3] * 5], 1.5),
    ("percentile_cont", [[10, 20], [0.5, 0.5]], 10.0),
    ("percentile", [[10, 20, 30, 40], [0.75] * 4], 30.0),
    ("percentile_cont", [[7], [0.9]], 7.0),
    ("percentile_cont", [[1, 2, 3], [0.1] * 3], None),
    ("percentile_disc", [[3, 6, 2, 4, 1], [0.5] * 5], 3),
    ("percentile_disc", [[3, 6, 2, 4, 1], [0.25] * 5], 2),
    ("percentile_disc", [[1, 2, 3, 4], [1.0] * 4], 4),
]


@pytest.mark.parametrize(("name", "columns", "expected"), CASES)
def test_list_form(name, columns, expected):
    result = lookup(name).impl(*columns)
    assert result == (pytest.approx(expected) if isinstance(expected, float) else expected)


@pytest.mark.parametrize(("name", "columns", "expected"), CASES)
def test_accumulator_agrees_with_list_form(name, columns, expected):
    fn = lookup(name)
    acc = fn.accumulator()
    for row in zip(*columns, strict=True):
        acc.add(*row)
    assert acc.result() == fn.impl(*columns)


def test_count_star_counts_rows():
    acc = lookup("count").accumulator()
    for _ in range(3):
        acc.add()
    assert acc.result() == 3


def test_collect_star_example():
    rows = [{"a": 32, "b": "hello"}, {"a": 45, "b": "world"}]
    assert lookup("collect").impl(rows) == rows


def test_merge_agg_documented_wildcard_example():
    rows = [{"a": {"a": 2}, "b": 2, "c": 3}, {"a": {"b": 2}, "b": 5, "d": 6}, {"a": {"a": 3}, "b": 8}]
    assert lookup("merge_agg").impl(rows) == {"a": {"a": 3}, "b": 8, "c": 3, "d": 6}


def test_deduplicate_with_rows():
    fn = lookup("deduplicate")
    rows = [{"a": 32, "b": "hello"}, {"a": 45, "b": "world"}, {"a": 32, "b": "again"}]
    keys = [r["a"] for r in rows]
    assert fn.accumulator.wants_row
    assert fn.impl(keys, [True] * 3, rows) == [rows[0], rows[1]]
    assert fn.impl(keys, [False] * 3, rows) is None  # the latest row repeats a key
    assert fn.impl(keys[:2], [False] * 2, rows[:2]) == rows[1]


def test_incremental_aggregates_keep_flat_memory():
    """avg/count/sum/min/max/stddev/var hold a few numbers whatever the window size."""
    for name in ("avg", "count", "sum", "min", "max", "stddev", "stddevs", "var", "vars"):
        acc = lookup(name).accumulator()
        tracemalloc.start()
        for i in range(2000):
            acc.add(float(i))
        small, _ = tracemalloc.get_traced_memory()
        for i in range(50_000):
            acc.add(float(i))
        large, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert large - small < 4096, f"{name} grew by {large - small} bytes"


def test_welford_is_stable_for_large_offsets():
    values = [1e9 + x for x in (4.0, 7.0, 13.0, 16.0)]
    assert lookup("var").impl(values) == pytest.approx(22.5)
    assert lookup("stddev").impl(values) == pytest.approx(math.sqrt(22.5))


@pytest.mark.parametrize(
    ("name", "columns", "message"),
    [
        ("sum", [[1, "2"]], "sum: first argument must be a number, got string '2'"),
        ("avg", [[True]], "avg: first argument must be a number, got boolean True"),
        ("max", [[1, "a"]], "max: cannot compare string 'a' with bigint values"),
        ("min", [[[1]]], "min: first argument must be a number or a string"),
        (
            "percentile",
            [[1, 2], [1.5, 1.5]],
            "percentile_cont: the percentile must be between 0.0 and 1.0, got 1.5",
        ),
        ("last_value", [[1], ["yes"]], "last_value: second argument must be a boolean"),
    ],
)
def test_bad_values(name, columns, message):
    with pytest.raises(FunctionError) as err:
        lookup(name).impl(*columns)
    assert message in str(err.value)


def test_declarations():
    assert lookup("percentile").constant_args == (1,)
    assert lookup("percentile") is lookup("percentile_cont")
    assert lookup("count").min_args == 0
    for name in ("avg", "count", "sum", "min", "max", "stddev", "var"):
        assert lookup(name).kind == "aggregate"
        assert lookup(name).accumulator is not None
