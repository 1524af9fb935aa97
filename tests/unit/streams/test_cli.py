"""`edgeplane streams test` in a real process: the getting-started rule and a hopping-window join."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DEMO = 'CREATE STREAM demo (temperature float, humidity bigint) WITH (FORMAT="JSON", DATASOURCE="demo")'
RUN = "from edgeplane.cli.streams import command; command(prog_name='edgeplane streams')"


def streams_test(tmp_path: Path, lines: list[dict], *args: str) -> subprocess.CompletedProcess[str]:
    recording = tmp_path / "input.jsonl"
    recording.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return subprocess.run([sys.executable, "-c", RUN, "test", "--input", str(recording), *args],
                          capture_output=True, text=True, timeout=30)


def test_getting_started_rule(tmp_path: Path) -> None:
    lines = [{"stream": "demo", "timestamp": 1541152486013, "data": {"temperature": 72.5, "humidity": 87}},
             {"stream": "demo", "timestamp": 1541152487013, "data": {"temperature": 30, "humidity": 50}}]
    done = streams_test(tmp_path, lines, "--stream", DEMO, "--sql", "SELECT * FROM demo WHERE temperature > 50")
    assert done.returncode == 0, done.stderr
    assert [json.loads(x) for x in done.stdout.splitlines()] == [[{"temperature": 72.5, "humidity": 87}]]


def test_hopping_window_join(tmp_path: Path) -> None:
    other = 'CREATE STREAM demo1 (temp float, hum bigint, ts bigint) WITH (DATASOURCE="demo1", FORMAT="json")'
    lines = [{"stream": "demo", "timestamp": 1000, "data": {"temperature": 20, "humidity": 1}},
             {"stream": "demo1", "timestamp": 1200, "data": {"temp": 25.5, "hum": 1}},
             {"stream": "demo", "timestamp": 6000, "data": {"temperature": 30, "humidity": 2}}]
    sql = ("SELECT demo.temperature, demo1.temp FROM demo INNER JOIN demo1 ON demo.humidity = demo1.hum "
           "GROUP BY HOPPINGWINDOW(ss, 10, 5)")
    done = streams_test(tmp_path, lines, "--stream", DEMO, "--stream", other, "--sql", sql, "--until", "15000")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(x) for x in done.stdout.splitlines()]
    # The window ending at 15000 holds only the unmatched 6000 row: an inner join with no match sends
    # nothing (eKuiper's join op passes nothing on), unlike an empty window's [].
    assert rows == [[{"temperature": 20, "temp": 25.5}], [{"temperature": 20, "temp": 25.5}]]


def test_malformed_statement_fails_with_position(tmp_path: Path) -> None:
    done = streams_test(tmp_path, [], "--stream", DEMO, "--sql", "SELECT * FROM demo WHERE")
    assert done.returncode != 0
    assert "line 1, column 25: expected an expression" in done.stderr
