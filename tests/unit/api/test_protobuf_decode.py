"""Kubernetes protobuf bodies decode to the JSON Go's encoding/json would write for the same object.

Bodies are built field by field with the test encoder, using the field numbers of Kubernetes' generated.proto.
"""

from __future__ import annotations

import base64

import pytest

from edgeplane.api.protobuf import DecodeError, UnsupportedKind, decode_object
from tests.unit.api.protobuf_encoder import (
    ZERO_TIME,
    bool_field,
    bytes_field,
    envelope,
    go_time,
    int_field,
    int_or_string,
    map_entry,
    msg_field,
    object_meta,
    packed_field,
    str_field,
    varint,
)

SECONDS_2024 = 1714979289  # 2024-05-06T07:08:09Z


def test_configmap_with_data_binary_data_and_labels() -> None:
    body = envelope("v1", "ConfigMap", b"".join([
        msg_field(1, object_meta("cfg", "shop", {"app": "web", "tier": "front"})),
        map_entry(2, "greeting", "hello"),
        map_entry(2, "empty", ""),
        map_entry(3, "blob", b"\x00\xffbin"),
    ]))
    assert decode_object(body) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        # gogo writes every plain string, empty or not; JSON omits the empty ones, and the zero time is null
        "metadata": {"name": "cfg", "namespace": "shop", "creationTimestamp": None,
                     "labels": {"app": "web", "tier": "front"}},
        "data": {"greeting": "hello", "empty": ""},
        "binaryData": {"blob": base64.b64encode(b"\x00\xffbin").decode()},
    }


def test_secret_data_is_base64_and_pointer_bool_false_is_kept() -> None:
    body = envelope("v1", "Secret", b"".join([
        msg_field(1, object_meta("s1", "shop")),
        map_entry(2, "password", b"hunter2"),
        str_field(3, "Opaque"),
        map_entry(4, "user", "admin"),
        bool_field(5, False),  # immutable is *bool: a present false means something
    ]))
    obj = decode_object(body)
    assert obj["data"] == {"password": "aHVudGVyMg=="}
    assert obj["stringData"] == {"user": "admin"}
    assert obj["type"] == "Opaque"
    assert obj["immutable"] is False


def _container() -> bytes:
    return b"".join([
        str_field(1, "web"),
        str_field(2, "nginx:1.27"),
        str_field(3, "nginx"), str_field(3, "-g"),  # command: repeated string
        msg_field(6, int_field(3, 80), str_field(4, "TCP"), int_field(2, 0)),  # hostPort 0 is omitempty
        msg_field(7, str_field(1, "MODE"), str_field(2, "production")),
        msg_field(7, str_field(1, "LEVEL"), msg_field(3, msg_field(3,  # valueFrom.configMapKeyRef
            msg_field(1, str_field(1, "app-config")),  # embedded LocalObjectReference: inline in JSON
            str_field(2, "level")))),
        msg_field(8,
                  msg_field(1, str_field(1, "cpu"), msg_field(2, str_field(1, "500m"))),
                  msg_field(2, str_field(1, "memory"), msg_field(2, str_field(1, "64Mi")))),
        msg_field(10,  # livenessProbe: the embedded ProbeHandler is inline too
                  msg_field(1, msg_field(2, str_field(1, "/healthz"), msg_field(2, int_or_string("http")))),
                  int_field(2, 0), int_field(4, 10)),
    ])


def _deployment(replicas: int) -> bytes:
    template = msg_field(3,
                         msg_field(1, object_meta("", labels={"app": "web"})),
                         msg_field(2, msg_field(2, _container()), int_field(4, 30), bool_field(11, False)))
    spec = b"".join([
        int_field(1, replicas),
        msg_field(2, map_entry(1, "app", "web")),
        template,
        msg_field(4, str_field(1, "RollingUpdate"),
                  msg_field(2, msg_field(1, int_or_string(1)), msg_field(2, int_or_string("25%")))),
        int_field(5, 0),
        bool_field(7, False),
    ])
    return envelope("apps/v1", "Deployment", msg_field(1, object_meta("web", "shop")) + msg_field(2, spec)
                    + msg_field(3))


