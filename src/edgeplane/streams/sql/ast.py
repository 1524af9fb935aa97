"""The syntax tree of eKuiper statements. Every node keeps the offset it starts at, for errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# ---- expressions ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Expr:
    pos: int


@dataclass(slots=True)
class Literal(Expr):
    value: Any


@dataclass(slots=True)
class FieldRef(Expr):
    name: str
    stream: str | None = None  # demo.temperature: "demo"


@dataclass(slots=True)
class Wildcard(Expr):
    stream: str | None = None  # demo.*
    except_: list[str] = field(default_factory=list)
    replace: list[SelectField] = field(default_factory=list)


@dataclass(slots=True)
class Unary(Expr):
    op: str  # "-", "NOT"
    operand: Expr


@dataclass(slots=True)
class Binary(Expr):
    op: str  # OR AND = != < <= > >= + - * / % & | ^
    left: Expr
    right: Expr


@dataclass(slots=True)
class InList(Expr):
    operand: Expr
    items: list[Expr]
    negated: bool = False


@dataclass(slots=True)
class Between(Expr):
    operand: Expr
    low: Expr
    high: Expr
    negated: bool = False


@dataclass(slots=True)
class Like(Expr):
    operand: Expr
    pattern: Expr
    negated: bool = False


@dataclass(slots=True)
class Case(Expr):
    operand: Expr | None  # simple CASE x WHEN 1 ...; None for searched CASE WHEN cond ...
    whens: list[tuple[Expr, Expr]]
    default: Expr | None


@dataclass(slots=True)
class Over:
    partition_by: list[Expr] = field(default_factory=list)
    when: Expr | None = None


@dataclass(slots=True)
class Call(Expr):
    name: str
    args: list[Expr]
    over: Over | None = None
    filter: Expr | None = None  # count(*) FILTER (WHERE ...)


@dataclass(slots=True)
class Member(Expr):
    """a->b: key b of the object a."""
    base: Expr
    key: str


@dataclass(slots=True)
class Index(Expr):
    base: Expr
    index: Expr


@dataclass(slots=True)
class Slice(Expr):
    base: Expr
    start: Expr | None
    end: Expr | None


# ---- SELECT --------------------------------------------------------------------------------------


@dataclass(slots=True)
class SelectField:
    expr: Expr
    alias: str | None
    pos: int
    text: str = ""  # the expression as written, for naming


@dataclass(slots=True)
class Source:
    name: str
    alias: str | None
    pos: int

    @property
    def ref(self) -> str:
        return self.alias or self.name


@dataclass(slots=True)
class Join:
    kind: str  # INNER LEFT RIGHT FULL CROSS
    source: Source
    on: Expr | None
    pos: int


@dataclass(slots=True)
class WindowSpec:
    kind: str  # TUMBLINGWINDOW HOPPINGWINDOW SLIDINGWINDOW SESSIONWINDOW COUNTWINDOW STATEWINDOW
    unit: str | None  # DD HH MI SS MS; None for count and state windows
    args: list[Any]  # integer lengths, or (state window) condition expressions
    pos: int
    when: Expr | None = None  # SLIDINGWINDOW(...) OVER (WHEN ...)
    filter: Expr | None = None  # FILTER (WHERE ...) after the window: applied before windowing
    partition_by: list[Expr] = field(default_factory=list)


@dataclass(slots=True)
class OrderItem:
    expr: Expr
    descending: bool


@dataclass(slots=True)
class Select:
    fields: list[SelectField]
    sources: list[Source]
    joins: list[Join]
    where: Expr | None
    group_by: list[Expr]
    window: WindowSpec | None
    having: Expr | None
    order_by: list[OrderItem]
    limit: int | None
    pos: int = 0


# ---- DDL -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class FieldType:
    name: str  # bigint float string datetime boolean bytea array struct
    element: FieldType | None = None  # array(elem)
    fields: list[Column] | None = None  # struct(a bigint, ...)


@dataclass(slots=True)
class Column:
    name: str
    type: FieldType
    pos: int


@dataclass(slots=True)
class CreateStream:
    kind: str  # STREAM or TABLE
    name: str
    columns: list[Column]  # empty: schemaless
    options: dict[str, str]
    pos: int = 0

    @property
    def schemaless(self) -> bool:
        return not self.columns


@dataclass(slots=True)
class Drop:
    kind: str
    name: str
    pos: int = 0


@dataclass(slots=True)
class Describe:
    kind: str
    name: str
    pos: int = 0


@dataclass(slots=True)
class Show:
    kind: str  # STREAMS or TABLES
    pos: int = 0


Statement = Select | CreateStream | Drop | Describe | Show


def walk(node: Any):
    """Every expression under ``node`` (itself included), depth first."""
    if isinstance(node, Expr):
        yield node
    if isinstance(node, list | tuple):
        for item in node:
            yield from walk(item)
        return
    if isinstance(node, Over | SelectField | OrderItem):
        for name in node.__slots__:
            yield from walk(getattr(node, name))
        return
    if not isinstance(node, Expr):
        return
    for name in type(node).__slots__:
        if name != "pos":
            yield from walk(getattr(node, name))
