"""eKuiper's SQL dialect: lexer, parser and syntax tree."""

from edgeplane.streams.sql.errors import SQLError
from edgeplane.streams.sql.parser import parse, parse_one

__all__ = ["SQLError", "parse", "parse_one"]