def test_deployment_with_every_special_encoding_of_a_pod_template() -> None:
    obj = decode_object(_deployment(replicas=3))
    spec = obj["spec"]
    assert obj["apiVersion"] == "apps/v1" and obj["kind"] == "Deployment"
    assert obj["status"] == {}  # a non-pointer struct is always there, as in Go's JSON
    assert spec["replicas"] == 3
    assert "minReadySeconds" not in spec and "paused" not in spec  # plain zero values: unset
    assert spec["selector"] == {"matchLabels": {"app": "web"}}
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}}
    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 30
    assert "hostNetwork" not in pod
    assert spec["template"]["metadata"] == {"creationTimestamp": None, "labels": {"app": "web"}}
    assert pod["containers"] == [{
        "name": "web",
        "image": "nginx:1.27",
        "command": ["nginx", "-g"],
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
        "env": [{"name": "MODE", "value": "production"},
                {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "level"}}}],
        "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
    }]


def test_pointer_int_zero_is_kept() -> None:
    assert decode_object(_deployment(replicas=0))["spec"]["replicas"] == 0


def test_time_keeps_whole_seconds_and_zero_time_is_null() -> None:
    meta = str_field(1, "n1") + msg_field(8, go_time(SECONDS_2024, 999_000_000)) + msg_field(9, ZERO_TIME)
    obj = decode_object(envelope("v1", "Namespace", msg_field(1, meta)))
    # meta/v1 Time drops nanoseconds in protobuf as in JSON; the zero time is null
    assert obj["metadata"]["creationTimestamp"] == "2024-05-06T07:08:09Z"
    assert obj["metadata"]["deletionTimestamp"] is None


def test_go_zero_time_written_as_seconds_is_null() -> None:
    meta = str_field(1, "n1") + msg_field(8, go_time(-62135596800))
    assert decode_object(envelope("v1", "Namespace", msg_field(1, meta)))["metadata"]["creationTimestamp"] is None


def test_micro_time_has_six_fractional_digits_and_pointer_string_empty_is_kept() -> None:
    spec = b"".join([
        str_field(1, ""),  # holderIdentity is *string
        int_field(2, 15),
        msg_field(3, go_time(SECONDS_2024, 123_456_789)),
        msg_field(4, go_time(SECONDS_2024)),
        int_field(5, 0),  # leaseTransitions is *int32
    ])
    obj = decode_object(envelope("coordination.k8s.io/v1", "Lease", msg_field(1, object_meta("l")) + msg_field(2, spec)))
    assert obj["spec"] == {
        "holderIdentity": "",
        "leaseDurationSeconds": 15,
        "acquireTime": "2024-05-06T07:08:09.123456Z",
        "renewTime": "2024-05-06T07:08:09.000000Z",
        "leaseTransitions": 0,
    }


def test_time_before_1970() -> None:
    meta = str_field(1, "old") + msg_field(8, go_time(-86400))
    assert decode_object(envelope("v1", "Namespace", msg_field(1, meta)))["metadata"]["creationTimestamp"] == \
        "1969-12-31T00:00:00Z"


def test_packed_and_unpacked_repeated_ints_and_negative_values() -> None:
    def pod(groups: bytes) -> dict:
        security = int_field(2, -1) + groups  # runAsUser is *int64; Go writes -1 as a ten-byte varint
        return decode_object(envelope("v1", "Pod", msg_field(1, object_meta("p")) + msg_field(2, msg_field(14, security))))

    packed = pod(packed_field(4, [1000, 2000, 3]))
    unpacked = pod(int_field(4, 1000) + int_field(4, 2000) + int_field(4, 3))
    mixed = pod(packed_field(4, [1000]) + int_field(4, 2000) + packed_field(4, [3]))
    for obj in (packed, unpacked, mixed):
        assert obj["spec"]["securityContext"] == {"runAsUser": -1, "supplementalGroups": [1000, 2000, 3]}
    assert len(varint(-1)) == 10


