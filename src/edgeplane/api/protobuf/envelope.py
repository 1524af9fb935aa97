"""Kubernetes' protobuf envelope: ``k8s\\x00`` then a runtime.Unknown naming the kind and carrying its bytes."""

from __future__ import annotations

from typing import Any

from edgeplane.api.protobuf import wire
from edgeplane.api.protobuf.k8s_messages import KINDS
from edgeplane.api.protobuf.messages import DECODERS, MAGIC

# Option kinds (DeleteOptions...) are registered in every group version, so clients send them with the
# resource's own apiVersion ("v1", "apps/v1") as well as with meta.k8s.io/v1.
_META_KINDS = {kind: message for (api_version, kind), message in KINDS.items() if api_version == "meta.k8s.io/v1"}


class UnsupportedKind(Exception):
    """A well-formed envelope around a kind the tables do not describe."""

    def __init__(self, api_version: str, kind: str) -> None:
        super().__init__(f'no protobuf decoding for kind "{kind}" of apiVersion "{api_version}"')
        self.api_version = api_version
        self.kind = kind


def message_for(api_version: str, kind: str) -> str | None:
    """The full protobuf message name of a kind, or None."""
    return KINDS.get((api_version, kind)) or _META_KINDS.get(kind)


def decode_object(body: bytes) -> dict[str, Any]:
    """A protobuf-encoded Kubernetes object as its JSON dict, apiVersion and kind first.

    Raises wire.DecodeError for malformed bytes and UnsupportedKind for kinds outside the tables.
    """
    if not body.startswith(MAGIC):
        raise wire.DecodeError(f"the body does not start with the protobuf envelope prefix {MAGIC!r}")
    api_version, kind, raw, encoding = _unknown(memoryview(body)[len(MAGIC):].tobytes())
    if encoding:
        raise wire.DecodeError(f'contentEncoding "{encoding}" is not supported; send the object uncompressed')
    if not kind:
        raise wire.DecodeError("the envelope names no kind (typeMeta.kind is empty)")
    message = message_for(api_version, kind)
    if message is None:
        raise UnsupportedKind(api_version, kind)
    obj = DECODERS[message](raw)
    return {"apiVersion": api_version, "kind": kind, **obj} if isinstance(obj, dict) else obj


def _unknown(buf: bytes) -> tuple[str, str, bytes, str]:
    """runtime.Unknown: 1 typeMeta {1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding, 4 contentType."""
    api_version = kind = encoding = ""
    raw = b""
    try:
        for number, wire_type, value in wire.fields(buf):
            if number in (1, 2, 3) and wire_type != wire.LENGTH:
                raise wire.DecodeError(f"envelope field {number} should be length-delimited")
            if number == 1:
                for sub, sub_type, text in wire.fields(value):  # type: ignore[arg-type]
                    if sub in (1, 2) and sub_type == wire.LENGTH:
                        if sub == 1:
                            api_version = text.decode()  # type: ignore[union-attr]
                        else:
                            kind = text.decode()  # type: ignore[union-attr]
            elif number == 2:
                raw = value  # type: ignore[assignment]
            elif number == 3:
                encoding = value.decode()  # type: ignore[union-attr]
    except UnicodeDecodeError as exc:
        raise wire.DecodeError(f"envelope text is not valid UTF-8: {exc.reason}") from None
    return api_version, kind, raw, encoding
