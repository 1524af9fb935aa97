#!/usr/bin/env python3
"""Generate edgeplane's Kubernetes protobuf message tables from the descriptors compiled into a Go binary.

Every Go program built with k8s.io/api (kubectl, kube-apiserver, kubelet...) registers the gzipped
``FileDescriptorProto`` of each ``generated.proto`` it links. Those descriptors are exactly the
``generated.proto`` files of that Kubernetes release, plus the gogoproto options the Go code was generated with;
``(gogoproto.nullable) = false`` is what tells a plain Go field (zero value means "unset") from a pointer
(a present zero is meaningful). Reading them from the kubectl we talk to keeps field numbers and types in step
with the client without vendoring .proto files.

The output, ``src/edgeplane/api/protobuf/k8s_messages.py``, holds the closure of messages reachable from the
API groups below and the (apiVersion, kind) -> message table.

Regenerate (any kubectl of the wanted release will do):

    python tools/gen_k8s_protobuf.py /usr/bin/kubectl
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from edgeplane.api.protobuf import wire  # noqa: E402
from edgeplane.api.schema import definitions  # noqa: E402

OUTPUT = ROOT / "src" / "edgeplane" / "api" / "protobuf" / "k8s_messages.py"

META = "k8s.io.apimachinery.pkg.apis.meta.v1"

# Proto package -> the apiVersion its kinds are sent with.
GROUPS = {
    "k8s.io.api.core.v1": "v1",
    "k8s.io.api.apps.v1": "apps/v1",
    "k8s.io.api.batch.v1": "batch/v1",
    "k8s.io.api.autoscaling.v1": "autoscaling/v1",
    "k8s.io.api.policy.v1": "policy/v1",
    "k8s.io.api.coordination.v1": "coordination.k8s.io/v1",
    "k8s.io.api.rbac.v1": "rbac.authorization.k8s.io/v1",
    "k8s.io.api.scheduling.v1": "scheduling.k8s.io/v1",
    "k8s.io.api.networking.v1": "networking.k8s.io/v1",
    "k8s.io.api.authentication.v1": "authentication.k8s.io/v1",
    "k8s.io.api.events.v1": "events.k8s.io/v1",
    META: "meta.k8s.io/v1",
}

# meta/v1 kinds that have no ObjectMeta/ListMeta but are sent as bodies (options, and Status in lists).
META_KINDS = {"DeleteOptions", "CreateOptions", "UpdateOptions", "PatchOptions", "ApplyOptions", "ListOptions",
              "GetOptions", "Status", "WatchEvent"}

# Go named slice types (``type Verbs []string``) that the generator wraps in a message with one ``items`` field;
# their JSON is the bare list.
SLICE_WRAPPERS = {"Verbs", "ExtraValue"}

# Non-pointer scalars whose zero value Go's JSON still writes (no omitempty) and that a client may legitimately
# send as zero, in kinds edgeplane's schema file does not describe. Required fields of described kinds come
# from the schema's "required" lists.
NOT_OMITEMPTY = {"k8s.io.api.scheduling.v1.PriorityClass": {"value"}}

# Go field names that go-to-protobuf lower-cased letter by letter; their JSON tags say otherwise.
JSON_NAMES = {
    ("k8s.io.api.networking.v1.IngressClassParametersReference", "aPIGroup"): "apiGroup",
    ("k8s.io.api.authentication.v1.BoundObjectReference", "uID"): "uid",
}

# Embedded Go structs tagged ``json:",inline"``: their fields belong to the parent object in JSON. The
# descriptors cannot tell these from ordinary fields (both are named after their type), so they are listed;
# for types the schema file describes, check_inline() verifies the list against it.
INLINE = {
    *((f"k8s.io.api.core.v1.{m}", "localObjectReference") for m in (
        "ConfigMapEnvSource", "ConfigMapKeySelector", "ConfigMapProjection", "ConfigMapVolumeSource",
        "SecretEnvSource", "SecretKeySelector", "SecretProjection")),
    ("k8s.io.api.core.v1.Volume", "volumeSource"),
    ("k8s.io.api.core.v1.PersistentVolumeSpec", "persistentVolumeSource"),
    ("k8s.io.api.core.v1.Probe", "handler"),
    ("k8s.io.api.core.v1.EphemeralContainer", "ephemeralContainerCommon"),
    ("k8s.io.api.networking.v1.IngressRule", "ingressRuleValue"),
}

SCALARS = {1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "fixed64", 7: "fixed32", 8: "bool",
           9: "string", 12: "bytes", 13: "uint32", 15: "sfixed32", 16: "sfixed64", 17: "sint32", 18: "sint64"}
TYPE_MESSAGE = 11
LABEL_REPEATED = 3
GOGO_NULLABLE = 65001
GOGO_CUSTOMNAME = 65004
MAP_ENTRY = 7


@dataclass
class Field:
    number: int
    name: str
    type: str  # a SCALARS value, or "message"
    repeated: bool
    nullable: bool
    ref: str = ""  # full message name, without the leading dot


@dataclass
class Message:
    name: str  # full name
    fields: list[Field] = field(default_factory=list)
    map_entry: bool = False


def _records(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    return list(wire.fields(buf))


def _varint_option(options: bytes, number: int) -> int | None:
    return next((v for n, _, v in wire.fields(options) if n == number), None)  # type: ignore[misc]


def embedded_descriptors(binary: bytes) -> dict[str, bytes]:
    """Every gzipped FileDescriptorProto in the binary, by .proto path."""
    found: dict[str, bytes] = {}
    at = binary.find(b"\x1f\x8b\x08")
    while at >= 0:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            data = inflater.decompress(binary[at:at + (4 << 20)])
        except zlib.error:
            data = b""
        if inflater.eof and data:
            try:
                name = next((v for n, t, v in wire.fields(data) if n == 1 and t == wire.LENGTH), b"")
            except wire.DecodeError:
                name = b""
            if isinstance(name, bytes) and name.endswith(b".proto"):
                found[name.decode()] = data
        at = binary.find(b"\x1f\x8b\x08", at + 3)
    return found


def parse_file(descriptor: bytes) -> dict[str, Message]:
    records = _records(descriptor)
    package = next(v.decode() for n, _, v in records if n == 2)  # type: ignore[union-attr]
    out: dict[str, Message] = {}
    for number, _, value in records:
        if number == 4:
            _parse_message(value, package, out)  # type: ignore[arg-type]
    return out


def _parse_message(buf: bytes, scope: str, out: dict[str, Message]) -> None:
    records = _records(buf)
    name = next(v.decode() for n, _, v in records if n == 1)  # type: ignore[union-attr]
    msg = Message(f"{scope}.{name}")
    for number, _, value in records:
        if number == 2:
            msg.fields.append(_parse_field(value))  # type: ignore[arg-type]
        elif number == 3:
            _parse_message(value, msg.name, out)  # type: ignore[arg-type]
        elif number == 7:
            msg.map_entry = bool(_varint_option(value, MAP_ENTRY))  # type: ignore[arg-type]
    out[msg.name] = msg


def _parse_field(buf: bytes) -> Field:
    values: dict[int, int | bytes] = {n: v for n, _, v in wire.fields(buf)}
    type_code = values[5]
    if type_code != TYPE_MESSAGE and type_code not in SCALARS:
        raise SystemExit(f"field {values[1]!r} has protobuf type {type_code}, which the decoder does not handle")
    options = values.get(8, b"")
    nullable = _varint_option(options, GOGO_NULLABLE) != 0  # type: ignore[arg-type]
    name = values.get(10, values[1]).decode()  # type: ignore[union-attr]  # json_name if recorded
    ref = values.get(6, b"").decode().lstrip(".")  # type: ignore[union-attr]
    return Field(
        number=values[3],  # type: ignore[arg-type]
        name=name,
        type="message" if type_code == TYPE_MESSAGE else SCALARS[type_code],  # type: ignore[index]
        repeated=values.get(4) == LABEL_REPEATED,
        nullable=nullable,
        ref=ref,
    )


def closure(messages: dict[str, Message], roots: list[str]) -> list[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        if name not in messages:
            raise SystemExit(f"message {name} is referenced but no descriptor in the binary defines it")
        seen.add(name)
        stack.extend(f.ref for f in messages[name].fields if f.ref)
    return sorted(seen)


def is_kind(msg: Message) -> bool:
    package, _, short = msg.name.rpartition(".")
    if package == META:
        return short in META_KINDS
    first = msg.fields[0] if msg.fields else None
    return bool(first and first.name == "metadata" and first.ref in (f"{META}.ObjectMeta", f"{META}.ListMeta"))


def keep_zero(msg: Message, f: Field, required: dict[str, set[str]]) -> bool:
    """Whether a present zero value is part of the object (pointer fields, and non-omitempty ones)."""
    return f.nullable or f.name in required.get(msg.name, set()) or f.name in NOT_OMITEMPTY.get(msg.name, set())


def check_inline(messages: dict[str, Message], names: list[str]) -> None:
    """Fails when a described message has fields the schema does not know, or INLINE names a field it does."""
    defs = definitions()
    for name in names:
        schema = defs.get("io.k8s." + name[len("k8s.io."):])
        if schema is None or "properties" not in schema:
            continue
        props = schema["properties"]
        for f in messages[name].fields:
            json_name = JSON_NAMES.get((name, f.name), f.name)
            if ((name, f.name) in INLINE) == (json_name in props):
                raise SystemExit(f"{name}.{f.name}: the schema file disagrees with INLINE about this field")


def required_fields() -> dict[str, set[str]]:
    # OpenAPI names are the proto names with "io." in front of "k8s.io" turned around: io.k8s.api.core.v1.Pod.
    out: dict[str, set[str]] = {}
    for name, schema in definitions().items():
        if name.startswith("io.k8s."):
            out["k8s.io." + name[len("io.k8s."):]] = set(schema.get("required", ()))
    return out


def render(messages: dict[str, Message], names: list[str], kinds: dict[tuple[str, str], str],
           source: str) -> str:
    required = required_fields()
    lines = [
        f'"""Kubernetes protobuf messages by field number. Generated by tools/gen_k8s_protobuf.py from {source};',
        'do not edit.',
        "",
        "MESSAGES: full message name -> ((number, JSON name, type, mode, message or map entry), ...) where mode is",
        '"" (a zero value means unset), "keep" (a present zero is kept), "list", "map" or "inline" (an embedded',
        "struct whose fields JSON puts in the parent).",
        "KINDS: (apiVersion, kind) -> full message name of the object's own message.",
        "LIST_WRAPPERS: messages whose JSON form is their single repeated ``items`` field.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "MESSAGES: dict[str, tuple[tuple[int, str, str, str, str], ...]] = {",
    ]
    for name in names:
        msg = messages[name]
        if msg.map_entry:
            continue
        lines.append(f"    {name!r}: (")
        for f in msg.fields:
            ref = f.ref
            json_name = JSON_NAMES.get((name, f.name), f.name)
            if (name, f.name) in INLINE:
                mode = "inline"
            elif f.repeated and f.ref and messages[f.ref].map_entry:
                mode, ref = "map", f.ref
            elif f.repeated:
                mode = "list"
            else:
                mode = "keep" if f.type != "message" and keep_zero(msg, f, required) else ""
            lines.append(f"        ({f.number}, {json_name!r}, {f.type!r}, {mode!r}, {ref!r}),")
        lines.append("    ),")
    lines.append("}")
    lines += ["", "# Map entries: key field 1, value field 2.",
              "MAP_ENTRIES: dict[str, tuple[str, str, str]] = {"]
    for name in names:
        msg = messages[name]
        if msg.map_entry:
            key, value = sorted(msg.fields, key=lambda f: f.number)
            lines.append(f"    {name!r}: ({key.type!r}, {value.type!r}, {value.ref!r}),")
    lines.append("}")
    lines += ["", "KINDS: dict[tuple[str, str], str] = {"]
    lines += [f"    {key!r}: {value!r}," for key, value in sorted(kinds.items())]
    lines.append("}")
    wrappers = sorted(n for n in names if n.rpartition(".")[2] in SLICE_WRAPPERS)
    lines += ["", f"LIST_WRAPPERS: frozenset[str] = frozenset({wrappers!r})", ""]
    return "\n".join(lines)


