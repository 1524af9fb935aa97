"""Rules end to end through run_recorded: expressions, naming, windows, event time, joins, errors."""

from __future__ import annotations

import re

import pytest

from edgeplane.streams.functions import register_scalar
from edgeplane.streams.sql import SQLError
from edgeplane.streams.testing import build_rule, replay, run_recorded
from tests.unit.streams.conftest import DEMO, line


def run(sql: str, lines: list[dict], **kw) -> list[list[dict]]:
    return run_recorded(sql, [DEMO], lines, **kw)


def test_filter_passes_messages_through() -> None:
    lines = [line(1000, temperature=40), line(2000, temperature=60, humidity=5), line(3000)]
    assert run("SELECT * FROM demo WHERE temperature > 50", lines) == [[{"temperature": 60, "humidity": 5}]]


def test_integer_division_nil_omitted_and_default_names() -> None:
    lines = [line(1, temperature=7.0, humidity=7, deviceId="a"), line(2, humidity=-7)]
    out = run("SELECT humidity / 2, temperature / 2, upper(deviceId), humidity % 4 AS m, -humidity AS n "
              "FROM demo", lines)
    assert out == [[{"kuiper_field_0": 3, "kuiper_field_1": 3.5, "upper": "A", "m": 3, "n": -7}],
                   [{"kuiper_field_0": -3, "m": -3, "n": 7}]]


def test_aliases_are_reused_by_later_fields_and_where() -> None:
    lines = [line(1, temperature=30), line(2, temperature=20)]
    out = run("SELECT temperature * 2 AS t, t + 1 AS u FROM demo WHERE t > 50", lines)
    assert out == [[{"t": 60, "u": 61}]]


def test_type_error_is_counted_and_rule_goes_on() -> None:
    rule, catalog = build_rule("SELECT humidity * 2 AS h FROM demo", [DEMO])
    replay(rule, catalog, [line(1, humidity="x"), line(2, humidity=4)])
    assert rule.emissions == [[{"h": 8}]]
    assert rule.error_count == 1 and "string(x) * int64(2)" in rule.errors[0]


def test_case_in_like_between_and_nested_access() -> None:
    lines = [line(1, deviceId="dev-1", temperature=15, ts=5), line(2, deviceId="x", temperature=99)]
    sql = ("SELECT CASE WHEN temperature > 50 THEN 'hot' ELSE 'ok' END AS s, deviceId LIKE 'dev%' AS d, "
           "temperature BETWEEN 10 AND 20 AS b, temperature IN (15, 16) AS i FROM demo")
    assert run(sql, lines) == [[{"s": "ok", "d": True, "b": True, "i": True}],
                               [{"s": "hot", "d": False, "b": False, "i": False}]]
    schemaless = 'CREATE STREAM s () WITH (DATASOURCE="s")'
    data = [{"stream": "s", "timestamp": 1, "data": {"a": {"b": {"c": 3}}, "arr": [1, 2, 3, 4]}}]
    out = run_recorded("SELECT a->b->c, arr[-1] AS last, arr[1:3] AS mid FROM s", [schemaless], data)
    assert out == [[{"c": 3, "last": 4, "mid": [2, 3]}]]


def test_tumbling_window_aligned_to_clock_and_emitted_when_empty() -> None:
    lines = [line(1_000, deviceId="a", temperature=10), line(4_000, deviceId="b", temperature=20),
             line(9_999, deviceId="a", temperature=30), line(10_000, deviceId="a", temperature=50)]
    out = run("SELECT deviceId, avg(temperature) AS t, count(*) AS n, window_start() AS ws, window_end() AS we "
              "FROM demo GROUP BY deviceId, TUMBLINGWINDOW(ss, 10)", lines, until=30_000)
    assert out == [
        [{"deviceId": "a", "t": 20.0, "n": 2, "ws": 0, "we": 10_000},
         {"deviceId": "b", "t": 20.0, "n": 1, "ws": 0, "we": 10_000}],
        [{"deviceId": "a", "t": 50.0, "n": 1, "ws": 10_000, "we": 20_000}],
    ]
    # Without grouping keys an empty window still reports count 0; a row query sends [].
    assert run("SELECT count(*) AS n FROM demo GROUP BY TUMBLINGWINDOW(ss, 10)", lines, until=30_000) == \
        [[{"n": 3}], [{"n": 1}], [{"n": 0}]]
    assert run("SELECT deviceId FROM demo GROUP BY TUMBLINGWINDOW(ss, 10)", lines[:1], until=20_000) == \
        [[{"deviceId": "a"}], []]


def test_hopping_sliding_count_and_state_windows() -> None:
    lines = [line(t, temperature=v) for t, v in ((1_000, 1), (6_000, 2), (11_000, 3), (12_000, 4))]
    hop = run("SELECT collect(temperature) AS c FROM demo GROUP BY HOPPINGWINDOW(ss, 10, 5)", lines, until=15_000)
    assert hop == [[{"c": [1]}], [{"c": [1, 2]}], [{"c": [2, 3, 4]}]]
    slide = run("SELECT collect(temperature) AS c FROM demo GROUP BY SLIDINGWINDOW(ss, 6)", lines)
    # The window is the 6 s up to each event, its start excluded.
    assert slide == [[{"c": [1]}], [{"c": [1, 2]}], [{"c": [2, 3]}], [{"c": [3, 4]}]]
    slide_when = run("SELECT collect(temperature) AS c FROM demo GROUP BY SLIDINGWINDOW(ss, 6) "
                     "OVER (WHEN temperature > 3)", lines)
    assert slide_when == [[{"c": [3, 4]}]]
    count = run("SELECT collect(temperature) AS c FROM demo GROUP BY COUNTWINDOW(3, 1)", lines)
    assert count == [[{"c": [1, 2, 3]}], [{"c": [2, 3, 4]}]]
    state = run("SELECT collect(temperature) AS c FROM demo "
                "GROUP BY STATEWINDOW(temperature = 2, temperature = 3)", lines)
    assert state == [[{"c": [2, 3]}]]


