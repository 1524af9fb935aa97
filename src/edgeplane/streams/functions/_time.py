"""Datetime conversion, parsing and eKuiper's format patterns, shared by the date-time and cast functions.

A datetime value is an aware ``datetime.datetime`` in the configured time zone (UTC unless
``set_timezone`` says otherwise, like eKuiper's ``basic.timezone``). Numbers are milliseconds since the
epoch; strings are parsed with the layouts eKuiper accepts without an explicit format.
The current time comes from ``clock.now_ms`` so that replays and tests drive it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from edgeplane.streams.functions._values import bad_arg, fail

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_zone: tzinfo = UTC
_ZONES: dict[str, tzinfo] = {"UTC": UTC}


def zone(name: str, fn: str = "convert_tz") -> tzinfo:
    """An IANA time zone by name ("Local" is the host's zone), loaded once."""
    tz = _ZONES.get(name)
    if tz is None:
        if name == "Local":
            tz = datetime.now().astimezone().tzinfo or UTC
        else:
            try:
                tz = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                fail(fn, f"unknown time zone {name!r}")
        _ZONES[name] = tz
    return tz


def set_timezone(name: str) -> None:
    """Set the zone datetimes are shown in and naive strings are read in."""
    global _zone
    _zone = zone(name, "set_timezone")


def configured_zone() -> tzinfo:
    return _zone


def from_millis(ms: int) -> datetime:
    return (_EPOCH + timedelta(milliseconds=ms)).astimezone(_zone)


def to_millis(value: datetime) -> int:
    delta = value - _EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


# Layouts eKuiper (jinzhu/now) accepts: dates with -, / or . separators, an optional time with optional
# fraction, and an optional zone; also compact 20060102 and US-style 1/2/2006.
_DATE_TIME = re.compile(
    r"^(\d{4})(?:([-/.])(\d{1,2})(?:\2(\d{1,2}))?)?"
    r"(?:[ T](\d{1,2})(?::(\d{1,2})(?::(\d{1,2})(?:[.,](\d{1,9}))?)?)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?$"
)
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?: (\d{1,2}):(\d{1,2}):(\d{1,2}))?$")


def _offset(text: str | None) -> tzinfo:
    if not text:
        return _zone
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_datetime(text: str, fn: str = "cast") -> datetime:
    """A string as a datetime, with the layouts eKuiper recognises; naive times are in the configured zone."""
    s = text.strip()
    try:
        m = _DATE_TIME.match(s)
        if m:
            year, _, month, day, hour, minute, second, fraction, offset = m.groups()
            micros = int((fraction or "0")[:6].ljust(6, "0"))
            value = datetime(
                int(year),
                int(month or 1),
                int(day or 1),
                int(hour or 0),
                int(minute or 0),
                int(second or 0),
                micros,
                tzinfo=_offset(offset),
            )
            return value.astimezone(_zone)
        m = _COMPACT.match(s)
        if m:
            return datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=_zone)
        m = _US_DATE.match(s)
        if m:
            month, day, year, hour, minute, second = m.groups()
            return datetime(
                int(year),
                int(month),
                int(day),
                int(hour or 0),
                int(minute or 0),
                int(second or 0),
                tzinfo=_zone,
            )
    except ValueError as exc:
        fail(fn, f"cannot parse {text!r} as a datetime: {exc}")
    fail(fn, f"cannot parse {text!r} as a datetime (expected a layout such as 2006-01-02T15:04:05.000Z07:00)")


def to_datetime(fn: str, index: int, value: Any) -> datetime:
    """eKuiper's InterfaceToTime: datetimes as they are, numbers as epoch milliseconds, strings parsed."""
    t = type(value)
    if t is datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=_zone)
    if t is int:
        return from_millis(value)
    if t is float:
        return from_millis(int(value))
    if t is str:
        return parse_datetime(value, fn)
    bad_arg(fn, index, "a datetime, epoch milliseconds or a datetime string", value)


