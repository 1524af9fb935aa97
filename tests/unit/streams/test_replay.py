"""The replay entry point: input read as a stream, bad lines named, the collector left as found."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from edgeplane.streams.testing import RecordingError, build_rule, replay
from tests.unit.streams.conftest import DEMO, line


def test_replay_emits_before_reading_the_whole_input() -> None:
    read = 0

    def lines() -> Iterator[dict]:
        nonlocal read
        for t in range(1, 1_001):
            read += 1
            yield line(t, temperature=t)

    seen_at: list[int] = []
    rule, catalog = build_rule("SELECT temperature FROM demo", [DEMO], on_emit=lambda rows: seen_at.append(read))
    replay(rule, catalog, lines())
    assert len(seen_at) == 1_000
    assert seen_at[0] < 10  # the first message went through long before the last line was read


def test_lines_of_one_millisecond_are_each_processed() -> None:
    lines = [line(5, temperature=1), line(5, temperature=2), {**line(5, temperature=3), "meta": {"topic": "a"}},
             line(5, temperature=4)]
    rule, catalog = build_rule("SELECT temperature, meta(topic) AS topic FROM demo", [DEMO])
    replay(rule, catalog, lines)
    assert rule.emissions == [[{"temperature": 1}], [{"temperature": 2}], [{"temperature": 3, "topic": "a"}],
                              [{"temperature": 4}]]


def test_a_bad_line_stops_the_replay_and_is_named() -> None:
    rule, catalog = build_rule("SELECT temperature FROM demo", [DEMO])
    lines = [line(1, temperature=1), line(2, temperature=2), line(3, "nowhere", temperature=3), line(4)]
    with pytest.raises(RecordingError, match="line 3: unknown stream or table 'nowhere'"):
        replay(rule, catalog, lines)
    # The lines before went through (the last one read before the bad line may still be pending).
    assert rule.emissions[:1] == [[{"temperature": 1}]] and len(rule.emissions) <= 2
    with pytest.raises(RecordingError, match="line 2: timestamp 1 is before the previous line's 2"):
        replay(*build_rule("SELECT * FROM demo", [DEMO]), [line(2), line(1)])


def test_replay_leaves_the_garbage_collector_as_it_found_it() -> None:
    assert gc.isenabled()
    replay(*build_rule("SELECT * FROM demo", [DEMO]), [line(1, temperature=1)])
    assert gc.isenabled()
    gc.disable()
    try:
        replay(*build_rule("SELECT * FROM demo", [DEMO]), [line(1, temperature=1)])
        assert not gc.isenabled()
    finally:
        gc.enable()
