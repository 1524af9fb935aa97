"""The wire reader, Go's duration text, the completeness of the message tables, and the API server's codec."""

from __future__ import annotations

import importlib.util
import struct
import sys
from pathlib import Path

import pytest

from edgeplane.api import errors
from edgeplane.api.protobuf import decode_object, message_for, wire
from edgeplane.api.protobuf.k8s_messages import KINDS, MAP_ENTRIES, MESSAGES
from edgeplane.api.protobuf.messages import DECODERS, go_duration
from edgeplane.apiserver.codec import decode_body
from tests.conftest import require_binary
from tests.unit.api.protobuf_encoder import envelope, int_field, map_entry, msg_field, str_field, varint

ROOT = Path(__file__).resolve().parents[3]
PROTOBUF = "application/vnd.kubernetes.protobuf"

# -- wire ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**31 - 1, 2**32, 2**63 - 1])
def test_varint_round_trip(value: int) -> None:
    encoded = varint(value)
    assert wire.read_varint(encoded, 0, len(encoded)) == (value, len(encoded))


def test_signed_conversions() -> None:
    assert wire.signed64(wire.read_varint(varint(-5), 0, 10)[0]) == -5
    assert wire.signed32(wire.read_varint(varint(-5), 0, 10)[0]) == -5
    assert wire.signed32(2**31 - 1) == 2**31 - 1
    assert [wire.zigzag(v) for v in (0, 1, 2, 3, 4294967294)] == [0, -1, 1, -2, 2147483647]


def test_fixed_width_values() -> None:
    body = b"\x09" + struct.pack("<d", 2.5) + b"\x15" + struct.pack("<f", -1.25)
    (n1, t1, v1), (n2, t2, v2) = wire.fields(body)
    assert (n1, t1, wire.as_double(v1)) == (1, wire.FIXED64, 2.5)  # type: ignore[arg-type]
    assert (n2, t2, wire.as_float(v2)) == (2, wire.FIXED32, -1.25)  # type: ignore[arg-type]
    assert wire.as_sfixed64(2**64 - 2) == -2
    assert wire.packed_fixed(struct.pack("<II", 7, 9), 4) == [7, 9]


@pytest.mark.parametrize(("body", "message"), [
    (b"\x08\x80\x80", "varint at byte 1 is truncated"),
    (b"\x08" + b"\xff" * 11, "varint at byte 1 is longer than 10 bytes"),
    (b"\x0a\x05ab", "field 1 at byte 0 declares 5 bytes but only 2 remain"),
    (b"\x0b", "field 1 at byte 0 has unsupported wire type 3"),
    (b"\x00\x01", "field number 0 at byte 0"),
    (b"\x09\x01\x02", "field 1 at byte 0 is a truncated 64-bit value"),
    (b"\x0d\x01", "field 1 at byte 0 is a truncated 32-bit value"),
])
def test_malformed_wire_data_says_where(body: bytes, message: str) -> None:
    with pytest.raises(wire.DecodeError, match=message):
        list(wire.fields(body))


def test_packed_fixed_of_wrong_length() -> None:
    with pytest.raises(wire.DecodeError, match="not a multiple of 8"):
        wire.packed_fixed(b"\x00" * 9, 8)


# -- Go's time.Duration.String() -----------------------------------------------------------------------------


@pytest.mark.parametrize(("nanos", "text"), [
    (0, "0s"),
    (1, "1ns"),
    (1_500, "1.5µs"),
    (2_000_000, "2ms"),
    (1_500_000_000, "1.5s"),
    (60_000_000_000, "1m0s"),
    (5_400_000_000_000, "1h30m0s"),
    (3_723_450_000_000, "1h2m3.45s"),
    (-90_000_000_000, "-1m30s"),
])
def test_go_duration(nanos: int, text: str) -> None:
    assert go_duration(nanos) == text


def test_duration_message() -> None:
    assert DECODERS["k8s.io.apimachinery.pkg.apis.meta.v1.Duration"](int_field(1, 90_000_000_000)) == "1m30s"


# -- tables --------------------------------------------------------------------------------------------------

