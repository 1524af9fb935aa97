"""Label and field selectors as Kubernetes parses, prints and matches them."""

from __future__ import annotations

import pytest

from edgeplane.api.selectors import (
    DOES_NOT_EXIST,
    EQUALS,
    EXISTS,
    IN,
    NOT_IN,
    FieldSelector,
    LabelSelector,
    Requirement,
    SelectorError,
    selector_from_set,
)

LABELS = {"app": "web", "tier": "fe", "env": "prod", "replicas": "3", "empty": ""}

# (selector text, canonical form, matches LABELS)
PARSE_CASES = [
    ("", "", True),
    ("   ", "", True),
    ("app=web", "app=web", True),
    ("app==web", "app==web", True),
    ("app=db", "app=db", False),
    ("app!=db", "app!=db", True),
    ("app!=web", "app!=web", False),
    ("missing!=x", "missing!=x", True),
    ("empty=", "empty=", True),
    ("missing=", "missing=", False),
    ("env in (prod,staging)", "env in (prod,staging)", True),
    ("env in (staging, dev)", "env in (dev,staging)", False),
    ("env notin (dev)", "env notin (dev)", True),
    ("env notin (prod)", "env notin (prod)", False),
    ("missing notin (x)", "missing notin (x)", True),
    ("missing in (x)", "missing in (x)", False),
    ("app", "app", True),
    ("missing", "missing", False),
    ("!missing", "!missing", True),
    ("!app", "!app", False),
    ("replicas>2", "replicas>2", True),
    ("replicas<3", "replicas<3", False),
    ("app>2", "app>2", False),
    ("missing<9", "missing<9", False),
    ("  tier = fe ,  app  in  ( web )  ", "app in (web),tier=fe", True),
    ("tier=fe,app=web,!legacy", "app=web,!legacy,tier=fe", True),
    ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()", False),
    ("env in (prod,)", "env in (,prod)", True),
    ("env in (,prod)", "env in (,prod)", True),
    ("empty in ()", "empty in ()", True),
    ("in in (in,notin)", "in in (in,notin)", False),
    ("example.com/role=edge", "example.com/role=edge", False),
    ("app=web,app=db", "app=web,app=db", False),
]


@pytest.mark.parametrize(
    ("text", "canonical", "selected"), PARSE_CASES, ids=[c[0] or "<empty>" for c in PARSE_CASES]
)
def test_label_selector_parse_print_match(text: str, canonical: str, selected: bool) -> None:
    selector = LabelSelector.parse(text)
    assert str(selector) == canonical
    assert selector.matches(LABELS) is selected
    assert LabelSelector.parse(str(selector)) == selector, (
        "the canonical form parses back to the same selector"
    )


def test_empty_selector_matches_everything_including_no_labels() -> None:
    selector = LabelSelector.parse("")
    assert selector.empty()
    assert selector.matches(None)
    assert selector.matches({})


@pytest.mark.parametrize(
    ("text", "with_none"),
    [("app=web", False), ("a=1,b=2", False), ("!app", True), ("app notin (x)", True), ("app,b=1", False)],
)
def test_objects_without_labels(text: str, with_none: bool) -> None:
    assert LabelSelector.parse(text).matches(None) is with_none


def test_requirements_are_sorted_by_key_and_expose_operators() -> None:
    selector = LabelSelector.parse("z in (b,a),a=1,!m,k")
    assert selector.requirements() == [
        Requirement("a", EQUALS, ("1",)),
        Requirement("k", EXISTS),
        Requirement("m", DOES_NOT_EXIST),
        Requirement("z", IN, ("a", "b")),
    ]
    assert selector.requires_exact_match("a") == "1"
    assert selector.requires_exact_match("z") is None
    assert selector.requires_exact_match("nope") is None
    assert LabelSelector.parse("q in (only)").requires_exact_match("q") == "only"