def test_session_window_closes_on_timeout() -> None:
    lines = [line(t, temperature=1) for t in (100, 500, 5_000)]
    out = run("SELECT count(*) AS n, window_start() AS s, window_end() AS e FROM demo "
              "GROUP BY SESSIONWINDOW(ss, 60, 1)", lines, until=10_000)
    assert out == [[{"n": 2, "s": 100, "e": 1_500}], [{"n": 1, "s": 5_000, "e": 6_000}]]


def test_event_time_out_of_order_and_late_events() -> None:
    opts = {"isEventTime": True, "lateTolerance": 1000}
    lines = [line(1, ts=1_500, temperature=1), line(2, ts=1_200, temperature=2),  # out of order, in time
             line(3, ts=3_100, temperature=3),  # watermark 2100: window [1000, 2000) fires
             line(4, ts=1_900, temperature=9),  # late: behind the watermark
             line(5, ts=5_000, temperature=4)]
    rule, catalog = build_rule("SELECT collect(temperature) AS c, window_end() AS e FROM demo "
                               "GROUP BY TUMBLINGWINDOW(ss, 1)", [DEMO], options=opts)
    replay(rule, catalog, lines)
    # Rows are handed over in event-time order; the window [2000, 3000) closes empty and, as in
    # processing time, an ungrouped aggregate still reports over nothing.
    assert rule.emissions == [[{"c": [2, 1], "e": 2_000}], [{"c": [], "e": 3_000}], [{"c": [3], "e": 4_000}]]
    assert rule.late_count == 1


def test_joins_inner_left_and_stream_table() -> None:
    other = 'CREATE STREAM other (deviceId string, name string) WITH (DATASOURCE="other")'
    lines = [line(1_000, deviceId="a", temperature=1), line(1_500, "other", deviceId="a", name="A"),
             line(2_000, deviceId="b", temperature=2)]
    inner = run_recorded("SELECT demo.deviceId, name FROM demo INNER JOIN other ON demo.deviceId = other.deviceId "
                         "GROUP BY TUMBLINGWINDOW(ss, 5)", [DEMO, other], lines, until=5_000)
    assert inner == [[{"deviceId": "a", "name": "A"}]]
    left = run_recorded("SELECT demo.deviceId AS d, name FROM demo LEFT JOIN other ON demo.deviceId = other.deviceId "
                        "GROUP BY TUMBLINGWINDOW(ss, 5)", [DEMO, other], lines, until=5_000)
    assert left == [[{"d": "a", "name": "A"}, {"d": "b"}]]
    table = 'CREATE TABLE names (deviceId string, name string) WITH (DATASOURCE="names", KEY="deviceId")'
    tlines = [line(1, "names", deviceId="a", name="A"), line(2, "names", deviceId="a", name="A2"),
              line(3, deviceId="a", temperature=5), line(4, deviceId="z", temperature=6)]
    out = run_recorded("SELECT temperature, name FROM demo INNER JOIN names ON demo.deviceId = names.deviceId",
                       [DEMO], tlines, tables=[table])
    assert out == [[{"temperature": 5, "name": "A2"}]]


def test_analytic_functions_see_every_message_before_where() -> None:
    lines = [line(1, temperature=1), line(2, temperature=60), line(3, temperature=70)]
    out = run("SELECT temperature, lag(temperature) AS prev FROM demo WHERE temperature > 50", lines)
    assert out == [[{"temperature": 60, "prev": 1}], [{"temperature": 70, "prev": 60}]]


def test_context_functions_and_user_functions() -> None:
    register_scalar("f_to_c", lambda f: (f - 32) * 5 / 9, 1)
    lines = [{"stream": "demo", "timestamp": 7, "data": {"temperature": 212}, "meta": {"topic": "t/1"}}]
    out = run("SELECT f_to_c(temperature) AS c, meta(topic) AS topic, rule_id() AS r, event_time() AS et, "
              "row_number() AS n FROM demo", lines)
    assert out == [[{"c": 100.0, "topic": "t/1", "r": "rule", "et": 7, "n": 1}]]


@pytest.mark.parametrize(("sql", "message"), [
    ("SELECT * FROM nowhere", "unknown stream or table nowhere"),
    ("SELECT nosuch(temperature) FROM demo", "unknown function nosuch"),
    ("SELECT abs(temperature, 2) FROM demo", "function abs expects 1 argument(s), found 2"),
    ("SELECT * FROM demo INNER JOIN demo AS d2 ON demo.ts = d2.ts", "needs a window"),
])
def test_validation_errors(sql: str, message: str) -> None:
    with pytest.raises(SQLError, match=re.escape(message)):
        run(sql, [])


def test_bad_recording_line_is_reported_with_its_number() -> None:
    with pytest.raises(ValueError, match="line 2: timestamp must be epoch milliseconds"):
        run("SELECT * FROM demo", [line(1), {"stream": "demo", "timestamp": "x", "data": {}}])