def test_service_target_port_int_and_name() -> None:
    ports = msg_field(1, str_field(1, "http"), int_field(3, 80), msg_field(4, int_or_string(8080))) + \
        msg_field(1, str_field(1, "admin"), int_field(3, 81), msg_field(4, int_or_string("admin")))
    obj = decode_object(envelope("v1", "Service", msg_field(1, object_meta("svc")) + msg_field(2, ports + str_field(4, "ClusterIP"))))
    assert obj["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 8080},
                                    {"name": "admin", "port": 81, "targetPort": "admin"}]


def test_int_or_string_zero_value_is_zero() -> None:
    # a non-pointer IntOrString (ServicePort.targetPort) left unset still goes on the wire, as JSON 0 does
    port = msg_field(1, int_field(3, 80), msg_field(4))
    assert decode_object(envelope("v1", "Service", msg_field(2, port)))["spec"]["ports"][0]["targetPort"] == 0


def test_raw_extension_holds_json_or_a_nested_protobuf_object() -> None:
    as_json = msg_field(2, bytes_field(1, b'{"spec":{"replicas":2}}')) + int_field(3, 4)
    obj = decode_object(envelope("apps/v1", "ControllerRevision", msg_field(1, object_meta("rev")) + as_json))
    assert obj["data"] == {"spec": {"replicas": 2}}
    assert obj["revision"] == 4

    inner = envelope("v1", "ConfigMap", msg_field(1, str_field(1, "inner")) + map_entry(2, "k", "v"))
    nested = decode_object(envelope("apps/v1", "ControllerRevision", msg_field(2, bytes_field(1, inner))))
    assert nested["data"] == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "inner"},
                              "data": {"k": "v"}}
    assert decode_object(envelope("apps/v1", "ControllerRevision", msg_field(2)))["data"] is None


def test_delete_options_sent_with_a_resource_group_version() -> None:
    body = envelope("v1", "DeleteOptions", b"".join([
        int_field(1, 0),  # *int64: delete now
        msg_field(2, str_field(1, "uid-1")),
        str_field(4, "Foreground"),
        str_field(5, "All"),
    ]))
    assert decode_object(body) == {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                                   "preconditions": {"uid": "uid-1"}, "propagationPolicy": "Foreground",
                                   "dryRun": ["All"]}


def test_priority_class_value_zero_is_kept() -> None:
    body = envelope("scheduling.k8s.io/v1", "PriorityClass", msg_field(1, object_meta("low")) + int_field(2, 0))
    assert decode_object(body)["value"] == 0


def test_rbac_role_binding() -> None:
    body = envelope("rbac.authorization.k8s.io/v1", "RoleBinding", b"".join([
        msg_field(1, object_meta("rb", "shop")),
        msg_field(2, str_field(1, "ServiceAccount"), str_field(2, ""), str_field(3, "bot"), str_field(4, "shop")),
        msg_field(3, str_field(1, "rbac.authorization.k8s.io"), str_field(2, "Role"), str_field(3, "reader")),
    ]))
    obj = decode_object(body)
    assert obj["subjects"] == [{"kind": "ServiceAccount", "name": "bot", "namespace": "shop"}]
    assert obj["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"}


def test_token_request_and_renamed_json_fields() -> None:
    spec = str_field(1, "api") + int_field(4, 3600) + msg_field(3, str_field(1, "Pod"), str_field(3, "p1"), str_field(4, "u-1"))
    obj = decode_object(envelope("authentication.k8s.io/v1", "TokenRequest", msg_field(1, object_meta("bot")) + msg_field(2, spec)))
    # BoundObjectReference.UID is "uID" in the proto but "uid" in JSON
    assert obj["spec"] == {"audiences": ["api"], "expirationSeconds": 3600,
                           "boundObjectRef": {"kind": "Pod", "name": "p1", "uid": "u-1"}}


def test_unknown_field_numbers_are_skipped_and_last_value_wins() -> None:
    body = envelope("v1", "ConfigMap", b"".join([
        msg_field(1, str_field(1, "first"), str_field(1, "second"), str_field(999, "future"), int_field(998, 7)),
        msg_field(77, str_field(1, "x")),
    ]))
    assert decode_object(body) == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "second"}}