LABEL_ERRORS = [
    ("a=b c", "found 'c', expected: ',' or 'end of string'", 4),
    ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt", 2),
    ("a,,b", "found ',', expected: identifier after ','", 2),
    ("a=b,", "found '', expected: identifier after ','", 4),
    (",a", "found ',', expected: !, identifier, or 'end of string'", 0),
    ("!", "unable to parse requirement: found '', expected: identifier", 1),
    ("!a=b", "found '=', expected: ',' or 'end of string'", 2),
    ("a in b", "unable to parse requirement: found 'b' expected: '('", 5),
    ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'", 7),
    ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'", 8),
    ("a in (", "unable to parse requirement: found '', expected: ',', ')' or identifier", 6),
    ("a in (b,=)", "unable to parse requirement: found '=', expected: ',', or identifier", 8),
    ("a=(", "unable to parse requirement: found '(', expected: identifier", 2),
    (
        "a>x",
        "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer",
        2,
    ),
    (
        "-a=b",
        'unable to parse requirement: key: Invalid value: "-a": name part must consist of alphanumeric',
        0,
    ),
    ("x/y/z", 'key: Invalid value: "x/y/z": a qualified name must consist of', 0),
    ("Bad_Prefix/k", 'key: Invalid value: "Bad_Prefix/k": prefix part a lowercase RFC 1123 subdomain', 0),
    ("a=" + "v" * 64, 'values[0]: Invalid value: "' + "v" * 64 + '": must be no more than 63 characters', 2),
    ("a in (ok, bad_)", 'values[0]: Invalid value: "bad_": a valid label must be an empty string', 5),
    ("k" * 64, "name part must be no more than 63 characters", 0),
]


@pytest.mark.parametrize(
    ("text", "fragment", "position"), LABEL_ERRORS, ids=[c[0][:20] for c in LABEL_ERRORS]
)
def test_label_selector_errors_name_the_bad_part(text: str, fragment: str, position: int) -> None:
    with pytest.raises(SelectorError) as info:
        LabelSelector.parse(text)
    assert fragment in str(info.value)
    assert info.value.position == position


def test_from_dict_match_labels_and_expressions() -> None:
    selector = LabelSelector.from_dict(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "staging"]},
                {"key": "tier", "operator": "NotIn", "values": ["db"]},
                {"key": "replicas", "operator": "Exists"},
                {"key": "legacy", "operator": "DoesNotExist"},
            ],
        }
    )
    assert str(selector) == "app=web,env in (prod,staging),!legacy,replicas,tier notin (db)"
    assert selector.matches(LABELS)
    assert not selector.matches({**LABELS, "legacy": "1"})
    assert not selector.matches({**LABELS, "tier": "db"})
    assert not selector.matches({k: v for k, v in LABELS.items() if k != "replicas"})
    assert [r.operator for r in selector.requirements()] == [EQUALS, IN, DOES_NOT_EXIST, EXISTS, NOT_IN]


def test_from_dict_empty_selects_everything_and_none_selects_nothing() -> None:
    assert LabelSelector.from_dict({}).empty()
    assert LabelSelector.from_dict({"matchLabels": {}, "matchExpressions": []}).matches({"a": "b"})
    nothing = LabelSelector.from_dict(None)
    assert not nothing.empty()
    assert not nothing.matches({"a": "b"})
    assert not nothing.matches(None)


