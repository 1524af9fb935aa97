import pytest

from edgeplane.streams.functions import FunctionError

# The sample document of eKuiper's json_expr.md.
FOLLOWERS = {
    "Group1": [
        {"first": "John", "last": "Shavor", "age": 22},
        {"first": "Jack", "last": "Miller", "age": 40},
    ],
    "Group2": [{"first": "Al", "last": "Bean", "age": 70}],
    "my.follower": ["Miller"],
}
DOC = {
    "age": 37,
    "friends": [{"first": "Dale", "age": 44}, {"first": "Roger", "age": 68}],
    "name": {"x y": 1},
}

CASES = [
    ("json_path_query", (FOLLOWERS, "$.Group1[*].last"), ["Shavor", "Miller"]),
    ("json_path_query", (FOLLOWERS, "$.Group1[? @.age>30].last"), ["Miller"]),
    ("json_path_query", (FOLLOWERS, '$["my.follower"]'), ["Miller"]),
    ("json_path_query", (DOC, "$.age"), 37),
    ("json_path_query", (DOC, "$.friends[0]"), {"first": "Dale", "age": 44}),
    ("json_path_query", (DOC, "$.friends[-1].first"), "Roger"),
    ("json_path_query", (DOC, "$.friends[? (@.age>60)].first"), ["Roger"]),
    ("json_path_query", (DOC, "$.friends[?(@.age > 40 && @.first == 'Dale')].first"), ["Dale"]),
    ("json_path_query", (DOC, "$.friends[0:1].first"), ["Dale"]),
    ("json_path_query", (DOC, "$.friends[0,1].age"), [44, 68]),
    ("json_path_query", (DOC, "$..age"), [37, 44, 68]),
    ("json_path_query", (DOC, "$.name['x y']"), 1),
    ("json_path_query", (DOC, "$.friends[? @.first =~ '^R'].age"), [68]),
    ("json_path_query", (None, "$.a"), None),
    ("json_path_query_first", (FOLLOWERS, "$.Group1[*].last"), "Shavor"),
    ("json_path_query_first", (FOLLOWERS, "$.Group1[? @.age>100].last"), None),
    ("json_path_query_first", (DOC, "$.age"), 37),
    ("json_path_exists", (FOLLOWERS, "$.Group1[? @.age>30]"), True),
    ("json_path_exists", (FOLLOWERS, "$.Group1[? @.age>300]"), False),
    ("json_path_exists", (DOC, "$.missing"), False),
    ("json_path_exists", (None, "$.age"), False),
    (
        "to_json",
        ({"b": [1.0, 2.5], "a": None, "c": "<tag>"},),
        '{"a":null,"b":[1,2.5],"c":"\\u003ctag\\u003e"}',
    ),
    ("to_json", (None,), "null"),
    ("to_json", ("x",), '"x"'),
    ("parse_json", ('{"a": [1, 2.5, true]}',), {"a": [1, 2.5, True]}),
    ("parse_json", ("null",), None),
    ("parse_json", (None,), None),
]


@pytest.mark.parametrize(("name", "args", "expected"), CASES)
def test_documented_behaviour(call, name, args, expected):
    assert call(name, *args) == expected


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("json_path_query", (DOC, "$.missing"), "json_path_query: unknown key missing"),
        (
            "json_path_query",
            (DOC, "$.friends[5]"),
            "json_path_query: index 5 out of bounds for array of length 2",
        ),
        ("json_path_query", (DOC, "$.friends["), "json_path_query: unexpected end of path"),
        ("json_path_query", (DOC, "age"), "json_path_query: a path must start with $ or @"),
        ("json_path_query", (DOC, 5), "json_path_query: second argument must be a string"),
        ("parse_json", ("{bad",), "parse_json: invalid JSON at position 1"),
    ],
)
def test_errors(call, name, args, message):
    with pytest.raises(FunctionError) as err:
        call(name, *args)
    assert message in str(err.value)
