"""Resource quantities: exact values, scheduler units and the canonical text Kubernetes prints."""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction

import pytest

from edgeplane.api.quantity import (
    FORMAT_ERROR,
    SUFFIX_ERROR,
    QuantityError,
    canonical_quantity,
    cpu_millis,
    format_quantity,
    memory_bytes,
    parse_quantity,
)

# (text, exact value, canonical text as kube-apiserver returns it)
CASES = [
    ("100m", Decimal("0.1"), "100m"),
    ("1", Decimal(1), "1"),
    ("1.5", Decimal("1.5"), "1500m"),
    ("0.5", Decimal("0.5"), "500m"),
    (".5", Decimal("0.5"), "500m"),
    ("1.", Decimal(1), "1"),
    ("128Mi", Decimal(128 * 2**20), "128Mi"),
    ("1Gi", Decimal(2**30), "1Gi"),
    ("1.5Gi", Decimal(3 * 2**29), "1536Mi"),
    ("1Ki", Decimal(1024), "1Ki"),
    ("1536Ki", Decimal(1536 * 1024), "1536Ki"),
    ("2Ei", Decimal(2 * 2**60), "2Ei"),
    ("0.5Ki", Decimal(512), "512"),
    ("1e3", Decimal(1000), "1e3"),
    ("12e6", Decimal(12_000_000), "12e6"),
    ("1E-3", Decimal("0.001"), "1e-3"),
    ("500k", Decimal(500_000), "500k"),
    ("1500", Decimal(1500), "1500"),
    ("1000", Decimal(1000), "1k"),
    ("2M", Decimal(2_000_000), "2M"),
    ("3G", Decimal(3 * 10**9), "3G"),
    ("4T", Decimal(4 * 10**12), "4T"),
    ("5P", Decimal(5 * 10**15), "5P"),
    ("6E", Decimal(6 * 10**18), "6E"),
    ("250n", Decimal("0.00000025"), "250n"),
    ("7u", Decimal("0.000007"), "7u"),
    ("0.0000000001", Decimal("1e-10"), "1n"),
    ("-2", Decimal(-2), "-2"),
    ("+3m", Decimal("0.003"), "3m"),
    ("0", Decimal(0), "0"),
    ("000100m", Decimal("0.1"), "100m"),
]


@pytest.mark.parametrize(("text", "value", "canonical"), CASES, ids=[c[0] for c in CASES])
def test_parse_and_canonical_form(text: str, value: Decimal, canonical: str) -> None:
    assert parse_quantity(text) == value
    assert canonical_quantity(text) == canonical
    # The canonical text means the same value, except that precision below 1n is rounded up.
    assert parse_quantity(canonical) == (Decimal("1e-9") if 0 < value < Decimal("1e-9") else value)


def test_numbers_are_quantities_too() -> None:
    assert parse_quantity(2) == 2
    assert parse_quantity(0.25) == Decimal("0.25")
    assert parse_quantity(0.1) + parse_quantity(0.2) == Decimal("0.3"), (
        "floats are read by their shortest repr"
    )


@pytest.mark.parametrize(
    ("q", "millis"),
    [
        ("100m", 100),
        ("1", 1000),
        ("1.5", 1500),
        ("0.1", 100),
        ("1u", 1),
        ("1.0001", 1001),
        (2, 2000),
        ("-1m", -1),
    ],
)
def test_cpu_millis_rounds_up(q: str | int, millis: int) -> None:
    assert cpu_millis(q) == millis


@pytest.mark.parametrize(
    ("q", "size"),
    [
        ("128Mi", 134217728),
        ("1Gi", 1073741824),
        ("1k", 1000),
        ("1.5", 2),
        ("500m", 1),
        ("1e3", 1000),
        (Decimal(7), 7),
    ],
)
def test_memory_bytes_rounds_up(q: str | Decimal, size: int) -> None:
    assert memory_bytes(q) == size


def test_units_accept_parsed_values() -> None:
    assert cpu_millis(parse_quantity("250m")) == 250
    assert memory_bytes(Fraction(3, 2)) == 2
    assert sum(cpu_millis(q) for q in ("100m", "0.2", "700m")) == 1000


@pytest.mark.parametrize(
    ("value", "binary", "text"),
    [
        (Decimal("0.25"), False, "250m"),
        (1024, True, "1Ki"),
        (1024, False, "1024"),
        (1000, True, "1k"),  # below 1024 Kubernetes falls back to decimal
        (1536 * 2**20, True, "1536Mi"),
        (1023, True, "1023"),
        (Decimal("1024.5"), True, "1024500m"),
        (2**70, True, "1024Ei"),
        (10**21, False, "1e21"),
        (Fraction(1, 3), False, "333333334n"),
        (-1536, True, "-1536"),
        (-2048, True, "-2Ki"),
        ("1.5Gi", False, "1610612736"),
    ],
)
def test_format_quantity(value: object, binary: bool, text: str) -> None:
    assert format_quantity(value, binary=binary) == text  # type: ignore[arg-type]


def test_format_then_parse_round_trips() -> None:
    rng = random.Random(1024)
    for _ in range(500):
        nanos = rng.randint(-(10**15), 10**15)
        value = Decimal(nanos).scaleb(-9)
        assert parse_quantity(format_quantity(value)) == value
        whole = rng.randint(0, 2**50) * rng.choice([1, 1024, 2**20, 2**30])
        assert parse_quantity(format_quantity(whole, binary=True)) == whole


ERRORS = [
    ("", FORMAT_ERROR),
    ("abc", FORMAT_ERROR),
    ("Mi", FORMAT_ERROR),
    ("1.2.3", FORMAT_ERROR),
    (" 1", FORMAT_ERROR),
    ("1 Mi", FORMAT_ERROR),
    ("1e3.5", FORMAT_ERROR),
    ("1K", SUFFIX_ERROR),
    ("1ki", SUFFIX_ERROR),
    ("1e", SUFFIX_ERROR),
    ("1Mii", SUFFIX_ERROR),
    ("1mM", SUFFIX_ERROR),
]


@pytest.mark.parametrize(("text", "reason"), ERRORS, ids=[repr(e[0]) for e in ERRORS])
def test_malformed_quantities(text: str, reason: str) -> None:
    with pytest.raises(QuantityError) as info:
        parse_quantity(text)
    assert info.value.reason == reason
    assert str(info.value) == f"invalid quantity {text!r}: {reason}"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", [True, None, float("nan"), float("inf"), [1]])
def test_non_quantities_are_rejected(bad: object) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(bad)  # type: ignore[arg-type]
