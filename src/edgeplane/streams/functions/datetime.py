"""Date and time functions (eKuiper: docs/en_US/sqls/functions/datetime_functions.md).

Arguments are converted as eKuiper's InterfaceToTime does (see ``_time.to_datetime``). Results follow
eKuiper's implementation: ``now`` and friends and ``date_calc`` return formatted strings, ``day_of_week`` is
Go's weekday number (Sunday 0), ``date_diff`` is Go's duration (nanoseconds) from the first date to the
second.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from typing import Any

from edgeplane.streams.functions import clock
from edgeplane.streams.functions._time import configured_zone, format_datetime, from_millis, to_datetime
from edgeplane.streams.functions._values import bad_arg, fail, to_int, to_string_always
from edgeplane.streams.functions.registry import scalar

# fsp 0..6: eKuiper's S run renders the dot and that many fraction digits.
_FSP_FORMATS = tuple("yyyy-MM-dd HH:mm:ss" + "S" * n for n in range(7))


def _now_text(fn: str, fsp: Any, time_only: bool) -> str:
    precision = 0 if fsp is None else to_int(fn, 0, fsp)
    pattern = _FSP_FORMATS[precision] if 0 <= precision <= 6 else _FSP_FORMATS[0]
    text = format_datetime(from_millis(clock.now_ms()), pattern, fn)
    return text.split(" ", 1)[1] if time_only else text


@scalar(
    "now",
    0,
    1,
    aliases=("current_timestamp", "local_time", "local_timestamp"),
    doc="now([fsp]): the current time as 'YYYY-MM-DD HH:mm:ss' with fsp fraction digits (0-6)",
)
def now(fsp: Any = None) -> str:
    return _now_text("now", fsp, False)


@scalar("cur_time", 0, 1, aliases=("current_time",), doc="cur_time([fsp]): the current time as 'HH:mm:ss'")
def cur_time(fsp: Any = None) -> str:
    return _now_text("cur_time", fsp, True)


@scalar("cur_date", 0, aliases=("current_date",), doc="the current date as 'YYYY-MM-DD'")
def cur_date() -> str:
    return format_datetime(from_millis(clock.now_ms()), "yyyy-MM-dd")


@scalar(
    "format_time", 2, null_in_null_out=True, doc="format_time(time, pattern), e.g. 'YYYY-MM-dd HH:mm:ssSSS'"
)
def format_time(value: Any, pattern: Any) -> str | None:
    if value is None or pattern is None:
        return None
    if type(pattern) is not str:
        bad_arg("format_time", 1, "a format string", pattern)
    return format_datetime(to_datetime("format_time", 0, value), pattern)


_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def _parse_duration_ns(text: str) -> int:
    """Go's time.ParseDuration: a sequence of decimal numbers with units, e.g. '1h30m', '-1.5s'."""
    s = text.strip()
    sign = 1
    if s[:1] in "+-":
        sign, s = (-1 if s[0] == "-" else 1), s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError("empty duration")
    total, i = 0.0, 0
    while i < len(s):
        j = i
        while j < len(s) and (s[j].isdigit() or s[j] == "."):
            j += 1
        if j == i:
            raise ValueError(f"missing number at {s[i:]!r}")
        k = j
        while k < len(s) and not (s[k].isdigit() or s[k] == "."):
            k += 1
        unit = s[j:k]
        if unit not in _UNITS_NS:
            raise ValueError(f"unknown unit {unit!r}" if unit else "missing unit")
        total += float(s[i:j]) * _UNITS_NS[unit]
        i = k
    return sign * int(total)


@scalar(
    "date_calc",
    2,
    null_in_null_out=True,
    doc="date_calc(date, duration): date moved by a Go duration such as '1h30m' or '-10s', as text",
)
def date_calc(value: Any, duration: Any) -> str | None:
    if value is None or duration is None:
        return None
    start = to_datetime("date_calc", 0, value)
    try:
        ns = _parse_duration_ns(to_string_always(duration))
    except ValueError as exc:
        fail("date_calc", f"invalid duration {duration!r}: {exc}")
    return format_datetime(start + timedelta(microseconds=ns // 1000), "yyyy-MM-dd HH:mm:ss")


@scalar("date_diff", 2, null_in_null_out=True, doc="date_diff(d1, d2): d2 - d1 as nanoseconds")
def date_diff(first: Any, second: Any) -> int | None:
    if first is None or second is None:
        return None
    delta = to_datetime("date_diff", 1, second) - to_datetime("date_diff", 0, first)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _part(name: str, extract: Any, doc: str) -> None:
    def impl(value: Any) -> Any:
        if value is None:
            return None
        return extract(to_datetime(name, 0, value))

    impl.__name__ = name
    scalar(name, 1, null_in_null_out=True, doc=doc)(impl)


_part("day_name", lambda d: calendar.day_name[d.weekday()], "the weekday's name, e.g. Monday")
_part("day_of_month", lambda d: d.day, "the day of the month (1-31)")
_part("day", lambda d: d.day, "the day of the month (1-31), like day_of_month")
_part("day_of_week", lambda d: (d.weekday() + 1) % 7, "Go's weekday number: Sunday 0 ... Saturday 6")
_part("day_of_year", lambda d: d.timetuple().tm_yday, "the day of the year (1-366)")
_part("hour", lambda d: d.hour, "the hour (0-23)")
_part("minute", lambda d: d.minute, "the minute (0-59)")
_part("second", lambda d: d.second, "the second (0-59)")
_part("microsecond", lambda d: d.microsecond, "the microseconds within the second")
_part("year", lambda d: d.year, "the year")
_part("month", lambda d: d.month, "the month (1-12)")
_part("month_name", lambda d: calendar.month_name[d.month], "the month's name, e.g. January")
_part(
    "last_day",
    lambda d: f"{d.year:04d}-{d.month:02d}-{calendar.monthrange(d.year, d.month)[1]:02d}",
    "the last day of the date's month as 'YYYY-MM-DD'",
)


@scalar("from_days", 1, null_in_null_out=True, doc="from_days(n): day n counted from 1970-01-01 (day 1)")
def from_days(days: Any) -> str | None:
    if days is None:
        return None
    n = to_int("from_days", 0, days)
    if n == 0:
        return None
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=n - 1)).strftime("%Y-%m-%d")


@scalar(
    "from_unix_time",
    1,
    null_in_null_out=True,
    doc="from_unix_time(seconds): 'YYYY-MM-DD HH:mm:ss' in the configured time zone",
)
def from_unix_time(seconds: Any) -> str | None:
    if seconds is None:
        return None
    n = to_int("from_unix_time", 0, seconds)
    if n == 0:
        return None
    moment = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=n)).astimezone(configured_zone())
    return format_datetime(moment, "yyyy-MM-dd HH:mm:ss")
