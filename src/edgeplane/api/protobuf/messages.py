"""Decoding one protobuf message to the dict Go's encoding/json would produce for the same object.

Each message of the generated tables is compiled once into a plan keyed by field number, so decoding never
looks fields up by name. Kubernetes' hand-written types (Time, IntOrString, Quantity, RawExtension...) get
their own decoders because their JSON form is not a JSON object.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from edgeplane.api.protobuf import wire
from edgeplane.api.protobuf.k8s_messages import LIST_WRAPPERS, MAP_ENTRIES, MESSAGES

META = "k8s.io.apimachinery.pkg.apis.meta.v1."
MAGIC = b"k8s\x00"  # starts every protobuf-encoded Kubernetes object

# What a field does with its values; see the k8s_messages docstring for the table's modes.
SCALAR, SCALAR_LIST, MESSAGE, MESSAGE_LIST, MAP, INLINE = range(6)

Decoder = Callable[[bytes], Any]


# -- scalars -------------------------------------------------------------------------------------------------


def _string(raw: bytes) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError as exc:
        raise wire.DecodeError(f"string is not valid UTF-8 at byte {exc.start}") from None


def _bytes(raw: bytes) -> str:
    return base64.b64encode(raw).decode()  # Go's JSON writes []byte as standard base64


# type -> (wire type, converter from the raw wire value, zero value)
SCALARS: dict[str, tuple[int, Callable[[Any], Any], Any]] = {
    "string": (wire.LENGTH, _string, ""),
    "bytes": (wire.LENGTH, _bytes, ""),
    "bool": (wire.VARINT, bool, False),
    "int32": (wire.VARINT, wire.signed32, 0),
    "int64": (wire.VARINT, wire.signed64, 0),
    "uint32": (wire.VARINT, lambda v: v & 0xFFFFFFFF, 0),
    "uint64": (wire.VARINT, int, 0),
    "sint32": (wire.VARINT, wire.zigzag, 0),
    "sint64": (wire.VARINT, wire.zigzag, 0),
    "double": (wire.FIXED64, wire.as_double, 0.0),
    "fixed64": (wire.FIXED64, int, 0),
    "sfixed64": (wire.FIXED64, wire.as_sfixed64, 0),
    "float": (wire.FIXED32, wire.as_float, 0.0),
    "fixed32": (wire.FIXED32, int, 0),
    "sfixed32": (wire.FIXED32, wire.as_sfixed32, 0),
}

WIRE_NAMES = {wire.VARINT: "varint", wire.FIXED64: "64-bit", wire.LENGTH: "length-delimited", wire.FIXED32: "32-bit"}


def _unpack(type_name: str, data: bytes) -> list[int]:
    wire_type = SCALARS[type_name][0]
    if wire_type == wire.VARINT:
        return wire.packed_varints(data)
    return wire.packed_fixed(data, 8 if wire_type == wire.FIXED64 else 4)


def _wrong_wire_type(expected: int, got: int) -> wire.DecodeError:
    return wire.DecodeError(f"expected a {WIRE_NAMES[expected]} value, got wire type {WIRE_NAMES.get(got, got)}")


# -- Kubernetes' hand-written types --------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_GO_ZERO_TIME = -62135596800  # time.Time{}.Unix(): January 1, year 1


def _timestamp(buf: bytes) -> tuple[int, int] | None:
    """(seconds, nanos) of a Time/MicroTime; None for Go's zero time, which marshals to no bytes at all."""
    if not buf:
        return None
    seconds = nanos = 0
    for number, wire_type, value in wire.fields(buf):
        if number == 1:
            seconds = _scalar("int64", wire_type, value)
        elif number == 2:
            nanos = _scalar("int32", wire_type, value)
    if seconds == _GO_ZERO_TIME and nanos == 0:
        return None
    return seconds, nanos


def _datetime(seconds: int, nanos: int = 0) -> datetime:
    try:
        return _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)
    except OverflowError:
        raise wire.DecodeError(f"time of {seconds} seconds since 1970 is out of range") from None


def decode_time(buf: bytes) -> str | None:
    # meta/v1 Time keeps whole seconds only (its Unmarshal drops nanos, as its JSON does).
    stamp = _timestamp(buf)
    return None if stamp is None else _datetime(stamp[0]).strftime("%Y-%m-%dT%H:%M:%SZ")


