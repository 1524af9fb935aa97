"""Node lifecycle rules that need no server: durations, autonomy annotations, taints and toleration times."""

from __future__ import annotations

import math

import pytest

from edgeplane.controllers.nodelifecycle import autonomy_seconds, gone_taints
from edgeplane.controllers.scheduler.taints import eviction_delay, tolerates
from edgeplane.controllers.settings import DurationError, parse_duration

UNREACHABLE_EXECUTE = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}


@pytest.mark.parametrize(("text", "seconds"), [
    ("40s", 40.0), ("1h30m", 5400.0), ("250ms", 0.25), ("1.5m", 90.0), ("0", 0.0), ("12", 12.0), ("2h", 7200.0),
])
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "10x", "5 m", "m"])
def test_bad_durations_say_what_is_wrong(text: str) -> None:
    with pytest.raises(DurationError, match="invalid duration"):
        parse_duration(text)


def annotated(**annotations: str) -> dict:
    return {"metadata": {"name": "n", "annotations": annotations}}


def test_autonomy_annotations() -> None:
    assert autonomy_seconds(annotated()) is None
    assert autonomy_seconds(annotated(**{"node.openyurt.io/autonomy-duration": "0"})) == math.inf
    assert autonomy_seconds(annotated(**{"node.openyurt.io/autonomy-duration": "10m"})) == 600.0
    assert autonomy_seconds(annotated(**{"node.beta.openyurt.io/autonomy": "true"})) == math.inf
    assert autonomy_seconds(annotated(**{"node.beta.openyurt.io/autonomy": "false"})) is None
    with pytest.raises(DurationError):
        autonomy_seconds(annotated(**{"node.openyurt.io/autonomy-duration": "forever"}))


def test_gone_taints_follow_the_ready_status() -> None:
    assert gone_taints("True", "t") == []
    assert gone_taints(None, "t") == []
    unknown = gone_taints("Unknown", "2030-01-01T00:00:00Z")
    assert unknown == [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
                       {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute",
                        "timeAdded": "2030-01-01T00:00:00Z"}]
    assert {t["key"] for t in gone_taints("False", "t")} == {"node.kubernetes.io/not-ready"}


def test_toleration_matching() -> None:
    taint = {"key": "k", "value": "v", "effect": "NoSchedule"}
    assert tolerates({"key": "k", "operator": "Equal", "value": "v"}, taint)
    assert tolerates({"key": "k", "value": "v", "effect": "NoSchedule"}, taint)  # Equal is the default
    assert not tolerates({"key": "k", "operator": "Equal", "value": "w"}, taint)
    assert not tolerates({"key": "k", "operator": "Exists", "effect": "NoExecute"}, taint)
    assert tolerates({"operator": "Exists"}, taint)


def test_eviction_delay_is_the_shortest_matching_toleration() -> None:
    assert eviction_delay([UNREACHABLE_EXECUTE], []) == 0.0
    assert eviction_delay([UNREACHABLE_EXECUTE], [{"key": "node.kubernetes.io/unreachable",
                                                   "operator": "Exists"}]) is None
    assert eviction_delay([UNREACHABLE_EXECUTE], [
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 7}]) == 7.0
    other = {"key": "maintenance", "effect": "NoExecute"}
    assert eviction_delay([UNREACHABLE_EXECUTE, other], [
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 30},
        {"key": "maintenance", "operator": "Exists", "tolerationSeconds": 5}]) == 5.0
    assert eviction_delay([{"key": "soft", "effect": "NoSchedule"}], []) is None
