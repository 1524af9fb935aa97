import pytest

from edgeplane.streams.functions import FunctionError

CASES = [
    ("cardinality", ([1, 2, 3],), 3),
    ("cardinality", (None,), 0),
    ("array_position", ([1, 2, 3], 2), 1),
    ("array_position", ([1, 2, 3], 4), -1),
    ("array_position", ([1, True], True), 1),  # true is not 1
    ("array_position", ([1.0, 2.0], 2), 1),  # numbers compare by value
    ("array_position", (None, 1), -1),
    ("array_last_position", ([1, 2, 1], 1), 2),
    ("array_last_position", (None, 1), -1),
    ("element_at", ([1, 2, 3], 0), 1),
    ("element_at", ([1, 2, 3], -1), 3),
    ("element_at", ({"a": 5}, "a"), 5),
    ("element_at", (None, 0), None),
    ("array_contains", ([1, 2], 2), True),
    ("array_contains", ([1, 2], 3), False),
    ("array_contains", (None, 3), None),
    ("array_create", (1, "a", None), [1, "a", None]),
    ("array_remove", ([1, 2, 1, 3], 1), [2, 3]),
    ("array_remove", (None, 1), None),
    ("array_contains_any", ([1, 2], [3, 2]), True),
    ("array_contains_any", ([1, 2], [3]), False),
    ("array_contain_any", ([1, 2], [2]), True),
    ("array_contains_any", (None, [3]), False),
    ("array_intersect", ([1, 1, 2, 3], [3, 1, 4]), [3, 1]),
    ("array_intersect", (None, [1]), None),
    ("array_union", ([1, 2, 2], [2, 3]), [1, 2, 3]),
    ("array_except", ([1, 2, 2, 3], [3]), [1, 2]),
    ("array_except", (None, [3]), None),
    ("array_max", ([1, 5, None, 3],), 5),
    ("array_max", (["b", "a"],), "b"),
    ("array_min", ([4.5, 1, None],), 1),
    ("array_max", (None,), None),
    ("array_avg", ([1, 2, None, 4],), 7 / 3),
    ("array_avg", ([None],), None),
    ("repeat", ("a", 3), ["a", "a", "a"]),
    ("sequence", (1, 5), [1, 2, 3, 4, 5]),
    ("sequence", (5, 1), [5, 4, 3, 2, 1]),
    ("sequence", (1, 10, 3), [1, 4, 7, 10]),
    ("sequence", (1, 10, -1), []),
    ("array_cardinality", ([1, None, 3],), 2),
    ("array_cardinality", (None,), 0),
    ("array_flatten", ([[1, 4], [2, 3]],), [1, 4, 2, 3]),
    ("array_flatten", (None,), None),
    ("array_distinct", ([1, 1, {"a": 1}, {"a": 1}, True],), [1, {"a": 1}, True]),
    ("array_map", ("upper", ["a", "b"]), ["A", "B"]),
    ("array_map", ("abs", [-1, 2.5]), [1, 2.5]),
    ("array_map", ("upper", None), None),
    ("array_join", (["a", "b", "c"], ","), "a,b,c"),
    ("array_join", (["a", None, "c"], ",", "-"), "a,-,c"),
    ("array_join", (None, ","), None),
    ("array_concat", ([1], None, [2, 3]), [1, 2, 3]),
    ("array_sort", ([3, 2, "b", "a"],), [2, 3, "a", "b"]),
    ("array_sort", (None,), None),
    (
        "kvpair_array_to_obj",
        ([{"key": "key1", "value": 1}, {"key": "key2", "value": 2}],),
        {"key1": 1, "key2": 2},
    ),
]


@pytest.mark.parametrize(("name", "args", "expected"), CASES)
def test_documented_behaviour(call, name, args, expected):
    result = call(name, *args)
    if isinstance(expected, float):
        assert result == pytest.approx(expected)
    else:
        assert result == expected
        assert type(result) is type(expected)


def test_functions_do_not_modify_their_arguments(call):
    data = [3, 1, 2, 1]
    for name, args in [
        ("array_remove", (data, 1)),
        ("array_sort", (data,)),
        ("array_shuffle", (data,)),
        ("array_distinct", (data,)),
    ]:
        call(name, *args)
    assert data == [3, 1, 2, 1]


def test_shuffle_keeps_the_members(call):
    assert sorted(call("array_shuffle", list(range(20)))) == list(range(20))


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("array_position", ("abc", 1), "array_position: first argument must be an array, got string 'abc'"),
        ("element_at", ([1, 2], 2), "element_at: index 2 out of range for array of length 2"),
        ("element_at", ({"a": 1}, 1), "element_at: second argument must be a string"),
        ("array_max", ([1, "a"],), "array_max: members must be all numbers or all strings"),
        ("array_avg", ([1, "a"],), "array_avg: members must be numbers, found string 'a'"),
        ("sequence", (1, 5, 0), "sequence: step must not be 0"),
        ("array_flatten", ([[1], 2],), "array_flatten: members must be arrays, found bigint 2"),
        ("array_join", ([1, 2], ","), "array_join: members must be strings, found bigint 1"),
        ("array_map", ("nope", [1]), "array_map: unknown function 'nope'"),
        ("array_map", ("concat_ws", [1]), "array_map: unknown function 'concat_ws'"),
        ("array_map", ("power", [1]), "array_map: power is not a scalar function taking one argument"),
        ("repeat", ("a", -1), "repeat: count must not be negative"),
        ("kvpair_array_to_obj", ([1],), "kvpair_array_to_obj: first argument must be an array of"),
    ],
)
def test_bad_values(call, name, args, message):
    with pytest.raises(FunctionError) as err:
        call(name, *args)
    assert message in str(err.value)