DICT_ERRORS = [
    (
        {"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["b"]}]},
        'matchExpressions[0].operator: Unsupported value: "Equals": supported values: "In", "NotIn", "Exists", "DoesNotExist"',
    ),
    (
        {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
        "matchExpressions[0].values: Invalid value: [...]: for 'in', 'notin' operators, values set can't be empty",
    ),
    (
        {
            "matchExpressions": [
                {"key": "a", "operator": "In"},
                {"key": "b", "operator": "Exists", "values": ["x"]},
            ]
        },
        "matchExpressions[1].values: Invalid value: [...]: values set must be empty for exists and does not exist",
    ),
    (
        {"matchExpressions": [{"key": "a b", "operator": "Exists"}]},
        'matchExpressions[0].key: Invalid value: "a b"',
    ),
    ({"matchLabels": {"a": "b c"}}, 'matchLabels[a]: Invalid value: "b c": a valid label must be'),
    ({"matchLabels": {"-a": "b"}}, 'matchLabels: Invalid value: "-a": name part must consist of'),
    ({"matchLabels": {"a": 1}}, "matchLabels[a]: Invalid value: 1: must be a string"),
    ({"matchLabels": ["a"]}, "matchLabels: Invalid value: [...]: must be an object"),
    ({"matchExpressions": {"key": "a"}}, "matchExpressions: Invalid value: {...}: must be a list"),
    ({"matchExpressions": ["a"]}, 'matchExpressions[0]: Invalid value: "a": must be an object'),
]


@pytest.mark.parametrize(("selector", "fragment"), DICT_ERRORS, ids=[str(i) for i in range(len(DICT_ERRORS))])
def test_from_dict_errors_name_the_field(selector: dict, fragment: str) -> None:
    with pytest.raises(SelectorError) as info:
        LabelSelector.from_dict(selector)
    assert fragment in str(info.value)


def test_from_dict_reports_every_problem_as_a_list() -> None:
    with pytest.raises(SelectorError) as info:
        LabelSelector.from_dict(
            {"matchLabels": {"a": "b_"}, "matchExpressions": [{"key": "c", "operator": "X"}]}
        )
    message = str(info.value)
    assert message.startswith("[") and message.endswith("]")
    assert "matchLabels[a]" in message and "matchExpressions[0].operator" in message


def test_selector_from_set() -> None:
    selector = selector_from_set({"zone": "a", "app": "web"})
    assert str(selector) == "app=web,zone=a"
    assert selector.matches({"app": "web", "zone": "a", "x": "y"})
    assert not selector.matches({"app": "web"})
    assert selector_from_set({}).empty()
    assert selector_from_set(None).matches(None)


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(SelectorError, match="must be a string"):
        LabelSelector.parse(None)  # type: ignore[arg-type]


FIELD_CASES = [
    ("", "", True),
    ("spec.nodeName=n1", "spec.nodeName=n1", True),
    ("spec.nodeName==n1", "spec.nodeName=n1", True),
    ("spec.nodeName!=n1", "spec.nodeName!=n1", False),
    ("status.phase=Running,spec.nodeName=n1", "spec.nodeName=n1,status.phase=Running", True),
    (
        "status.phase!=Pending,metadata.name=a\\,b\\=c\\\\",
        "metadata.name=a\\,b\\=c\\\\,status.phase!=Pending",
        True,
    ),
    ("spec.missing=", "spec.missing=", True),
    ("spec.missing=x", "spec.missing=x", False),
    ("spec.missing!=x", "spec.missing!=x", True),
]

OBJECT_FIELDS = {"spec.nodeName": "n1", "status.phase": "Running", "metadata.name": "a,b=c\\"}


@pytest.mark.parametrize(
    ("text", "canonical", "selected"), FIELD_CASES, ids=[c[0] or "<empty>" for c in FIELD_CASES]
)
def test_field_selector(text: str, canonical: str, selected: bool) -> None:
    selector = FieldSelector.parse(text)
    assert str(selector) == canonical
    assert selector.matches(OBJECT_FIELDS.get) is selected
    assert str(FieldSelector.parse(str(selector))) == canonical


def test_field_selector_fields_and_exact_match() -> None:
    selector = FieldSelector.parse("spec.nodeName=n1,metadata.namespace!=kube-system,spec.nodeName!=n2")
    assert selector.fields() == ["metadata.namespace", "spec.nodeName"]
    assert selector.requires_exact_match("spec.nodeName") == "n1"
    assert selector.requires_exact_match("metadata.namespace") is None
    assert FieldSelector.parse("").empty()


FIELD_ERRORS = [
    ("spec.nodeName", "invalid selector: 'spec.nodeName'; can't understand 'spec.nodeName'", 0),
    ("a=b,oops", "invalid selector: 'a=b,oops'; can't understand 'oops'", 4),
    ("a=b\\x", "invalid field selector: invalid escape sequence: \\x", 3),
    ("a=b=c", "invalid field selector: unescaped character in value: =", 3),
    ("a=b\\", "invalid field selector: invalid escape sequence: \\", 3),
]


@pytest.mark.parametrize(("text", "message", "position"), FIELD_ERRORS, ids=[c[0] for c in FIELD_ERRORS])
def test_field_selector_errors(text: str, message: str, position: int) -> None:
    with pytest.raises(SelectorError) as info:
        FieldSelector.parse(text)
    assert str(info.value) == message
    assert info.value.position == position
