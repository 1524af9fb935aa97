import pytest

from edgeplane.streams.functions import FunctionError, lookup

CASES = [
    ("concat", ("a", "b", "c"), "abc"),
    ("concat", ("a", None, "c"), "ac"),
    ("concat", ("n=", 1, " f=", 2.5, " t=", True), "n=1 f=2.5 t=true"),
    ("concat", ("x", 3.0), "x3"),
    ("endswith", ("device001", "001"), True),
    ("endswith", (None, "001"), False),
    ("startswith", ("device001", "dev"), True),
    ("startswith", ("device001", None), False),
    ("indexof", ("hello", "l"), 2),
    ("indexof", ("hello", "z"), -1),
    ("indexof", (None, "z"), -1),
    ("length", ("héllo",), 5),
    ("length", ([1, 2, 3],), 3),
    ("length", ({"a": 1},), 1),
    ("length", (None,), 0),
    ("numbytes", ("héllo",), 6),
    ("numbytes", (None,), 0),
    ("lower", ("ABC",), "abc"),
    ("upper", ("abc",), "ABC"),
    ("upper", (None,), None),
    ("trim", ("  a b \t",), "a b"),
    ("ltrim", ("  a ",), "a "),
    ("rtrim", ("  a ",), "  a"),
    ("lpad", ("ab", 2), "  ab"),
    ("rpad", ("ab", 2), "ab  "),
    ("lpad", (None, 2), None),
    ("regexp_matches", ("device-42", r"\d+$"), True),
    ("regexp_matches", ("device", r"\d+$"), False),
    ("regexp_matches", (None, r"\d"), False),
    ("regexp_replace", ("a1b22", r"\d+", "#"), "a#b#"),
    ("regexp_replace", ("2024-06-01", r"(\d+)-(\d+)-(\d+)", "$3/$2/$1"), "01/06/2024"),
    ("regexp_substring", ("abc123def", r"\d+"), "123"),
    ("regexp_substr", ("abc", r"\d+"), ""),
    ("substring", ("hello", 1), "ello"),
    ("substring", ("hello", 1, 3), "el"),
    ("substring", ("hello", 9), ""),
    ("substring", ("hello", 2, 99), "llo"),
    ("substring", (None, 1), None),
    ("split_value", ("/test/device001/message", "/", 0), ""),
    ("split_value", ("/test/device001/message", "/", 3), "message"),
    ("split_value", ("/test/device001/message", "/", -1), "message"),
    ("reverse", ("abc",), "cba"),
    ("format", (12332.1234567, 4, "en_US"), "12,332.1234"),
    ("format", (12332.1234567, 4), "12332.1235"),
    ("format", (1234567, 0, "en_US"), "1,234,567"),
    ("format", (None, 2), None),
]


@pytest.mark.parametrize(("name", "args", "expected"), CASES)
def test_documented_behaviour(call, name, args, expected):
    assert call(name, *args) == expected


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("substring", ("hello", -1), "substring: start index must not be negative"),
        ("substring", ("hello", 3, 1), "substring: start index 3 must not be greater than end index 1"),
        ("substring", ("hello", "1"), "substring: second argument must be an integer, got string '1'"),
        ("split_value", ("a/b", "/", 2), "split_value: index 2 out of range for 2 parts"),
        ("regexp_matches", ("a", "("), "regexp_matches: invalid regular expression '('"),
        ("lpad", ("a", "x"), "lpad: second argument must be an integer"),
        ("format", ("x", 2), "format: first argument must be a number"),
        ("format", (1.5, -1), "format: the decimal places must be 0 or more"),
        ("format", (1.5, 1, "de_DE"), "format: unsupported locale 'de_DE'"),
    ],
)
def test_bad_values(call, name, args, message):
    with pytest.raises(FunctionError) as err:
        call(name, *args)
    assert message in str(err.value)


def test_concat_takes_any_number_of_arguments():
    fn = lookup("concat")
    assert (fn.min_args, fn.max_args) == (1, None)