BRIEF_KINDS = [
    ("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"), ("v1", "ServiceAccount"),
    ("v1", "Pod"), ("v1", "Node"), ("v1", "Event"), ("v1", "Binding"), ("v1", "ResourceQuota"),
    ("apps/v1", "Deployment"), ("apps/v1", "ReplicaSet"), ("apps/v1", "DaemonSet"), ("apps/v1", "StatefulSet"),
    ("batch/v1", "Job"), ("batch/v1", "CronJob"), ("scheduling.k8s.io/v1", "PriorityClass"),
    ("policy/v1", "PodDisruptionBudget"), ("policy/v1", "Eviction"), ("autoscaling/v1", "Scale"),
    ("rbac.authorization.k8s.io/v1", "Role"), ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"), ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("networking.k8s.io/v1", "Ingress"), ("coordination.k8s.io/v1", "Lease"),
    ("authentication.k8s.io/v1", "TokenRequest"), ("events.k8s.io/v1", "Event"),
    ("meta.k8s.io/v1", "DeleteOptions"), ("v1", "DeleteOptions"), ("apps/v1", "DeleteOptions"),
]


@pytest.mark.parametrize(("api_version", "kind"), BRIEF_KINDS)
def test_every_kind_kubectl_sends_decodes(api_version: str, kind: str) -> None:
    assert message_for(api_version, kind) is not None
    obj = decode_object(envelope(api_version, kind, b""))
    assert (obj["apiVersion"], obj["kind"]) == (api_version, kind)


def test_tables_are_closed() -> None:
    """Every message a field refers to can be decoded, so no kind is only half covered."""
    for name, fields in MESSAGES.items():
        for number, json_name, type_name, mode, ref in fields:
            if mode == "map":
                assert ref in MAP_ENTRIES, f"{name}.{json_name}"
                value_ref = MAP_ENTRIES[ref][2]
                assert not value_ref or value_ref in DECODERS, f"{name}.{json_name}"
            elif type_name == "message":
                assert ref in DECODERS, f"{name}.{json_name} -> {ref}"
            assert number > 0
    assert all(message in MESSAGES for message in KINDS.values())


def test_generator_reproduces_the_committed_tables(tmp_path: Path) -> None:
    """The table is what tools/gen_k8s_protobuf.py derives from the kubectl on this machine (no hand edits)."""
    kubectl = require_binary("kubectl")
    spec = importlib.util.spec_from_file_location("gen_k8s_protobuf", ROOT / "tools" / "gen_k8s_protobuf.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = gen  # its dataclasses look their module up
    spec.loader.exec_module(gen)
    out = tmp_path / "k8s_messages.py"
    argv = sys.argv
    sys.argv = ["gen_k8s_protobuf.py", kubectl, "--output", str(out)]
    try:
        gen.main()
    finally:
        sys.argv = argv
    committed = (ROOT / "src" / "edgeplane" / "api" / "protobuf" / "k8s_messages.py").read_text()
    generated = out.read_text()
    if generated.splitlines()[0] != committed.splitlines()[0]:  # the header names the kubectl release
        pytest.skip("this kubectl is another Kubernetes release than the one the tables were generated from")
    assert generated == committed


# -- the API server's codec ----------------------------------------------------------------------------------


def test_codec_decodes_protobuf_bodies() -> None:
    body = envelope("v1", "ConfigMap", msg_field(1, str_field(1, "cfg")) + map_entry(2, "a", "b"))
    assert decode_body(body, PROTOBUF) == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
                                           "data": {"a": "b"}}


def test_codec_answers_415_for_kinds_it_cannot_decode() -> None:
    with pytest.raises(errors.APIError) as info:
        decode_body(envelope("example.com/v1", "Widget", b""), PROTOBUF)
    assert info.value.code == 415
    assert 'kind "Widget"' in info.value.message and "application/json" in info.value.message


def test_codec_answers_400_for_malformed_protobuf() -> None:
    with pytest.raises(errors.APIError) as info:
        decode_body(envelope("apps/v1", "Deployment", msg_field(2, str_field(1, "three"))), PROTOBUF)
    assert info.value.code == 400
    assert info.value.message.startswith("unable to decode the protobuf body: spec.replicas: expected a varint")
