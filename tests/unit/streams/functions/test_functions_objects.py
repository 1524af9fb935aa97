import pytest

from edgeplane.streams.functions import FunctionError

CASES = [
    ("keys", ({"a": 1, "b": 2},), ["a", "b"]),
    ("keys", (None,), None),
    ("values", ({"a": 1, "b": 2},), [1, 2]),
    ("object", (["a", "b"], [1, 2]), {"a": 1, "b": 2}),
    ("object", ([], []), None),
    ("object", (None, [1]), None),
    ("zip", ([["a", 1], ["b", 2]],), {"a": 1, "b": 2}),
    ("zip", ([],), None),
    ("items", ({"a": 1, "b": 2},), [["a", 1], ["b", 2]]),
    ("items", ({},), None),
    ("object_construct", ("a", 1, "b", 2), {"a": 1, "b": 2}),
    ("object_construct", ("a", 1, "b", None), {"a": 1}),
    ("object_concat", ({"a": 1}, {"b": 2}, {"b": 3}), {"a": 1, "b": 3}),
    ("object_concat", ({"a": 1}, None), {"a": 1}),
    (
        "erase",
        ({"baz": [1, 2, 3], "bar": "hello world", "foo": "emq"}, "foo"),
        {"baz": [1, 2, 3], "bar": "hello world"},
    ),
    ("erase", ({"a": 1, "b": 2, "c": 3}, ["a", "c"]), {"b": 2}),
    ("erase", (None, "a"), None),
    ("object_pick", ({"a": 1, "b": 2, "c": 3}, "a", "c"), {"a": 1, "c": 3}),
    ("object_pick", ({"a": 1, "b": 2, "c": 3}, ["b", "x"]), {"b": 2}),
    ("obj_to_kvpair_array", ({"a": 1},), [{"key": "a", "value": 1}]),
]


@pytest.mark.parametrize(("name", "args", "expected"), CASES)
def test_documented_behaviour(call, name, args, expected):
    assert call(name, *args) == expected


def test_erase_returns_a_new_object(call):
    data = {"a": 1, "b": 2}
    assert call("erase", data, "a") == {"b": 2}
    assert data == {"a": 1, "b": 2}


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("keys", ([1],), "keys: first argument must be an object, got array [1]"),
        ("object", (["a"], [1, 2]), "object: keys and values must have the same length, got 1 and 2"),
        ("object", ([1], [1]), "object: first argument must be an array of strings, got bigint 1"),
        ("zip", ([["a", 1, 2]],), "zip: first argument must be an array of [key, value] pairs"),
        ("zip", ([[1, 1]],), "zip: the key of each pair must be a string, got bigint 1"),
        ("object_construct", ("a", 1, "b"), "object_construct: arguments must be key/value pairs, got 3"),
        ("object_construct", (1, 1), "object_construct: first argument must be a string"),
        ("erase", ({"a": 1}, 5), "erase: second argument must be a string or an array of strings"),
        ("object_concat", ({"a": 1}, [1]), "object_concat: second argument must be an object"),
    ],
)
def test_bad_values(call, name, args, message):
    with pytest.raises(FunctionError) as err:
        call(name, *args)
    assert message in str(err.value)


def test_object_size(call):
    assert call("object_size", {"a": 1, "b": None}) == 2
    assert call("object_size", None) is None
