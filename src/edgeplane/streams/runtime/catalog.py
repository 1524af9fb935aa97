"""Streams and tables declared with CREATE, as a rule sees them."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from edgeplane.streams.sql import ast
from edgeplane.streams.sql.errors import SQLError
from edgeplane.streams.sql.parser import parse_one


@dataclass
class StreamDef:
    statement: ast.CreateStream

    @property
    def name(self) -> str:
        return self.statement.name

    @property
    def is_table(self) -> bool:
        return self.statement.kind == "TABLE"

    @property
    def columns(self) -> frozenset[str] | None:
        cols = self.statement.columns
        return frozenset(c.name for c in cols) if cols else None

    @property
    def timestamp_field(self) -> str | None:
        return self.statement.options.get("TIMESTAMP") or None

    @property
    def key(self) -> str | None:
        return self.statement.options.get("KEY") or None


class Catalog:
    """The named streams and tables a rule may read."""

    def __init__(self) -> None:
        self.defs: dict[str, StreamDef] = {}

    def create(self, sql: str, expect: str | None = None) -> StreamDef:
        stmt = parse_one(sql)
        if not isinstance(stmt, ast.CreateStream):
            raise SQLError("expected a CREATE STREAM or CREATE TABLE statement", sql, 0)
        if expect and stmt.kind != expect:
            raise SQLError(f"expected CREATE {expect}, found CREATE {stmt.kind}", sql, stmt.pos)
        if stmt.name in self.defs:
            raise SQLError(f"{stmt.kind.lower()} {stmt.name} already exists", sql, stmt.pos)
        d = self.defs[stmt.name] = StreamDef(stmt)
        return d

    def get(self, name: str) -> StreamDef | None:
        return self.defs.get(name)


@dataclass
class Table:
    """A table's current rows: replaced by KEY when it has one, else the latest RETAIN_SIZE rows."""

    definition: StreamDef
    by_key: dict[Any, dict[str, Any]] = field(default_factory=dict)
    recent: deque[dict[str, Any]] = field(default_factory=deque)

    def __post_init__(self) -> None:
        size = self.definition.statement.options.get("RETAIN_SIZE")
        self.recent = deque(maxlen=int(size) if size and int(size) > 0 else None)

    def update(self, rows: Iterable[dict[str, Any]]) -> None:
        key = self.definition.key
        for row in rows:
            if key is not None:
                self.by_key[row.get(key)] = row
            else:
                self.recent.append(row)

    def rows(self) -> list[dict[str, Any]]:
        return list(self.by_key.values()) if self.definition.key is not None else list(self.recent)