def decode_micro_time(buf: bytes) -> str | None:
    stamp = _timestamp(buf)
    return None if stamp is None else _datetime(*stamp).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def decode_duration(buf: bytes) -> str:
    nanos = 0
    for number, wire_type, value in wire.fields(buf):
        if number == 1:
            nanos = _scalar("int64", wire_type, value)
    return go_duration(nanos)


def go_duration(nanos: int) -> str:
    """Go's time.Duration.String(): "1h2m3.5s", "1.5ms", "0s"."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    n = abs(nanos)
    if n < 1_000_000_000:
        for unit, size in (("ns", 1), ("µs", 1_000), ("ms", 1_000_000)):
            if n < size * 1000:
                return sign + _fraction(n, size) + unit
    hours, rest = divmod(n, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    out = f"{hours}h" if hours else ""
    if hours or minutes:
        out += f"{minutes}m"
    return sign + out + _fraction(rest, 1_000_000_000) + "s"


def _fraction(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{frac:0{digits}d}".rstrip("0")


def decode_int_or_string(buf: bytes) -> int | str:
    kind, int_val, str_val = 0, 0, ""
    for number, wire_type, value in wire.fields(buf):
        if number == 1:
            kind = _scalar("int64", wire_type, value)
        elif number == 2:
            int_val = _scalar("int32", wire_type, value)
        elif number == 3:
            str_val = _scalar("string", wire_type, value)
    if kind == 0:
        return int_val
    if kind == 1:
        return str_val
    raise wire.DecodeError(f"IntOrString has type {kind}; only 0 (int) and 1 (string) exist")


def decode_quantity(buf: bytes) -> str:
    text = ""
    for number, wire_type, value in wire.fields(buf):
        if number == 1:
            text = _scalar("string", wire_type, value)
    return text or "0"  # Go marshals the zero Quantity as "0"


def _raw_json(buf: bytes, number: int) -> Any:
    raw = b""
    for field, wire_type, value in wire.fields(buf):
        if field == number:
            if wire_type != wire.LENGTH:
                raise _wrong_wire_type(wire.LENGTH, wire_type)
            raw = value  # type: ignore[assignment]  # JSON text or an envelope, not base64
    if not raw:
        return None
    if raw.startswith(MAGIC):
        from edgeplane.api.protobuf.envelope import decode_object  # an embedded protobuf object

        return decode_object(raw)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise wire.DecodeError(f"embedded object is neither JSON nor protobuf: {exc}") from None

SPECIAL: dict[str, Decoder] = {
    META + "Time": decode_time,
    META + "MicroTime": decode_micro_time,
    META + "Duration": decode_duration,
    META + "FieldsV1": lambda buf: _raw_json(buf, 1),
    "k8s.io.apimachinery.pkg.runtime.RawExtension": lambda buf: _raw_json(buf, 1),
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": decode_int_or_string,
    "k8s.io.apimachinery.pkg.api.resource.Quantity": decode_quantity,
}


# -- plans ---------------------------------------------------------------------------------------------------

# A scalar's (type name, wire type, converter), resolved when the plan is built rather than per field.
Scalar = tuple[str, int, Callable[[Any], Any]]
# A plan entry: (JSON name, action, scalar or None, sub-decoder or None, keep a zero value).
Entry = tuple[str, int, Scalar | None, Decoder | None, bool]
Plan = dict[int, Entry]

_PLANS: dict[str, Plan] = {}
DECODERS: dict[str, Decoder] = {}


def _decode_with(plan: Plan) -> Decoder:
    return lambda buf: decode_message(plan, buf)


def _decode_list_wrapper(buf: bytes) -> list[str]:
    return [_scalar("string", t, v) for n, t, v in wire.fields(buf) if n == 1]


def _decode_map_entry(key_type: str, value_type: str, value_ref: str) -> Callable[[bytes], tuple[Any, Any]]:
    key_zero = SCALARS[key_type][2]
    value_decoder = DECODERS[value_ref] if value_ref else None
    value_zero = SCALARS[value_type][2] if value_decoder is None else None

    def decode(buf: bytes) -> tuple[Any, Any]:
        key, value = key_zero, value_zero
        have_value = False
        for number, wire_type, raw in wire.fields(buf):
            if number == 1:
                key = _scalar(key_type, wire_type, raw)
            elif number == 2:
                have_value = True
                if value_decoder is not None:
                    if wire_type != wire.LENGTH:
                        raise _wrong_wire_type(wire.LENGTH, wire_type)
                    value = value_decoder(raw)  # type: ignore[arg-type]
                else:
                    value = _scalar(value_type, wire_type, raw)
        if not have_value and value_decoder is not None:
            value = value_decoder(b"")
        return key, value

    return decode


def _scalar(type_name: str, wire_type: int, raw: Any) -> Any:
    expected, convert, _ = SCALARS[type_name]
    if wire_type != expected:
        raise _wrong_wire_type(expected, wire_type)
    return convert(raw)


def _build() -> None:
    for name in MESSAGES:
        if name in SPECIAL:
            DECODERS[name] = SPECIAL[name]
        elif name in LIST_WRAPPERS:
            DECODERS[name] = _decode_list_wrapper
        else:
            _PLANS[name] = plan = {}
            DECODERS[name] = _decode_with(plan)
    entries = {name: _decode_map_entry(*spec) for name, spec in MAP_ENTRIES.items()}
    for name, plan in _PLANS.items():
        for number, json_name, type_name, mode, ref in MESSAGES[name]:
            if mode == "map":
                plan[number] = (json_name, MAP, None, entries[ref], False)
            elif mode == "inline":
                plan[number] = (json_name, INLINE, None, DECODERS[ref], False)
            elif type_name == "message":
                plan[number] = (json_name, MESSAGE_LIST if mode == "list" else MESSAGE, None, DECODERS[ref], True)
            else:
                action = SCALAR_LIST if mode == "list" else SCALAR
                wire_type, convert, _ = SCALARS[type_name]
                plan[number] = (json_name, action, (type_name, wire_type, convert), None, mode == "keep")


def decode_message(plan: Plan, buf: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    json_name: str | None = None
    index: int | None = None
    try:
        for number, wire_type, value in wire.fields(buf):
            entry = plan.get(number)
            if entry is None:
                continue  # a field newer than our tables: Go's decoder skips it too
            json_name, action, scalar, sub, keep = entry
            index = None
            if action == SCALAR:
                if wire_type != scalar[1]:  # type: ignore[index]
                    raise _wrong_wire_type(scalar[1], wire_type)  # type: ignore[index]
                v = scalar[2](value)  # type: ignore[index]
                if keep or v:
                    out[json_name] = v
                elif json_name in out:
                    del out[json_name]  # a later zero overrides an earlier value (last one wins)
            elif wire_type != wire.LENGTH and action != SCALAR_LIST:
                raise _wrong_wire_type(wire.LENGTH, wire_type)
            elif action == MESSAGE:
                out[json_name] = sub(value)  # type: ignore[misc, arg-type]
            elif action == MESSAGE_LIST:
                items = out.setdefault(json_name, [])
                index = len(items)
                items.append(sub(value))  # type: ignore[misc, arg-type]
            elif action == SCALAR_LIST:
                items = out.setdefault(json_name, [])
                index = len(items)
                type_name, expected, convert = scalar  # type: ignore[misc]
                if wire_type == wire.LENGTH and expected != wire.LENGTH:  # a packed run of numbers
                    items.extend(convert(v) for v in _unpack(type_name, value))  # type: ignore[arg-type]
                else:
                    items.append(_scalar(type_name, wire_type, value))
            elif action == MAP:
                key, item = sub(value)  # type: ignore[misc, arg-type]
                out.setdefault(json_name, {})[key] = item
            else:  # INLINE: Go's JSON puts an embedded struct's fields in its parent
                out.update(sub(value))  # type: ignore[misc, arg-type]
            json_name = index = None  # an error from here on is in the framing, not in this field
    except wire.DecodeError as exc:
        if index is not None:
            exc.path.insert(0, index)
        if json_name is not None:
            exc.path.insert(0, json_name)
        raise
    return out




_build()
