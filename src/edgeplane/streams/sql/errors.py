"""The one error type for statements that do not parse or do not validate."""

from __future__ import annotations


class SQLError(ValueError):
    """A statement is malformed or refers to something that does not exist.

    ``pos`` is the 0-based character offset in the statement (None when the problem has no single
    place, such as an unknown stream); ``line`` and ``column`` are 1-based and included in the message.
    """

    def __init__(self, message: str, sql: str = "", pos: int | None = None) -> None:
        self.reason = message
        self.sql = sql
        self.pos = pos
        if pos is not None:
            self.line = sql.count("\n", 0, pos) + 1
            self.column = pos - (sql.rfind("\n", 0, pos) + 1) + 1
            message = f"line {self.line}, column {self.column}: {message}"
        else:
            self.line = self.column = None
        super().__init__(message)
