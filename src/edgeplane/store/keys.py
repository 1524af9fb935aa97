"""Argument checks and key-range arithmetic shared by the store's readers, writer and watches."""

from __future__ import annotations

_MAX_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def check_key(key: object, what: str = "key") -> str:
    """A key is a non-empty string that SQLite can store as UTF-8 text and compare byte-wise."""
    if not isinstance(key, str):
        raise TypeError(f"{what} must be a str, not {type(key).__name__}")
    if not key:
        raise ValueError(f"{what} must not be empty")
    _check_text(key, what)
    return key


def check_prefix(prefix: object) -> str:
    """A prefix may be empty (every key) but otherwise follows the rules for keys."""
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str, not {type(prefix).__name__}")
    _check_text(prefix, "prefix")
    return prefix


def _check_text(text: str, what: str) -> None:
    if text.isascii():
        if "\x00" in text:
            raise ValueError(f"{what} {text!r} contains a NUL character")
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{what} {text!r} is not valid Unicode at index {exc.start}") from None
    if "\x00" in text:
        raise ValueError(f"{what} {text!r} contains a NUL character")


def check_value(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"value must be bytes, not {type(value).__name__}")


def check_revision(revision: object, what: str) -> int:
    # bool is an int subclass; True as a revision is almost certainly a bug in the caller.
    if not isinstance(revision, int) or isinstance(revision, bool):
        raise TypeError(f"{what} must be an int, not {type(revision).__name__}")
    if revision < 0:
        raise ValueError(f"{what} must be >= 0, got {revision}")
    return revision


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None: no bound).

    SQLite compares TEXT as UTF-8 bytes, which orders exactly like code points, so incrementing the
    last code point gives the exclusive upper bound of the prefix range.
    """
    chars = list(prefix)
    while chars:
        last = ord(chars.pop()) + 1
        if last in _SURROGATES:
            last = _SURROGATES.stop  # surrogates cannot occur in keys; skip past them
        if last <= _MAX_CODE_POINT:
            return "".join(chars) + chr(last)
    return None


def key_bounds(prefix: str, start_after: str | None = None, column: str = "key") -> tuple[str, list[str]]:
    """A SQL condition (and its parameters) selecting keys under ``prefix`` that sort after
    ``start_after``; "1" when every key matches."""
    clauses: list[str] = []
    params: list[str] = []
    if start_after is not None and start_after >= prefix:
        clauses.append(f"{column} > ?")
        params.append(start_after)
    elif prefix:
        clauses.append(f"{column} >= ?")
        params.append(prefix)
    end = prefix_end(prefix)
    if end is not None:
        clauses.append(f"{column} < ?")
        params.append(end)
    return (" AND ".join(clauses) or "1"), params