def kubectl_version(binary: Path) -> str:
    out = subprocess.run([str(binary), "version", "--client", "-o", "json"], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    return json.loads(out)["clientVersion"]["gitVersion"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary", type=Path, help="a Go binary linking k8s.io/api, such as kubectl")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--source", help="how the header names the binary (default: kubectl's version)")
    args = parser.parse_args()

    descriptors = embedded_descriptors(args.binary.read_bytes())
    if not descriptors:
        raise SystemExit(f"{args.binary}: no embedded protobuf file descriptors found")
    messages: dict[str, Message] = {}
    for descriptor in descriptors.values():
        messages.update(parse_file(descriptor))
    missing = [p for p in GROUPS if not any(m.startswith(p + ".") for m in messages)]
    if missing:
        raise SystemExit(f"{args.binary}: no descriptors for {', '.join(missing)}")

    roots = [name for name in messages if name.rpartition(".")[0] in GROUPS]
    names = closure(messages, roots)
    check_inline(messages, names)
    kinds = {(GROUPS[messages[n].name.rpartition(".")[0]], n.rpartition(".")[2]): n
             for n in roots if not messages[n].map_entry and is_kind(messages[n])}
    source = args.source or f"the descriptors in kubectl {kubectl_version(args.binary)}"
    args.output.write_text(render(messages, names, kinds, source))
    print(f"wrote {args.output}: {len(names)} messages, {len(kinds)} kinds", file=sys.stderr)


if __name__ == "__main__":
    main()
