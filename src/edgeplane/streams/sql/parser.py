"""A recursive-descent parser for eKuiper's SQL dialect.

Errors name the position and what was expected there: ``line 1, column 22: expected FROM, found "WERE"``.
"""

from __future__ import annotations

from typing import Any

from edgeplane.streams.sql import ast
from edgeplane.streams.sql.errors import SQLError
from edgeplane.streams.sql.lexer import T, Token, tokenize

# Words that end an expression or clause, so they cannot be bare column names or aliases.
RESERVED = frozenset(["SELECT", "FROM", "WHERE", "GROUP", "BY", "HAVING", "ORDER", "LIMIT", "AS", "AND", "OR", "NOT", "IN", "BETWEEN", "LIKE", "CASE", "WHEN", "THEN", "ELSE", "END", "JOIN", "ON", "INNER", "LEFT", "RIGHT", "FULL", "CROSS", "ASC", "DESC", "TRUE", "FALSE", "FILTER", "OVER", "EXCEPT", "REPLACE", "PARTITION"])

WINDOW_KINDS = frozenset({"TUMBLINGWINDOW", "HOPPINGWINDOW", "SLIDINGWINDOW", "SESSIONWINDOW",
                          "COUNTWINDOW", "STATEWINDOW"})
TIME_UNITS = frozenset({"DD", "HH", "MI", "SS", "MS"})
STREAM_OPTIONS = frozenset({"DATASOURCE", "FORMAT", "TYPE", "KEY", "TIMESTAMP", "TIMESTAMP_FORMAT", "SHARED",
                            "CONF_KEY", "RETAIN_SIZE", "KIND", "STRICT_VALIDATION", "SCHEMAID", "DELIMITER"})
SIMPLE_TYPES = frozenset({"BIGINT", "FLOAT", "STRING", "DATETIME", "BOOLEAN", "BYTEA"})

_COMPARISONS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_ADDITIVE = ("+", "-", "|", "^")
_MULTIPLICATIVE = ("*", "/", "%", "&")


def parse(sql: str) -> list[ast.Statement]:
    """All statements in ``sql``, separated by semicolons."""
    return _Parser(sql).statements()


def parse_one(sql: str) -> ast.Statement:
    statements = parse(sql)
    if len(statements) != 1:
        raise SQLError(f"expected exactly one statement, found {len(statements)}", sql, 0)
    return statements[0]


