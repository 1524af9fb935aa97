"""The conformance harness itself: the comparison catches real differences and bad case files are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance.streams.streams_cases import CaseFileError, load_file
from tests.conformance.streams.streams_emissions import first_difference


def test_numbers_compare_by_value_with_tiny_tolerance() -> None:
    assert first_difference([[{"a": 3, "b": 52.9}]], [[{"a": 3.0, "b": 25.5 + 27.4}]]) is None


def test_integer_division_differs_from_float_division() -> None:
    assert "expected 3" in first_difference([[{"q": 3}]], [[{"q": 3.5}]])


def test_bool_is_not_a_number_and_keys_must_match() -> None:
    assert first_difference([[{"x": 1}]], [[{"x": True}]]) is not None
    assert "unexpected ['y']" in first_difference([[{"x": 1}]], [[{"x": 1, "y": None}]])


def test_emission_and_row_order_matter() -> None:
    assert first_difference([[{"a": 1}], [{"a": 2}]], [[{"a": 2}], [{"a": 1}]]) is not None
    assert "expected 2 items, got 1" in first_difference([[{"a": 1}], []], [[{"a": 1}]])


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "family.yaml"
    path.write_text(text)
    return path


def test_case_needs_exactly_one_expectation(tmp_path: Path) -> None:
    with pytest.raises(CaseFileError, match="exactly one of 'expect' and 'expect_error'"):
        load_file(write(tmp_path, "- {name: a, sql: SELECT 1}\n"))


def test_input_must_be_in_arrival_order(tmp_path: Path) -> None:
    text = ("- name: a\n  sql: SELECT 1\n  expect: []\n  input:\n"
            "  - {stream: s, timestamp: 2, data: {}}\n  - {stream: s, timestamp: 1, data: {}}\n")
    with pytest.raises(CaseFileError, match=r"input\[1\].*arrival order"):
        load_file(write(tmp_path, text))


def test_unknown_field_is_named(tmp_path: Path) -> None:
    with pytest.raises(CaseFileError, match=r"unknown field.*expcet"):
        load_file(write(tmp_path, "- {name: a, sql: x, expect: [], expcet: []}\n"))