def test_a_later_zero_value_clears_an_earlier_one() -> None:
    body = envelope("v1", "ConfigMap", msg_field(1, str_field(1, "a"), str_field(3, "ns"), str_field(3, "")))
    assert decode_object(body)["metadata"] == {"name": "a"}


# -- errors --------------------------------------------------------------------------------------------------


def test_unknown_kind_is_unsupported_not_malformed() -> None:
    with pytest.raises(UnsupportedKind) as info:
        decode_object(envelope("example.com/v1", "Widget", b""))
    assert 'kind "Widget" of apiVersion "example.com/v1"' in str(info.value)


def test_missing_magic() -> None:
    with pytest.raises(DecodeError, match="envelope prefix"):
        decode_object(b'{"kind": "ConfigMap"}')


def test_envelope_without_kind() -> None:
    with pytest.raises(DecodeError, match="names no kind"):
        decode_object(envelope("v1", "", b""))


def test_compressed_content_encoding_is_refused() -> None:
    with pytest.raises(DecodeError, match='contentEncoding "gzip"'):
        decode_object(envelope("v1", "ConfigMap", b"", content_encoding="gzip"))


def test_wrong_wire_type_names_the_field() -> None:
    body = envelope("apps/v1", "Deployment", msg_field(2, str_field(1, "three")))
    with pytest.raises(DecodeError) as info:
        decode_object(body)
    assert info.value.where() == "spec.replicas"
    assert "expected a varint value, got wire type length-delimited" in str(info.value)


def test_error_inside_a_list_names_the_index() -> None:
    containers = msg_field(2, str_field(1, "ok")) + msg_field(2, bytes_field(1, b"\xff\xfe"))
    body = envelope("v1", "Pod", msg_field(2, containers))
    with pytest.raises(DecodeError) as info:
        decode_object(body)
    assert str(info.value) == "spec.containers[1].name: string is not valid UTF-8 at byte 0"


def test_truncated_message_names_the_enclosing_field() -> None:
    # spec holds 4 bytes, inside which field 1 claims 5 bytes but only 2 follow
    body = envelope("v1", "Pod", bytes_field(2, b"\x0a\x05ab"))
    with pytest.raises(DecodeError) as info:
        decode_object(body)
    assert str(info.value) == "spec: field 1 at byte 0 declares 5 bytes but only 2 remain"


def test_truncated_envelope() -> None:
    with pytest.raises(DecodeError, match="declares 200 bytes"):
        decode_object(b"k8s\x00" + b"\x12\xc8\x01" + b"short")


def test_bad_int_or_string_type() -> None:
    port = msg_field(1, int_field(3, 80), msg_field(4, int_field(1, 2)))
    with pytest.raises(DecodeError) as info:
        decode_object(envelope("v1", "Service", msg_field(2, port)))
    assert info.value.where() == "spec.ports[0].targetPort"


def test_raw_extension_that_is_not_json() -> None:
    with pytest.raises(DecodeError, match="neither JSON nor protobuf") as info:
        decode_object(envelope("apps/v1", "ControllerRevision", msg_field(2, bytes_field(1, b"{nope"))))
    assert info.value.where() == "data"


def test_ingress_rule_value_is_inline() -> None:
    path = msg_field(1, str_field(1, "/bar"), str_field(3, "Prefix"),
                     msg_field(2, msg_field(4, str_field(1, "svc1"), msg_field(2, int_field(2, 8080)))))
    rule = msg_field(3, str_field(1, "foo.com"), msg_field(2, msg_field(1, path)))
    obj = decode_object(envelope("networking.k8s.io/v1", "Ingress", msg_field(1, object_meta("ing"))
                                 + msg_field(2, rule + str_field(4, "nginx"))))
    assert obj["spec"] == {
        "ingressClassName": "nginx",
        "rules": [{"host": "foo.com", "http": {"paths": [
            {"path": "/bar", "pathType": "Prefix", "backend": {"service": {"name": "svc1", "port": {"number": 8080}}}},
        ]}}],
    }
