"""Splits a statement into tokens, each with its offset so errors can point at it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from edgeplane.streams.sql.errors import SQLError


class T(Enum):
    IDENT = "identifier"
    QIDENT = "quoted identifier"
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    OP = "operator"
    EOF = "end of statement"


@dataclass(slots=True, frozen=True)
class Token:
    type: T
    text: str  # identifiers and strings unquoted; operators as written
    pos: int

    def describe(self) -> str:
        if self.type is T.EOF:
            return "end of statement"
        if self.type is T.STRING:
            return f'string "{self.text}"'
        return f'"{self.text}"'


# Longest operators first so "->" wins over "-", "<=" over "<".
_OPERATORS = ("->", "<=", ">=", "!=", "<>", "==", "(", ")", ",", ".", "*", "+", "-", "/", "%",
              "=", "<", ">", "[", "]", ":", "&", "|", "^", ";", "{", "}")
_NUMBER = re.compile(r"(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*")
_SPACE = re.compile(r"(\s+|--[^\n]*|/\*.*?\*/)+", re.S)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0"}


def tokenize(sql: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(sql)
    while True:
        m = _SPACE.match(sql, i)
        if m:
            i = m.end()
        if i >= n:
            tokens.append(Token(T.EOF, "", n))
            return tokens
        c = sql[i]
        if c in "'\"":
            text, i2 = _read_quoted(sql, i, c)
            tokens.append(Token(T.STRING, text, i))
            i = i2
        elif c == "`":
            end = sql.find("`", i + 1)
            if end < 0:
                raise SQLError("unterminated backquoted identifier", sql, i)
            tokens.append(Token(T.QIDENT, sql[i + 1:end], i))
            i = end + 1
        elif c.isdigit() or (c == "." and i + 1 < n and sql[i + 1].isdigit()):
            m = _NUMBER.match(sql, i)
            assert m is not None
            text = m.group(0)
            kind = T.INTEGER if m.group(1).isdigit() and not m.group(2) else T.NUMBER
            tokens.append(Token(kind, text, i))
            i = m.end()
        elif m := _IDENT.match(sql, i):
            tokens.append(Token(T.IDENT, m.group(0), i))
            i = m.end()
        else:
            for op in _OPERATORS:
                if sql.startswith(op, i):
                    tokens.append(Token(T.OP, op, i))
                    i += len(op)
                    break
            else:
                raise SQLError(f'unexpected character "{c}"', sql, i)


def _read_quoted(sql: str, start: int, quote: str) -> tuple[str, int]:
    out: list[str] = []
    i = start + 1
    while i < len(sql):
        c = sql[i]
        if c == "\\" and i + 1 < len(sql):
            out.append(_ESCAPES.get(sql[i + 1], "\\" + sql[i + 1]))
            i += 2
        elif c == quote:
            if sql.startswith(quote * 2, i):  # SQL-style doubled quote
                out.append(quote)
                i += 2
                continue
            return "".join(out), i + 1
        else:
            out.append(c)
            i += 1
    raise SQLError("unterminated string literal", sql, start)