class _Parser:
    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.tokens = tokenize(sql)
        self.i = 0

    # ---- token helpers ---------------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.type is not T.EOF:
            self.i += 1
        return tok

    def error(self, expected: str, tok: Token | None = None) -> SQLError:
        tok = tok or self.tok
        return SQLError(f"expected {expected}, found {tok.describe()}", self.sql, tok.pos)

    def is_kw(self, *words: str, tok: Token | None = None) -> bool:
        tok = tok or self.tok
        return tok.type is T.IDENT and tok.text.upper() in words

    def accept_kw(self, *words: str) -> str | None:
        if self.is_kw(*words):
            return self.advance().text.upper()
        return None

    def expect_kw(self, word: str, expected: str | None = None) -> Token:
        if not self.is_kw(word):
            raise self.error(expected or word)
        return self.advance()

    def is_op(self, *ops: str) -> bool:
        return self.tok.type is T.OP and self.tok.text in ops

    def accept_op(self, op: str) -> bool:
        if self.is_op(op):
            self.advance()
            return True
        return False

    def expect_op(self, op: str, expected: str | None = None) -> Token:
        if not self.is_op(op):
            raise self.error(expected or f'"{op}"')
        return self.advance()

    def name(self, what: str = "a name") -> Token:
        tok = self.tok
        if tok.type is T.QIDENT or (tok.type is T.IDENT and tok.text.upper() not in RESERVED):
            return self.advance()
        raise self.error(what)

    # ---- statements ------------------------------------------------------------------------------

    def statements(self) -> list[ast.Statement]:
        out: list[ast.Statement] = []
        while True:
            while self.accept_op(";"):
                pass
            if self.tok.type is T.EOF:
                break
            out.append(self.statement())
            if self.tok.type is not T.EOF and not self.is_op(";"):
                raise self.error('";" or end of statement')
        if not out:
            raise self.error("SELECT, CREATE, DROP, DESCRIBE or SHOW")
        return out

    def statement(self) -> ast.Statement:
        word = self.tok.text.upper() if self.tok.type is T.IDENT else ""
        if word == "SELECT":
            return self.select()
        if word == "CREATE":
            return self.create()
        if word in ("DROP", "DESCRIBE"):
            pos = self.advance().pos
            kind = self.stream_or_table()
            name = self.name("a stream or table name").text
            return ast.Drop(kind, name, pos) if word == "DROP" else ast.Describe(kind, name, pos)
        if word == "SHOW":
            pos = self.advance().pos
            kind = self.accept_kw("STREAMS", "TABLES")
            if not kind:
                raise self.error("STREAMS or TABLES")
            return ast.Show(kind, pos)
        raise self.error("SELECT, CREATE, DROP, DESCRIBE or SHOW")

    def stream_or_table(self) -> str:
        kind = self.accept_kw("STREAM", "TABLE")
        if not kind:
            raise self.error("STREAM or TABLE")
        return kind

    # ---- CREATE STREAM / TABLE -------------------------------------------------------------------

    def create(self) -> ast.CreateStream:
        pos = self.advance().pos
        kind = self.stream_or_table()
        name = self.name(f"a {kind.lower()} name").text
        self.expect_op("(", '"(" and the column list')
        columns: list[ast.Column] = []
        if not self.is_op(")"):
            columns.append(self.column())
            while self.accept_op(","):
                columns.append(self.column())
        self.expect_op(")", '"," or ")" after a column')
        options: dict[str, str] = {}
        # eKuiper requires the WITH clause: a stream must at least say where its data comes from.
        if not self.accept_kw("WITH"):
            raise self.error("WITH (DATASOURCE=..., ...) after the column list")
        self.expect_op("(", '"(" after WITH')
        while True:
            key_tok = self.name("an option name")
            key = key_tok.text.upper()
            if key not in STREAM_OPTIONS:
                raise SQLError(f"unknown option {key_tok.text}, expected one of "
                               f"{', '.join(sorted(STREAM_OPTIONS))}", self.sql, key_tok.pos)
            self.expect_op("=", f'"=" after {key}')
            value = self.advance()
            if value.type not in (T.STRING, T.INTEGER, T.NUMBER, T.IDENT):
                raise self.error(f"a value for {key}", value)
            options[key] = value.text
            if not self.accept_op(","):
                break
        self.expect_op(")", '"," or ")" in the WITH options')
        stmt = ast.CreateStream(kind, name, columns, options, pos)
        if kind == "TABLE" and options.get("KIND", "scan").lower() not in ("scan", "lookup"):
            raise SQLError(f"KIND must be scan or lookup, found {options['KIND']}", self.sql, pos)
        if "RETAIN_SIZE" in options and not options["RETAIN_SIZE"].isdigit():
            raise SQLError(f"RETAIN_SIZE must be a non-negative integer, found {options['RETAIN_SIZE']}",
                           self.sql, pos)
        return stmt

    def column(self) -> ast.Column:
        tok = self.name("a column name")
        return ast.Column(tok.text, self.field_type(), tok.pos)

    def field_type(self) -> ast.FieldType:
        tok = self.tok
        if tok.type is not T.IDENT:
            raise self.error("a column type (bigint, float, string, datetime, boolean, bytea, array, struct)")
        word = tok.text.upper()
        self.advance()
        if word in SIMPLE_TYPES:
            return ast.FieldType(word.lower())
        if word == "ARRAY":
            self.expect_op("(", '"(" after ARRAY')
            element = self.field_type()
            self.expect_op(")", '")" after the array element type')
            return ast.FieldType("array", element=element)
        if word == "STRUCT":
            self.expect_op("(", '"(" after STRUCT')
            fields = [self.column()]
            while self.accept_op(","):
                fields.append(self.column())
            self.expect_op(")", '"," or ")" in STRUCT')
            return ast.FieldType("struct", fields=fields)
        raise self.error("a column type (bigint, float, string, datetime, boolean, bytea, array, struct)", tok)

    # ---- SELECT ----------------------------------------------------------------------------------

    def select(self) -> ast.Select:
        pos = self.advance().pos
        fields = [self.select_field()]
        while self.accept_op(","):
            fields.append(self.select_field())
        if not self.is_kw("FROM"):
            raise self.error('"," or FROM')
        self.advance()
        sources = [self.source()]
        joins: list[ast.Join] = []
        while True:
            if self.accept_op(","):
                sources.append(self.source())
                continue
            join = self.join()
            if join is None:
                break
            joins.append(join)
        where = self.expr() if self.accept_kw("WHERE") else None
        group_by: list[ast.Expr] = []
        window: ast.WindowSpec | None = None
        if self.accept_kw("GROUP"):
            self.expect_kw("BY", "BY after GROUP")
            while True:
                if self.tok.type is T.IDENT and self.tok.text.upper() in WINDOW_KINDS \
                        and self.peek().type is T.OP and self.peek().text == "(":
                    if window is not None:
                        raise SQLError("only one window is allowed in GROUP BY", self.sql, self.tok.pos)
                    window = self.window()
                else:
                    group_by.append(self.expr())
                if not self.accept_op(","):
                    break
        having = self.expr() if self.accept_kw("HAVING") else None
        order_by: list[ast.OrderItem] = []
        if self.accept_kw("ORDER"):
            self.expect_kw("BY", "BY after ORDER")
            while True:
                expr = self.expr()
                direction = self.accept_kw("ASC", "DESC")
                order_by.append(ast.OrderItem(expr, direction == "DESC"))
                if not self.accept_op(","):
                    break
        limit: int | None = None
        if self.accept_kw("LIMIT"):
            if self.tok.type is not T.INTEGER:
                raise self.error("a non-negative integer after LIMIT")
            limit = int(self.advance().text)
        if self.tok.type is not T.EOF and not self.is_op(";"):
            expected = _next_clauses(where, group_by or window, having, order_by, limit)
            raise self.error(expected)
        return ast.Select(fields, sources, joins, where, group_by, window, having, order_by, limit, pos)

    def select_field(self) -> ast.SelectField:
        start = self.tok.pos
        if self.is_op("*") or (self.tok.type in (T.IDENT, T.QIDENT) and self.peek().text == "."
                               and self.peek(2).type is T.OP and self.peek(2).text == "*"):
            return ast.SelectField(self.wildcard(), None, start, "*")
        expr = self.expr()
        end = self.tok.pos
        alias = None
        if self.accept_kw("AS"):
            alias = self.name("an alias after AS").text
        return ast.SelectField(expr, alias, start, self.sql[start:end].strip())

    def wildcard(self) -> ast.Wildcard:
        pos = self.tok.pos
        stream = None
        if not self.is_op("*"):
            stream = self.advance().text
            self.advance()  # "."
        self.expect_op("*")
        node = ast.Wildcard(pos, stream)
        if self.accept_kw("EXCEPT"):
            self.expect_op("(", '"(" after EXCEPT')
            node.except_.append(self.name("a column name").text)
            while self.accept_op(","):
                node.except_.append(self.name("a column name").text)
            self.expect_op(")", '"," or ")" in EXCEPT')
        if self.accept_kw("REPLACE"):
            self.expect_op("(", '"(" after REPLACE')
            while True:
                start = self.tok.pos
                expr = self.expr()
                self.expect_kw("AS", "AS and the replaced column name")
                alias = self.name("a column name after AS").text
                node.replace.append(ast.SelectField(expr, alias, start))
                if not self.accept_op(","):
                    break
            self.expect_op(")", '"," or ")" in REPLACE')
        return node

    def source(self) -> ast.Source:
        tok = self.name("a stream or table name")
        alias = None
        if self.accept_kw("AS"):
            alias = self.name("an alias after AS").text
        return ast.Source(tok.text, alias, tok.pos)

    def join(self) -> ast.Join | None:
        pos = self.tok.pos
        kind = self.accept_kw("INNER", "LEFT", "RIGHT", "FULL", "CROSS")
        if kind is None and not self.is_kw("JOIN"):
            return None
        if kind in ("LEFT", "RIGHT", "FULL"):
            self.accept_kw("OUTER")
        self.expect_kw("JOIN", "JOIN")
        source = self.source()
        on = None
        if (kind or "INNER") != "CROSS":
            self.expect_kw("ON", f"ON after the joined {source.name}")
            on = self.expr()
        return ast.Join(kind or "INNER", source, on, pos)

    def window(self) -> ast.WindowSpec:
        tok = self.advance()
        kind = tok.text.upper()
        self.expect_op("(", f'"(" after {kind}')
        unit: str | None = None
        args: list[Any] = []
        if kind == "STATEWINDOW":
            args = [self.expr()]
            self.expect_op(",", '"," and the emit condition of STATEWINDOW')
            args.append(self.expr())
        else:
            if kind != "COUNTWINDOW":
                unit_tok = self.tok
                if unit_tok.type is not T.IDENT or unit_tok.text.upper() not in TIME_UNITS:
                    raise self.error(f"a time unit (DD, HH, MI, SS, MS) as the first argument of {kind}")
                unit = self.advance().text.upper()
                self.expect_op(",", f'"," and the length of {kind}')
            args.append(self.positive_int(kind))
            while self.accept_op(","):
                args.append(self.positive_int(kind))
        self.expect_op(")", f'"," or ")" in {kind}')
        _check_window_arity(self.sql, tok, kind, args)
        spec = ast.WindowSpec(kind, unit, args, tok.pos)
        if kind == "COUNTWINDOW" and len(args) == 2 and args[1] > args[0]:
            raise SQLError(f"the hop of COUNTWINDOW ({args[1]}) must not exceed its size ({args[0]})",
                           self.sql, tok.pos)
        while self.is_kw("OVER", "FILTER"):
            if self.is_kw("FILTER"):
                if spec.filter is not None:
                    raise self.error("one FILTER clause per window")
                spec.filter = self.filter_clause()
                continue
            over_tok = self.advance()
            if kind != "SLIDINGWINDOW":
                raise SQLError(f"OVER (WHEN ...) is only allowed after SLIDINGWINDOW, not {kind}",
                               self.sql, over_tok.pos)
            if spec.when is not None:
                raise self.error("one OVER clause per window", over_tok)
            self.expect_op("(", '"(" after OVER')
            self.expect_kw("WHEN", "WHEN in the window's OVER clause")
            spec.when = self.expr()
            self.expect_op(")", '")" after the OVER condition')
        return spec

    def positive_int(self, where: str) -> int:
        tok = self.tok
        if tok.type is not T.INTEGER or int(tok.text) <= 0:
            raise self.error(f"a positive integer in {where}")
        self.advance()
        return int(tok.text)

    def filter_clause(self) -> ast.Expr:
        self.advance()  # FILTER
        self.expect_op("(", '"(" after FILTER')
        self.expect_kw("WHERE", "WHERE in FILTER (...)")
        cond = self.expr()
        self.expect_op(")", '")" after the FILTER condition')
        return cond

    # ---- expressions, lowest precedence first ----------------------------------------------------

    def expr(self) -> ast.Expr:
        left = self.and_expr()
        while self.is_kw("OR"):
            pos = self.advance().pos
            left = ast.Binary(pos, "OR", left, self.and_expr())
        return left

    def and_expr(self) -> ast.Expr:
        left = self.not_expr()
        while self.is_kw("AND"):
            pos = self.advance().pos
            left = ast.Binary(pos, "AND", left, self.not_expr())
        return left

    def not_expr(self) -> ast.Expr:
        if self.is_kw("NOT"):
            pos = self.advance().pos
            return ast.Unary(pos, "NOT", self.not_expr())
        return self.comparison()

    def comparison(self) -> ast.Expr:
        left = self.additive()
        while True:
            tok = self.tok
            if tok.type is T.OP and tok.text in _COMPARISONS:
                self.advance()
                left = ast.Binary(tok.pos, _COMPARISONS[tok.text], left, self.additive())
                continue
            negated = False
            if self.is_kw("NOT") and self.is_kw("IN", "BETWEEN", "LIKE", tok=self.peek()):
                self.advance()
                negated = True
            if self.accept_kw("IN"):
                self.expect_op("(", '"(" after IN')
                items = [self.expr()]
                while self.accept_op(","):
                    items.append(self.expr())
                self.expect_op(")", '"," or ")" in the IN list')
                left = ast.InList(tok.pos, left, items, negated)
            elif self.accept_kw("BETWEEN"):
                low = self.additive()
                self.expect_kw("AND", "AND in BETWEEN ... AND ...")
                left = ast.Between(tok.pos, left, low, self.additive(), negated)
            elif self.accept_kw("LIKE"):
                left = ast.Like(tok.pos, left, self.additive(), negated)
            else:
                return left

    def additive(self) -> ast.Expr:
        left = self.multiplicative()
        while self.is_op(*_ADDITIVE):
            tok = self.advance()
            left = ast.Binary(tok.pos, tok.text, left, self.multiplicative())
        return left

    def multiplicative(self) -> ast.Expr:
        left = self.unary()
        while self.is_op(*_MULTIPLICATIVE):
            tok = self.advance()
            left = ast.Binary(tok.pos, tok.text, left, self.unary())
        return left

    def unary(self) -> ast.Expr:
        if self.is_op("-", "+"):
            tok = self.advance()
            operand = self.unary()
            if tok.text == "+":
                return operand
            if isinstance(operand, ast.Literal) and isinstance(operand.value, int | float) \
                    and not isinstance(operand.value, bool):
                return ast.Literal(tok.pos, -operand.value)
            return ast.Unary(tok.pos, "-", operand)
        return self.postfix(self.primary())

    def postfix(self, node: ast.Expr) -> ast.Expr:
        while True:
            if self.is_op("->"):
                self.advance()
                key = self.name("a key after ->")
                node = ast.Member(key.pos, node, key.text)
            elif self.is_op(".") and self.peek().type in (T.IDENT, T.QIDENT):
                self.advance()
                key = self.advance()
                if isinstance(node, ast.FieldRef) and node.stream is None:
                    node = ast.FieldRef(node.pos, key.text, node.name)
                else:
                    node = ast.Member(key.pos, node, key.text)
            elif self.is_op("["):
                pos = self.advance().pos
                start = None if self.is_op(":") else self.expr()
                if self.accept_op(":"):
                    end = None if self.is_op("]") else self.expr()
                    node = ast.Slice(pos, node, start, end)
                else:
                    assert start is not None
                    node = ast.Index(pos, node, start)
                self.expect_op("]", '"]" after the index')
            else:
                return node

    def primary(self) -> ast.Expr:
        tok = self.tok
        if tok.type is T.INTEGER:
            self.advance()
            return ast.Literal(tok.pos, int(tok.text))
        if tok.type is T.NUMBER:
            self.advance()
            return ast.Literal(tok.pos, float(tok.text))
        if tok.type is T.STRING:
            self.advance()
            return ast.Literal(tok.pos, tok.text)
        if self.is_op("("):
            self.advance()
            inner = self.expr()
            self.expect_op(")", '")" to close "("')
            return inner
        if self.is_op("*"):
            self.advance()
            return ast.Wildcard(tok.pos)
        if tok.type is T.QIDENT:
            self.advance()
            return ast.FieldRef(tok.pos, tok.text)
        if tok.type is T.IDENT:
            word = tok.text.upper()
            if word in ("TRUE", "FALSE"):
                self.advance()
                return ast.Literal(tok.pos, word == "TRUE")
            if word == "CASE":
                return self.case()
            if self.peek().type is T.OP and self.peek().text == "(" and word not in RESERVED:
                return self.call()
            if word not in RESERVED:
                self.advance()
                return ast.FieldRef(tok.pos, tok.text)
        raise self.error("an expression")

    def case(self) -> ast.Case:
        pos = self.advance().pos
        operand = None if self.is_kw("WHEN") else self.expr()
        whens: list[tuple[ast.Expr, ast.Expr]] = []
        while self.accept_kw("WHEN"):
            cond = self.expr()
            self.expect_kw("THEN", "THEN after the WHEN condition")
            whens.append((cond, self.expr()))
        if not whens:
            raise self.error("WHEN in CASE")
        default = self.expr() if self.accept_kw("ELSE") else None
        self.expect_kw("END", "WHEN, ELSE or END in CASE")
        return ast.Case(pos, operand, whens, default)

    def call(self) -> ast.Call:
        tok = self.advance()
        self.advance()  # "("
        args: list[ast.Expr] = []
        if not self.is_op(")"):
            args.append(self.expr())
            while self.accept_op(","):
                args.append(self.expr())
        self.expect_op(")", f'"," or ")" in {tok.text}(...)')
        node = ast.Call(tok.pos, tok.text, args)
        if self.is_kw("OVER") and self.peek().type is T.OP and self.peek().text == "(":
            self.advance()
            self.advance()
            over = ast.Over()
            if self.accept_kw("PARTITION"):
                self.expect_kw("BY", "BY after PARTITION")
                over.partition_by.append(self.expr())
                while self.accept_op(","):
                    over.partition_by.append(self.expr())
            if self.accept_kw("WHEN"):
                over.when = self.expr()
            self.expect_op(")", '")", PARTITION BY or WHEN in OVER (...)')
            node.over = over
        if self.is_kw("FILTER") and self.peek().type is T.OP and self.peek().text == "(":
            node.filter = self.filter_clause()
        return node


