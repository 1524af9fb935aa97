"""Kubernetes resource quantities ("250m", "1.5", "128Mi", "1e3"): parsing, scheduler units, canonical form.

Grammar, as resource.Quantity reads it::

    <quantity> ::= <signed number><suffix>
    <suffix>   ::= Ki | Mi | Gi | Ti | Pi | Ei            (powers of 1024)
                 | n | u | m | "" | k | M | G | T | P | E  (powers of 1000)
                 | e<signed integer> | E<signed integer>   (powers of 10)

Values are exact ``Decimal``s, so "0.1" + "0.2" CPUs is exactly 300m.
"""

from __future__ import annotations

import decimal
import math
import re
from decimal import Decimal
from fractions import Fraction

# Kubernetes' own wording for the two ways a quantity can be malformed.
FORMAT_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
SUFFIX_ERROR = "unable to parse quantity's suffix"

_SHAPE = re.compile(r"([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))([eEinumkKMGTP]*[-+]?[0-9]*)")
_EXPONENT = re.compile(r"[eE]([+-]?[0-9]+)")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX = {power: suffix for suffix, power in _DECIMAL.items()}
_BINARY_SUFFIX = {power: suffix for suffix, power in _BINARY.items()}
# Wide enough that no quantity Kubernetes accepts is rounded (Ei mantissas and 1e-9 steps included).
_EXACT = decimal.Context(prec=80, Emax=10_000, Emin=-10_000)

Number = Decimal | Fraction | int | float


class QuantityError(ValueError):
    """A malformed quantity; ``reason`` is Kubernetes' message, ``str()`` adds the offending text."""

    def __init__(self, text: object, reason: str) -> None:
        super().__init__(f"invalid quantity {str(text)!r}: {reason}")
        self.text = text
        self.reason = reason


def parse_quantity(text: str | int | float) -> Decimal:
    """The exact value of a quantity: "100m" -> 0.1, "1Ki" -> 1024, "1e3" -> 1000."""
    if isinstance(text, bool):
        raise QuantityError(text, FORMAT_ERROR)
    if isinstance(text, int):
        return Decimal(text)
    if isinstance(text, float):
        if not math.isfinite(text):
            raise QuantityError(text, FORMAT_ERROR)
        return Decimal(repr(text))
    if not isinstance(text, str):
        raise QuantityError(text, FORMAT_ERROR)
    return _parse_text(text)


def _parse_text(text: str) -> Decimal:
    shape = _SHAPE.fullmatch(text)
    if shape is None:
        raise QuantityError(text, FORMAT_ERROR)
    number, suffix = Decimal(shape.group(1)), shape.group(2)
    if suffix in _BINARY:
        return _EXACT.multiply(number, Decimal(1024) ** _BINARY[suffix])
    if suffix in _DECIMAL:
        return _EXACT.scaleb(number, _DECIMAL[suffix])
    exponent = _EXPONENT.fullmatch(suffix)
    if exponent is None:
        raise QuantityError(text, SUFFIX_ERROR)
    return _EXACT.scaleb(number, int(exponent.group(1)))


def _value(q: str | Number) -> Fraction:
    if isinstance(q, Fraction):
        return q
    if isinstance(q, Decimal):
        return Fraction(q)
    return Fraction(parse_quantity(q))


def _ceil_away(value: Fraction) -> int:
    """Round up in magnitude, as Kubernetes does when a quantity is read at a coarser scale."""
    return math.ceil(value) if value >= 0 else -math.ceil(-value)


def cpu_millis(q: str | Number) -> int:
    """A CPU quantity in millicores, rounded up ("0.1" -> 100, "1" -> 1000, "1u" -> 1)."""
    return _ceil_away(_value(q) * 1000)


def memory_bytes(q: str | Number) -> int:
    """A memory (or storage) quantity in bytes, rounded up ("128Mi" -> 134217728, "1k" -> 1000)."""
    return _ceil_away(_value(q))


def format_quantity(value: str | Number, binary: bool = False) -> str:
    """The canonical text Kubernetes stores and prints for a value.

    Binary: whole numbers of at least 1024 use the largest exact Ki..Ei suffix ("1536Mi"); anything else
    falls back to decimal. Decimal: the smallest integer mantissa with a suffix from n to E ("250m", "1500",
    "2k"); precision below 1n is rounded up, as Kubernetes does.
    """
    exact = _value(value)
    if binary and abs(exact) >= 1024 and exact.denominator == 1:
        mantissa, power = int(exact), 0
        while power < 6 and mantissa % 1024 == 0:
            mantissa //= 1024
            power += 1
        return f"{mantissa}{_BINARY_SUFFIX.get(power, '')}"
    mantissa, power = _decimal_parts(exact)
    suffix = _DECIMAL_SUFFIX.get(power, f"e{power}")
    return f"{mantissa}{suffix}"


def canonical_quantity(text: str) -> str:
    """Re-spell a quantity the way Kubernetes returns it ("1.5Gi" -> "1536Mi", "0.5" -> "500m", "1e3" -> "1e3")."""
    value = parse_quantity(text)
    suffix = _SHAPE.fullmatch(text).group(2)  # type: ignore[union-attr]  # parse_quantity checked the shape
    if suffix in _BINARY:
        return format_quantity(value, binary=True)
    if suffix in _DECIMAL:
        return format_quantity(value)
    mantissa, power = _decimal_parts(Fraction(value))
    return f"{mantissa}e{power}" if power else str(mantissa)


def _decimal_parts(value: Fraction) -> tuple[int, int]:
    """(mantissa, power of ten) with the power a multiple of 3 from -9 up and the mantissa as small as exact."""
    mantissa, power = _ceil_away(value * 10**9), -9
    if mantissa == 0:
        return 0, 0
    while mantissa % 1000 == 0:
        mantissa //= 1000
        power += 3
    return mantissa, power
