"""Polling kubectl until the cluster reaches a state, with the last seen state in the failure message."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

Kubectl = Callable[..., Any]


def get_json(kubectl: Kubectl, *args: str) -> Any:
    return json.loads(kubectl("get", *args, "-o", "json").stdout)


def wait_for(check: Callable[[], Any], what: str, timeout: float = 20.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last saw {last!r}")


def pods(kubectl: Kubectl, namespace: str, selector: str) -> list[dict[str, Any]]:
    return get_json(kubectl, "pods", "-n", namespace, "-l", selector)["items"]


def live(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]
