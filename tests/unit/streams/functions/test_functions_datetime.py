from datetime import UTC, datetime

import pytest

from edgeplane.streams.functions import FunctionError, set_clock

T0 = 1541152486013  # 2018-11-02T09:54:46.013Z, a Friday


@pytest.fixture
def frozen_clock():
    set_clock(lambda: T0)
    yield
    set_clock(None)


CASES = [
    ("format_time", (T0, "YYYY-MM-dd T HH:mm:ss"), "2018-11-02 T 09:54:46"),
    ("format_time", (T0, "YYYY/MM/dd HH:mm:ssSSS XXX"), "2018/11/02 09:54:46.013 +00:00"),
    ("format_time", (T0, "yy-M-d h:m:s a"), "18-11-2 9:54:46 AM"),
    ("format_time", (T0, "EEE, MMM d, YYYY"), "Fri, Nov 2, 2018"),
    ("format_time", (T0, "EEEE MMMM G z Z X"), "Friday November AD UTC +0000 +00"),
    ("format_time", (T0, "'at' HH'h'"), "at 09h"),
    ("format_time", ("2018-11-02T17:54:46+08:00", "HH:mm XXX"), "09:54 +00:00"),
    (
        "format_time",
        (datetime(2020, 1, 5, 23, 1, 2, tzinfo=UTC), "YYYY-MM-dd HH:mm:ss"),
        "2020-01-05 23:01:02",
    ),
    ("format_time", (None, "YYYY"), None),
    ("date_calc", ("2019-01-01", "1h30m10s100ms"), "2019-01-01 01:30:10"),
    ("date_calc", ("2019-01-01", "-1h30m"), "2018-12-31 22:30:00"),
    ("date_calc", (T0, "24h"), "2018-11-03 09:54:46"),
    ("date_diff", ("2019-01-01", "2019-01-02"), 86_400_000_000_000),
    ("day_name", (T0,), "Friday"),
    ("day_of_month", (T0,), 2),
    ("day", (T0,), 2),
    ("day_of_week", (T0,), 5),
    ("day_of_week", ("2024-06-02",), 0),  # a Sunday
    ("day_of_year", ("2024-02-01",), 32),
    ("hour", (T0,), 9),
    ("minute", (T0,), 54),
    ("second", (T0,), 46),
    ("microsecond", (T0,), 13000),
    ("month", (T0,), 11),
    ("month_name", (T0,), "November"),
    ("year", ("2023-05-06 14:30:15",), 2023),
    ("last_day", ("2024-02-10",), "2024-02-29"),
    ("last_day", ("2023-12-31",), "2023-12-31"),
    ("from_days", (1,), "1970-01-01"),
    ("from_days", (366,), "1971-01-01"),
    ("from_days", (0,), None),
    ("from_unix_time", (1541152486,), "2018-11-02 09:54:46"),
    ("from_unix_time", (None,), None),
    ("hour", (None,), None),
]


@pytest.mark.parametrize(("name", "args", "expected"), CASES)
def test_documented_behaviour(call, name, args, expected):
    assert call(name, *args) == expected


@pytest.mark.usefixtures("frozen_clock")
@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("now", (), "2018-11-02 09:54:46"),
        ("now", (3,), "2018-11-02 09:54:46.013"),
        ("current_timestamp", (1,), "2018-11-02 09:54:46.0"),
        ("local_time", (), "2018-11-02 09:54:46"),
        ("cur_time", (), "09:54:46"),
        ("current_time", (2,), "09:54:46.01"),
        ("cur_date", (), "2018-11-02"),
        ("current_date", (), "2018-11-02"),
        ("tstamp", (), T0),
    ],
)
def test_current_time_comes_from_the_installed_clock(call, name, args, expected):
    assert call(name, *args) == expected


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("format_time", (T0, "YYY"), "format_time: invalid format 'YYY': YYY is not a supported field"),
        ("format_time", (T0, "H:mm"), "format_time: invalid format 'H:mm'"),
        ("format_time", (T0, 5), "format_time: second argument must be a format string"),
        ("format_time", (True, "YYYY"), "format_time: first argument must be a datetime"),
        ("hour", ("noon",), "hour: cannot parse 'noon' as a datetime"),
        ("date_calc", (T0, "1 day"), "date_calc: invalid duration '1 day'"),
        ("from_days", (1.5,), "from_days: first argument must be an integer"),
    ],
)
def test_bad_values(call, name, args, message):
    with pytest.raises(FunctionError) as err:
        call(name, *args)
    assert message in str(err.value)