def _check_window_arity(sql: str, tok: Token, kind: str, args: list[Any]) -> None:
    allowed = {"TUMBLINGWINDOW": (1,), "HOPPINGWINDOW": (2,), "SLIDINGWINDOW": (1, 2), "SESSIONWINDOW": (2,),
               "COUNTWINDOW": (1, 2), "STATEWINDOW": (2,)}[kind]
    if len(args) not in allowed:
        want = " or ".join(str(n) for n in allowed)
        raise SQLError(f"{kind} takes {want} length argument(s) after the time unit, found {len(args)}"
                       if kind not in ("COUNTWINDOW", "STATEWINDOW") else
                       f"{kind} takes {want} argument(s), found {len(args)}", sql, tok.pos)


def _next_clauses(where: Any, grouped: Any, having: Any, order_by: Any, limit: Any) -> str:
    """What could still follow at the point a SELECT stopped parsing."""
    options = []
    if where is None and not grouped and having is None and not order_by and limit is None:
        options.append("WHERE")
    if not grouped and having is None and not order_by and limit is None:
        options.append("GROUP BY")
    if having is None and not order_by and limit is None:
        options.append("HAVING")
    if not order_by and limit is None:
        options.append("ORDER BY")
    if limit is None:
        options.append("LIMIT")
    options.append("end of statement")
    return ", ".join(options[:-1]) + " or " + options[-1] if len(options) > 1 else options[0]
