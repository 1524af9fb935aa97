"""The SQL parser: statements it accepts, and errors that say where and what was expected."""

from __future__ import annotations

import pytest

from edgeplane.streams.sql import SQLError, ast, parse_one


def test_create_stream_with_typed_columns_and_options() -> None:
    stmt = parse_one('CREATE STREAM demo (temperature float, tags array(string), s struct(a bigint, b boolean)) '
                     'WITH (DATASOURCE="demo", FORMAT="JSON", TIMESTAMP="ts", SHARED="true")')
    assert isinstance(stmt, ast.CreateStream)
    assert [c.name for c in stmt.columns] == ["temperature", "tags", "s"]
    assert stmt.columns[1].type.element is not None and stmt.columns[1].type.element.name == "string"
    assert [f.name for f in stmt.columns[2].type.fields or []] == ["a", "b"]
    assert stmt.options == {"DATASOURCE": "demo", "FORMAT": "JSON", "TIMESTAMP": "ts", "SHARED": "true"}


def test_schemaless_table() -> None:
    stmt = parse_one('CREATE TABLE t () WITH (DATASOURCE="t", KIND="lookup", RETAIN_SIZE="3")')
    assert isinstance(stmt, ast.CreateStream) and stmt.kind == "TABLE" and stmt.schemaless


def test_select_clauses() -> None:
    stmt = parse_one("SELECT * EXCEPT(a) REPLACE(b * 2 AS b), c->d, e[-1], e[1:3], `my col` AS x "
                     "FROM demo INNER JOIN t ON demo.id = t.id WHERE x BETWEEN 1 AND 3 "
                     "GROUP BY id, HOPPINGWINDOW(ss, 10, 5) FILTER (WHERE a > 1) HAVING count(*) > 1 "
                     "ORDER BY x DESC LIMIT 5")
    assert isinstance(stmt, ast.Select)
    star = stmt.fields[0].expr
    assert isinstance(star, ast.Wildcard) and star.except_ == ["a"] and star.replace[0].alias == "b"
    assert isinstance(stmt.fields[1].expr, ast.Member)
    assert isinstance(stmt.fields[3].expr, ast.Slice)
    assert stmt.fields[4].expr == ast.FieldRef(stmt.fields[4].pos, "my col")
    assert stmt.joins[0].kind == "INNER" and stmt.window is not None
    assert stmt.window.args == [10, 5] and stmt.window.filter is not None
    assert stmt.order_by[0].descending and stmt.limit == 5


def test_analytic_over_and_sliding_when() -> None:
    stmt = parse_one("SELECT lag(t) OVER (PARTITION BY id WHEN t > 1) FROM demo "
                     "GROUP BY SLIDINGWINDOW(ss, 10, 2) OVER (WHEN t > 30)")
    assert isinstance(stmt, ast.Select)
    call = stmt.fields[0].expr
    assert isinstance(call, ast.Call) and call.over is not None and len(call.over.partition_by) == 1
    assert stmt.window is not None and stmt.window.when is not None


@pytest.mark.parametrize(("sql", "line", "column", "expected"), [
    ("SELECT * FORM demo", 1, 10, 'expected "," or FROM, found "FORM"'),
    ("SELECT a +\nFROM demo", 2, 1, 'expected an expression, found "FROM"'),
    ("SELECT * FROM demo GROUP BY TUMBLINGWINDOW(xx, 10)", 1, 44, "expected a time unit"),
    ("SELECT * FROM demo GROUP BY COUNTWINDOW(2, 5)", 1, 29, "must not exceed its size"),
    ("SELECT * FROM demo WHERE a = 'x", 1, 30, "unterminated string literal"),
    ('CREATE STREAM s () WITH (COLOUR="x")', 1, 26, "unknown option COLOUR"),
    ("SELECT * FROM demo LIMIT x", 1, 26, "expected a non-negative integer after LIMIT"),
])
def test_errors_name_position_and_expectation(sql: str, line: int, column: int, expected: str) -> None:
    with pytest.raises(SQLError) as info:
        parse_one(sql)
    assert (info.value.line, info.value.column) == (line, column)
    assert expected in str(info.value)
    assert str(info.value).startswith(f"line {line}, column {column}: ")
