"""Schemas compiled into validator closures, once per type: the structural half of validation.

A compiled validator walks one object and
- reports wrong JSON types, missing required fields, unsupported enum values, bad formats (int-or-string,
  quantities, base64, date-time, int32) and the value limits CRD schemas may set (pattern, minimum, maxLength...);
- drops ``null`` fields (Go decodes them to zero values; CRDs prune non-nullable nulls), in place;
- handles fields the schema does not know as the request's field validation asks: Strict reports
  ``unknown field "spec.foo"``, Warn prunes the field and records that text as a warning, Ignore prunes it.

Two flavours share the compiler. Built-in kinds (Kubernetes' own definitions) treat an object schema without
properties as free-form, and relax ``required``/``enum`` under ``status`` because Kubernetes does not validate
the status its agents write against them. CRD schemas are structural: an object without properties keeps
nothing unless ``x-kubernetes-preserve-unknown-fields`` says so, and ``nullable`` decides whether null stays.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any

from edgeplane.api import errors
from edgeplane.api.errors import Cause
from edgeplane.api.quantity import QuantityError, parse_quantity
from edgeplane.api.schema import ref_name

STRICT, WARN, IGNORE = "Strict", "Warn", "Ignore"
FIELD_VALIDATION_MODES = (STRICT, WARN, IGNORE)

_date_time = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})").fullmatch
_date = re.compile(r"\d{4}-\d{2}-\d{2}").fullmatch
INT32 = (-(2**31), 2**31 - 1)


class Run:
    """What one validation pass collects: causes, warnings, and how unknown fields are handled."""

    __slots__ = ("causes", "mode", "warnings")

    def __init__(self, mode: str = STRICT) -> None:
        self.mode = mode
        self.causes: list[Cause] = []
        self.warnings: list[str] = []

    def unknown(self, path: str) -> bool:
        """Record an unknown field; True when it should be pruned (Strict rejects and leaves it)."""
        if self.mode == STRICT:
            self.causes.append(errors.unknown_field(path))
            return False
        if self.mode == WARN:
            self.warnings.append(f'unknown field "{path}"')
        return True


Validator = Callable[[Any, str, Run], None]


def _any(value: Any, path: str, run: Run) -> None:
    return None


def child_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class Compiler:
    """Turns schema nodes into validators; ``$ref`` targets compile once and are shared (and may recurse)."""

    def __init__(self, defs: dict[str, dict[str, Any]], *, structural: bool) -> None:
        self._defs = defs
        self._structural = structural
        self._memo: dict[tuple[str, bool], Validator] = {}

    def compile(self, node: dict[str, Any], *, lenient: bool = False) -> Validator:
        if "$ref" in node:
            return self._ref(ref_name(node["$ref"]), lenient)
        if node.get("x-kubernetes-int-or-string") or node.get("format") == "int-or-string":
            return _int_or_string(node)
        if "oneOf" in node and not self._structural:  # Quantity: a string or a number
            return _quantity_check
        kind = node.get("type")
        if kind == "object" or "properties" in node or "additionalProperties" in node:
            return self._object(node, lenient)
        if kind == "array":
            return self._array(node, lenient)
        if kind == "string":
            return _string(node, lenient)
        if kind in ("integer", "number"):
            return _number(node, kind)
        if kind == "boolean":
            return _typed(bool, "boolean")
        return _any

    def _ref(self, name: str, lenient: bool) -> Validator:
        key = (name, lenient)
        found = self._memo.get(key)
        if found is not None:
            return found
        cell: list[Validator] = []
        # A placeholder lets recursive definitions (JSONSchemaProps) refer to themselves while compiling.
        self._memo[key] = lambda value, path, run: cell[0](value, path, run)
        compiled = self.compile(self._defs[name], lenient=lenient)
        cell.append(compiled)
        self._memo[key] = compiled
        return compiled

    def _object(self, node: dict[str, Any], lenient: bool) -> Validator:
        structural = self._structural
        props: dict[str, tuple[Validator, bool]] = {}
        for name, sub in (node.get("properties") or {}).items():
            # Kubernetes does not hold the status its own agents report to the spec's required/enum rules.
            child_lenient = lenient or (name == "status" and not structural)
            props[name] = (self.compile(sub, lenient=child_lenient), bool(sub.get("nullable")))
        extra = node.get("additionalProperties")
        values: Validator | None = None
        values_nullable = False
        if isinstance(extra, dict):
            values = self.compile(extra, lenient=lenient)
            values_nullable = bool(extra.get("nullable"))
        preserve = bool(node.get("x-kubernetes-preserve-unknown-fields")) or extra is True
        if not structural and not props and values is None:
            preserve = True  # free-form built-in objects: FieldsV1, RawExtension, JSON
        if node.get("x-kubernetes-embedded-resource"):
            for name in ("apiVersion", "kind"):
                props.setdefault(name, (_typed(str, "string"), False))
            props.setdefault("metadata", (_typed(dict, "object"), False))
        required = () if lenient else tuple(node.get("required") or ())
        if node.get("x-kubernetes-embedded-resource"):
            required = (*required, "apiVersion", "kind")
        limits = _property_limits(node)

        def check(value: Any, path: str, run: Run) -> None:
            if type(value) is not dict:
                run.causes.append(errors.type_invalid(path, value, "object"))
                return
            drop: list[str] | None = None
            for key, item in value.items():
                entry = props.get(key)
                if entry is not None:
                    if item is None:
                        if not entry[1]:
                            drop = [*(drop or ()), key]
                        continue
                    entry[0](item, f"{path}.{key}" if path else key, run)
                elif values is plain_string:
                    # String maps (labels, data) are the bulk of most objects: check inline, no path built.
                    if type(item) is not str and not (item is None and values_nullable):
                        if item is None and structural:
                            drop = [*(drop or ()), key]
                        else:
                            run.causes.append(errors.type_invalid(f"{path}[{key}]", item, "string"))
                elif values is not None:
                    if item is None:
                        if values_nullable:
                            continue
                        if structural:
                            drop = [*(drop or ()), key]
                        else:
                            run.causes.append(errors.type_invalid(f"{path}[{key}]", item, "string"))
                        continue
                    values(item, f"{path}[{key}]", run)
                elif not preserve and run.unknown(f"{path}.{key}" if path else key):
                    drop = [*(drop or ()), key]
            if drop:
                for key in drop:
                    del value[key]
            for key in required:
                if key not in value:
                    run.causes.append(errors.required(f"{path}.{key}" if path else key))
            if limits:
                limits(value, path, run)

        return check

    def _array(self, node: dict[str, Any], lenient: bool) -> Validator:
        items = self.compile(node["items"], lenient=lenient) if isinstance(node.get("items"), dict) else _any
        limits = _item_limits(node)

        def check(value: Any, path: str, run: Run) -> None:
            if type(value) is not list:
                run.causes.append(errors.type_invalid(path, value, "array"))
                return
            if items is not _any:
                for index, item in enumerate(value):
                    items(item, f"{path}[{index}]", run)
            if limits:
                limits(value, path, run)

        return check


def _typed(kind: type, name: str) -> Validator:
    def check(value: Any, path: str, run: Run) -> None:
        if type(value) is not kind:
            run.causes.append(errors.type_invalid(path, value, name))

    return check


def _int_or_string(node: dict[str, Any]) -> Validator:
    def check(value: Any, path: str, run: Run) -> None:
        if type(value) is not str and type(value) is not int:
            run.causes.append(errors.type_invalid(path, value, "integer or string"))

    return check


def _quantity_check(value: Any, path: str, run: Run) -> None:
    if type(value) is str:
        try:
            parse_quantity(value)
        except QuantityError as exc:
            run.causes.append(errors.invalid(path, value, exc.reason))
    elif type(value) not in (int, float):
        run.causes.append(errors.type_invalid(path, value, "string"))


def plain_string(value: Any, path: str, run: Run) -> None:
    if type(value) is not str:
        run.causes.append(errors.type_invalid(path, value, "string"))


def _string(node: dict[str, Any], lenient: bool) -> Validator:
    fmt = node.get("format")
    enum = None if lenient else node.get("enum")
    pattern = re.compile(node["pattern"]) if "pattern" in node else None
    min_len, max_len = node.get("minLength"), node.get("maxLength")
    plain = enum is None and pattern is None and min_len is None and max_len is None
    if plain and fmt not in ("byte", "date-time", "date"):
        return plain_string

    def check(value: Any, path: str, run: Run) -> None:
        if type(value) is not str:
            run.causes.append(errors.type_invalid(path, value, "string"))
            return
        if enum is not None and value not in enum:
            run.causes.append(errors.not_supported(path, value, enum))
        if pattern is not None and not pattern.search(value):
            run.causes.append(errors.invalid(path, value, f"{path} in body should match '{pattern.pattern}'"))
        if min_len is not None and len(value) < min_len:
            run.causes.append(errors.invalid(path, value, f"{path} in body should be at least {min_len} chars long"))
        if max_len is not None and len(value) > max_len:
            run.causes.append(Cause(errors.TOO_LONG, f"Too long: may not be longer than {max_len}", path))
        if fmt == "byte":
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                run.causes.append(errors.invalid(path, "<secret contents redacted>", "illegal base64 data"))
        elif fmt == "date-time" and not _date_time(value):
            run.causes.append(errors.invalid(path, value, f"{path} in body must be of type date-time"))
        elif fmt == "date" and not _date(value):
            run.causes.append(errors.invalid(path, value, f"{path} in body must be of type date"))

    return check


def _number(node: dict[str, Any], kind: str) -> Validator:
    integer = kind == "integer"
    low, high = node.get("minimum"), node.get("maximum")
    ex_low, ex_high = node.get("exclusiveMinimum", False), node.get("exclusiveMaximum", False)
    if integer and node.get("format") == "int32" and low is None and high is None:
        low, high = INT32
        bounds_message = "must be a 32-bit integer"
    else:
        bounds_message = ""
    enum = node.get("enum")

    def check(value: Any, path: str, run: Run) -> None:
        kind_of = type(value)
        if integer:
            if kind_of is not int and not (kind_of is float and value.is_integer()):
                run.causes.append(errors.type_invalid(path, value, "integer"))
                return
        elif kind_of is not int and kind_of is not float:
            run.causes.append(errors.type_invalid(path, value, "number"))
            return
        if low is not None and (value <= low if ex_low else value < low):
            detail = bounds_message or f"{path} in body should be greater than {'' if ex_low else 'or equal to '}{low}"
            run.causes.append(errors.invalid(path, value, detail))
        if high is not None and (value >= high if ex_high else value > high):
            detail = bounds_message or f"{path} in body should be less than {'' if ex_high else 'or equal to '}{high}"
            run.causes.append(errors.invalid(path, value, detail))
        if enum is not None and value not in enum:
            run.causes.append(errors.not_supported(path, value, enum))

    return check


def _item_limits(node: dict[str, Any]) -> Validator | None:
    low, high, unique = node.get("minItems"), node.get("maxItems"), node.get("uniqueItems")
    if low is None and high is None and not unique:
        return None

    def check(value: list[Any], path: str, run: Run) -> None:
        if low is not None and len(value) < low:
            run.causes.append(errors.invalid(path, value, f"{path} in body should have at least {low} items"))
        if high is not None and len(value) > high:
            run.causes.append(Cause("FieldValueTooMany", f"Too many: {len(value)}: must have at most {high} items", path))
        if unique:
            seen: list[Any] = []
            for index, item in enumerate(value):
                if item in seen:
                    run.causes.append(errors.duplicate(f"{path}[{index}]", item))
                seen.append(item)

    return check


def _property_limits(node: dict[str, Any]) -> Validator | None:
    low, high = node.get("minProperties"), node.get("maxProperties")
    if low is None and high is None:
        return None

    def check(value: dict[str, Any], path: str, run: Run) -> None:
        if low is not None and len(value) < low:
            run.causes.append(errors.invalid(path, len(value), f"{path} in body should have at least {low} properties"))
        if high is not None and len(value) > high:
            run.causes.append(
                Cause("FieldValueTooMany", f"Too many: {len(value)}: must have at most {high} items", path)
            )

    return check
