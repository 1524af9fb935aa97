"""Decoding Kubernetes protobuf request bodies, next to orjson parsing the same objects as JSON.

Bodies are built with the tests' protobuf writer the way client-go writes them (every plain field present):
a ConfigMap with 10 keys, a 3-container Deployment, and a 30-key Secret.

Usage: python bench/bench_protobuf.py [--seconds 1]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgeplane.api.protobuf import decode_object
from tests.unit.api.protobuf_encoder import (
    envelope,
    int_field,
    int_or_string,
    map_entry,
    msg_field,
    object_meta,
    str_field,
)


def configmap() -> bytes:
    data = b"".join(map_entry(2, f"key-{i}", f"value number {i}") for i in range(10))
    return envelope("v1", "ConfigMap", msg_field(1, object_meta("cfg", "shop", {"app": "web"})) + data)


def secret() -> bytes:
    data = b"".join(map_entry(2, f"token-{i}", bytes(range(40))) for i in range(30))
    return envelope("v1", "Secret", msg_field(1, object_meta("s", "shop")) + data + str_field(3, "Opaque"))


def deployment() -> bytes:
    def container(i: int) -> bytes:
        return b"".join([
            str_field(1, f"c{i}"), str_field(2, "registry.example.com/app:1.2.3"),
            msg_field(6, str_field(1, "http"), int_field(3, 8080 + i), str_field(4, "TCP")),
            *(msg_field(7, str_field(1, f"ENV_{j}"), str_field(2, f"value-{j}")) for j in range(8)),
            msg_field(8, msg_field(1, str_field(1, "cpu"), msg_field(2, str_field(1, "500m"))),
                      msg_field(2, str_field(1, "memory"), msg_field(2, str_field(1, "128Mi")))),
            msg_field(10, msg_field(1, msg_field(2, str_field(1, "/healthz"), msg_field(2, int_or_string(8080)))),
                      int_field(4, 10)),
            str_field(13, "/dev/termination-log"), str_field(14, "IfNotPresent"),
        ])

    pod = b"".join(msg_field(2, container(i)) for i in range(3)) + int_field(4, 30) + str_field(6, "ClusterFirst")
    spec = b"".join([
        int_field(1, 3), msg_field(2, map_entry(1, "app", "web")),
        msg_field(3, msg_field(1, object_meta("", labels={"app": "web", "tier": "front"})), msg_field(2, pod)),
        msg_field(4, str_field(1, "RollingUpdate"),
                  msg_field(2, msg_field(1, int_or_string("25%")), msg_field(2, int_or_string("25%")))),
    ])
    return envelope("apps/v1", "Deployment", msg_field(1, object_meta("web", "shop", {"app": "web"}))
                    + msg_field(2, spec) + msg_field(3))


def rate(fn: Callable[[], object], seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(200):
            fn()
        n += 200
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    print(f"Python {platform.python_version()} on {platform.machine()}, one core")
    print(f"{'object':<12}{'protobuf B':>11}{'JSON B':>8}{'protobuf/s':>12}{'µs each':>9}{'orjson/s':>11}")
    for name, build in (("ConfigMap", configmap), ("Secret", secret), ("Deployment", deployment)):
        body = build()
        as_json = orjson.dumps(decode_object(body))
        pb = rate(lambda body=body: decode_object(body), args.seconds)
        js = rate(lambda as_json=as_json: orjson.loads(as_json), args.seconds)
        print(f"{name:<12}{len(body):>11}{len(as_json):>8}{pb:>12,.0f}{1e6 / pb:>9.1f}{js:>11,.0f}")


if __name__ == "__main__":
    main()
