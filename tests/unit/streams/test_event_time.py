"""Event time: the watermark buffer on its own, then rules driven by it (with and without windows)."""

from __future__ import annotations

from edgeplane.streams.runtime.event_time import EventTimeBuffer
from edgeplane.streams.testing import build_rule, replay, run_recorded
from tests.unit.streams.conftest import DEMO, line

OTHER = 'CREATE STREAM other (v bigint, ts bigint) WITH (DATASOURCE="other", TIMESTAMP="ts")'
EVENT_TIME = {"isEventTime": True, "lateTolerance": 1000}


def test_buffer_releases_in_event_time_order_keeping_arrival_order_for_ties() -> None:
    buf = EventTimeBuffer(0, ["s"])
    for ts, item in ((30, "a"), (10, "b"), (10, "c")):
        assert buf.push("s", ts, item)
    # The watermark is the newest time, 30: everything up to it goes, oldest first.
    assert buf.advance() == (30, [(10, "b"), (10, "c"), (30, "a")])
    assert buf.advance() is None  # the watermark did not move
    assert not buf.push("s", 29, "late") and buf.late == 1


def test_buffer_watermark_waits_for_every_stream_and_follows_the_slowest() -> None:
    buf = EventTimeBuffer(5, ["a", "b"])
    buf.push("a", 100, "a100")
    assert buf.advance() is None  # stream b has not said anything yet
    buf.push("b", 50, "b50")
    assert buf.advance() == (45, [])
    buf.push("b", 200, "b200")
    assert buf.advance() == (95, [(50, "b50")])  # a, at 100, is now the slowest
    assert len(buf) == 2


def test_rule_without_window_sorts_by_event_time_and_drops_late_events() -> None:
    lines = [line(1, ts=2_000, temperature=2), line(2, ts=1_500, temperature=1),  # out of order, in time
             line(3, ts=4_000, temperature=4),  # watermark 3000 releases 1500 and 2000
             line(4, ts=2_500, temperature=9),  # late: before the watermark
             line(5, ts=6_000, temperature=6)]  # watermark 5000 releases 4000
    rule, catalog = build_rule("SELECT temperature FROM demo", [DEMO], options=EVENT_TIME)
    replay(rule, catalog, lines)
    assert rule.emissions == [[{"temperature": 1}], [{"temperature": 2}], [{"temperature": 4}]]
    assert rule.late_count == 1


def test_last_hit_time_is_the_event_time_of_the_previous_hit() -> None:
    lines = [line(1, ts=1_000, temperature=1), line(2, ts=3_000, temperature=2), line(3, ts=5_000)]
    out = run_recorded("SELECT temperature, last_hit_time() AS lt, last_hit_count() AS lc FROM demo",
                       [DEMO], lines, options={"isEventTime": True})
    assert out == [[{"temperature": 1, "lt": 0, "lc": 0}], [{"temperature": 2, "lt": 1_000, "lc": 1}],
                   [{"lt": 3_000, "lc": 2}]]


def test_delayed_sliding_window_fires_at_a_later_watermark_with_rows_after_the_trigger() -> None:
    lines = [line(1, ts=1_000, temperature=1, deviceId="t"), line(2, ts=1_500, temperature=2),
             line(3, ts=2_000, temperature=3), line(4, ts=5_000, temperature=5), line(5, ts=6_000)]
    out = run_recorded("SELECT collect(temperature) AS c, window_end() AS e FROM demo "
                       "GROUP BY SLIDINGWINDOW(ss, 1, 2) OVER (WHEN deviceId = 't')",
                       [DEMO], lines, options={"isEventTime": True})
    # Triggered at 1000, scheduled for 3000 by that watermark; sent at the first watermark past 3000
    # with the rows in (0, 3000).
    assert out == [[{"c": [1, 2, 3], "e": 3_000}]]


def test_joined_streams_share_one_watermark() -> None:
    lines = [line(1, ts=1_000, temperature=1), line(2, "other", v=7, ts=1_000),
             line(3, ts=3_000, temperature=3),  # other is still at 1000: nothing released past it
             line(4, "other", v=8, ts=3_000)]
    out = run_recorded("SELECT temperature, v FROM demo INNER JOIN other ON demo.ts = other.ts "
                       "GROUP BY TUMBLINGWINDOW(ss, 2)", [DEMO, OTHER], lines, options={"isEventTime": True})
    assert out == [[{"temperature": 1, "v": 7}]]
