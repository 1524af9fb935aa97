import math

import pytest

from edgeplane.streams.functions import FunctionError, lookup

CASES = [
    # (function, args, expected) — eKuiper keeps abs's type; rounding and trig give floats
    ("abs", (-3,), 3),
    ("abs", (-3.5,), 3.5),
    ("abs", (None,), None),
    ("ceil", (1.2,), 2.0),
    ("ceiling", (-1.2,), -1.0),
    ("floor", (1.8,), 1.0),
    ("round", (2.5,), 3.0),
    ("round", (-2.5,), -3.0),
    ("round", (3.14159, 2), 3.14),
    ("round", (1234.5, -2), 1200.0),
    ("round", (None, 2), None),
    ("sign", (-7,), -1),
    ("sign", (0.0,), 0),
    ("sign", (2.5,), 1),
    ("mod", (7, 3), 1),
    ("mod", (-7, 3), -1),
    ("mod", (7.5, 2), 1.5),
    ("mod", (7, 0), None),
    ("power", (2, 10), 1024.0),
    ("pow", (9, 0.5), 3.0),
    ("sqrt", (16,), 4.0),
    ("sqrt", (-1,), None),
    ("acos", (2,), None),
    ("exp", (0,), 1.0),
    ("ln", (math.e,), 1.0),
    ("log", (100,), 2.0),
    ("log", (2, 8), 3.0),
    ("log", (0,), None),
    ("log", (1, 8), None),
    ("bitand", (12, 10), 8),
    ("bitor", (12, 10), 14),
    ("bitxor", (12, 10), 6),
    ("bitnot", (0,), -1),
    ("bitand", (12.0, 10), 8),
    ("bitand", (None, 10), None),
    ("atan2", (1, 1), math.pi / 4),
    ("degrees", (math.pi,), 180.0),
    ("radians", (180,), math.pi),
    ("conv", ("a", 16, 2), "1010"),
    ("conv", (255, 10, 16), "FF"),
    ("cos", (None,), None),
    ("pi", (), math.pi),
]


@pytest.mark.parametrize(("name", "args", "expected"), CASES)
def test_documented_behaviour(call, name, args, expected):
    result = call(name, *args)
    if isinstance(expected, float):
        assert result == pytest.approx(expected)
        assert type(result) is float
    else:
        assert result == expected
        assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("abs", ("x",), "abs: first argument must be a number, got string 'x'"),
        ("sqrt", (True,), "sqrt: first argument must be a number, got boolean True"),
        ("bitand", (1.5, 2), "bitand: first argument must be an integer, got float 1.5"),
        ("power", (2, "3"), "power: second argument must be a number"),
        ("round", (1.5, 0.5), "round: second argument must be an integer"),
        ("conv", ("zz", 10, 2), "conv: 'zz' is not a number in base 10"),
        ("conv", (1, 1, 2), "conv: bases must be between 2 and 36"),
    ],
)
def test_bad_values_name_function_argument_and_type(call, name, args, message):
    with pytest.raises(FunctionError) as err:
        call(name, *args)
    assert message in str(err.value)


def test_rand_is_in_unit_interval(call):
    values = {call("rand") for _ in range(50)}
    assert all(0.0 <= v < 1.0 for v in values)
    assert len(values) > 1


def test_declared_arity_and_nil_behaviour():
    assert (lookup("round").min_args, lookup("round").max_args) == (1, 2)
    assert (lookup("log").min_args, lookup("log").max_args) == (1, 2)
    assert lookup("sqrt").null_in_null_out
    assert lookup("ABS") is lookup("abs")
