"""eKuiper semantics that cut across the compiler: aliases in any order, multi-column functions,
HAVING without aggregates, joins that match nothing, compile-time argument checks."""

from __future__ import annotations

import pytest

from edgeplane.streams.functions import FunctionDef, FunctionError, register
from edgeplane.streams.runtime.catalog import Catalog
from edgeplane.streams.sql import SQLError
from edgeplane.streams.testing import run_recorded
from tests.unit.streams.conftest import DEMO, line

OTHER = 'CREATE STREAM other (v bigint, humidity bigint) WITH (DATASOURCE="other")'


def run(sql: str, lines: list[dict], **kw) -> list[list[dict]]:
    return run_recorded(sql, [DEMO], lines, **kw)


def test_alias_defined_later_and_alias_naming_its_own_column() -> None:
    lines = [line(1, temperature=3)]
    assert run("SELECT a * 2 AS b, temperature AS a FROM demo", lines) == [[{"b": 6, "a": 3}]]
    assert run("SELECT temperature + 1 AS temperature, temperature * 10 AS t10 FROM demo", lines) == \
        [[{"temperature": 4, "t10": 40}]]


def test_analytic_over_an_alias_and_over_its_own_column() -> None:
    lines = [line(t, temperature=v) for t, v in ((1, 1), (2, 5), (3, 9))]
    chained = run("SELECT temperature * 2 AS d, lag(d) AS prev FROM demo", lines)
    assert [r[0].get("prev") for r in chained] == [None, 2, 10]
    own = run("SELECT lag(temperature) AS temperature FROM demo", lines)
    assert own == [[{}], [{"temperature": 1}], [{"temperature": 5}]]


def test_changed_cols_names_columns_and_expands_star() -> None:
    lines = [line(1, deviceId="a", temperature=1), line(2, deviceId="a", temperature=2),
             line(3, deviceId="b", temperature=2)]
    named = run('SELECT changed_cols("c_", true, deviceId, temperature) FROM demo', lines)
    assert named == [[{"c_deviceId": "a", "c_temperature": 1}], [{"c_temperature": 2}], [{"c_deviceId": "b"}]]
    star = run('SELECT changed_cols("", true, *) FROM demo', lines)
    assert star == [[{"deviceId": "a", "temperature": 1}], [{"temperature": 2}], [{"deviceId": "b"}]]


def test_changed_cols_where_its_when_does_not_hold_is_empty() -> None:
    lines = [line(1, temperature=1), line(2, temperature=2), line(3, temperature=3)]
    out = run('SELECT changed_cols("", true, temperature) OVER (WHEN temperature != 2), temperature AS t '
              'FROM demo', lines)
    assert out == [[{"temperature": 1, "t": 1}], [{"t": 2}], [{"temperature": 3, "t": 3}]]


def test_having_without_aggregates_keeps_or_drops_the_whole_window() -> None:
    lines = [line(t, temperature=t // 1000) for t in (1_000, 2_000, 3_000, 4_000)]
    out = run("SELECT temperature FROM demo GROUP BY COUNTWINDOW(2) HAVING last_agg_hit_count() < 1", lines)
    assert out == [[{"temperature": 1}, {"temperature": 2}]]


def test_window_join_that_matches_nothing_sends_nothing() -> None:
    lines = [line(1_000, humidity=1), line(1_500, "other", v=7, humidity=2),  # [0, 2000): no match
             line(2_500, "other", v=8, humidity=1), line(2_600, humidity=1),  # [2000, 4000): a match
             line(4_500, "other", v=9, humidity=1)]  # [4000, 6000): no demo row at all
    out = run_recorded("SELECT demo.humidity, v FROM demo INNER JOIN other ON demo.humidity = other.humidity "
                       "GROUP BY TUMBLINGWINDOW(ss, 2)", [DEMO, OTHER], lines, until=6_000)
    assert out == [[{"humidity": 1, "v": 8}]]


def test_where_after_a_count_window_that_leaves_nothing_sends_nothing() -> None:
    lines = [line(t, temperature=t) for t in (1, 2, 3, 4)]
    out = run("SELECT temperature FROM demo WHERE temperature > 2 GROUP BY COUNTWINDOW(2)", lines)
    assert out == [[{"temperature": 3}, {"temperature": 4}]]


def test_unknown_cast_type_fails_when_the_rule_is_compiled() -> None:
    with pytest.raises(SQLError, match=r"column 8: cast: unknown type 'decimal'"):
        run('SELECT cast(temperature, "decimal") FROM demo', [])


def test_validate_args_hook_sees_constants_only() -> None:
    seen: list[tuple] = []

    def check(args: tuple) -> None:
        seen.append(args)
        if args[1] == 0:
            raise FunctionError("scale: the factor must not be 0")

    register(FunctionDef("scale_by", "scalar", 2, 2, lambda x, k: x * k, validate_args=check))
    assert run("SELECT scale_by(temperature, 3) AS s FROM demo", [line(1, temperature=2)]) == [[{"s": 6}]]
    assert repr(seen[0][0]) == "NOT_CONSTANT" and seen[0][1] == 3
    with pytest.raises(SQLError, match="the factor must not be 0"):
        run("SELECT scale_by(temperature, 0) FROM demo", [])


def test_create_stream_needs_with() -> None:
    with pytest.raises(SQLError, match=r"expected WITH \(DATASOURCE=\.\.\., \.\.\.\) after the column list"):
        Catalog().create("CREATE STREAM s (a bigint)")