# --- format patterns: YYYY-MM-dd HH:mm:ssSSS and friends ------------------------------------------

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _offset_text(dt: datetime, colon: bool, minutes: bool = True) -> str:
    off = dt.utcoffset() or timedelta()
    total = int(off.total_seconds()) // 60
    sign = "-" if total < 0 else "+"
    h, m = divmod(abs(total), 60)
    if not minutes:
        return f"{sign}{h:02d}"
    return f"{sign}{h:02d}{':' if colon else ''}{m:02d}"


def _fraction(width: int) -> Callable[[datetime], str]:
    def render(dt: datetime) -> str:
        return "." + f"{dt.microsecond:06d}000"[:width].ljust(width, "0")

    return render


# Each letter maps run length -> renderer; a run length missing from the map is an invalid pattern.
_FIELDS: dict[str, dict[int, Callable[[datetime], str]]] = {
    "Y": {4: lambda d: f"{d.year:04d}", 2: lambda d: f"{d.year % 100:02d}"},
    "M": {
        1: lambda d: str(d.month),
        2: lambda d: f"{d.month:02d}",
        3: lambda d: _MONTHS[d.month - 1][:3],
        4: lambda d: _MONTHS[d.month - 1],
    },
    "d": {1: lambda d: str(d.day), 2: lambda d: f"{d.day:02d}"},
    "E": {3: lambda d: _DAYS[d.weekday()][:3], 4: lambda d: _DAYS[d.weekday()]},
    "H": {2: lambda d: f"{d.hour:02d}"},
    "h": {1: lambda d: str((d.hour - 1) % 12 + 1), 2: lambda d: f"{(d.hour - 1) % 12 + 1:02d}"},
    "m": {1: lambda d: str(d.minute), 2: lambda d: f"{d.minute:02d}"},
    "s": {1: lambda d: str(d.second), 2: lambda d: f"{d.second:02d}"},
    "X": {
        1: lambda d: _offset_text(d, False, False),
        2: lambda d: _offset_text(d, False),
        3: lambda d: _offset_text(d, True),
    },
}
_FIELDS["y"] = _FIELDS["Y"]
_SINGLE: dict[str, Callable[[datetime], str]] = {
    "G": lambda d: "AD",
    "a": lambda d: "AM" if d.hour < 12 else "PM",
    "z": lambda d: d.tzname() or "UTC",
    "Z": lambda d: _offset_text(d, False),
}
_MAX_RUN = {"Y": 4, "y": 4, "M": 4, "d": 2, "E": 4, "H": 2, "h": 2, "m": 2, "s": 2, "X": 3}


def compile_format(pattern: str, fn: str = "format_time") -> Callable[[datetime], str]:
    """Turn an eKuiper/Java-style pattern into a renderer; invalid patterns fail here, once."""
    parts: list[str | Callable[[datetime], str]] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                fail(fn, f"format {pattern!r} ends with a lone backslash")
            parts.append(pattern[i + 1])
            i += 2
        elif c == "'":
            if i + 1 < n and pattern[i + 1] == "'":
                parts.append("'")
                i += 2
                continue
            end = pattern.find("'", i + 1)
            end = n if end < 0 else end
            parts.append(pattern[i + 1 : end])
            i = end + 1
        elif c == "S":
            j = i
            while j < n and pattern[j] == "S":
                j += 1
            parts.append(_fraction(j - i))
            i = j
        elif c in _FIELDS:
            j = i
            while j < n and pattern[j] == c and j - i < _MAX_RUN[c] + 1:
                j += 1
            render = _FIELDS[c].get(j - i)
            if render is None:
                fail(fn, f"invalid format {pattern!r}: {c * (j - i)} is not a supported field")
            parts.append(render)
            i = j
        elif c in _SINGLE:
            parts.append(_SINGLE[c])
            i += 1
        else:
            parts.append(c)
            i += 1
    merged: list[str | Callable[[datetime], str]] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)

    def render_all(dt: datetime) -> str:
        return "".join([p if isinstance(p, str) else p(dt) for p in merged])

    return render_all


_FORMATS: dict[str, Callable[[datetime], str]] = {}


def format_datetime(dt: datetime, pattern: str, fn: str = "format_time") -> str:
    render = _FORMATS.get(pattern)
    if render is None:
        render = compile_format(pattern, fn)
        if len(_FORMATS) > 256:
            _FORMATS.clear()
        _FORMATS[pattern] = render
    return render(dt)
