"""Selector matching (list/watch hot path), selector parsing, the three patch types and quantity parsing.

Prints one line per figure. Run: .venv/bin/python bench/bench_selectors_patch.py
"""

from __future__ import annotations

import sys
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgeplane.api.patch import apply_json_patch, apply_merge_patch, apply_strategic_merge_patch
from edgeplane.api.quantity import parse_quantity
from edgeplane.api.selectors import FieldSelector, LabelSelector
from tests.unit.api.test_patch_strategic import DEPLOYMENT


def per_call(fn: Any, number: int) -> float:
    """Best of 5 runs, in microseconds per call."""
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def deployment(containers: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "labels": {"app": "web"},
            "annotations": {"a": "b"},
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": f"c{i}",
                            "image": f"nginx:{i}",
                            "env": [{"name": f"E{j}", "value": str(j)} for j in range(10)],
                            "ports": [{"containerPort": 8000 + i}],
                            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                        }
                        for i in range(containers)
                    ]
                },
            },
        },
    }


def main() -> None:
    labels = {"app": "web", "tier": "fe", "env": "prod", "pod-template-hash": "5d8f", "team": "edge"}
    for text in ("app=web", "app=web,tier=fe,env=prod", "app=web,env in (prod,staging),!legacy", "app=db"):
        match = LabelSelector.parse(text).matches
        print(f"label selector match {text!r:45} {per_call(lambda m=match: m(labels), 200_000):6.3f} us")
    field = FieldSelector.parse("spec.nodeName=edge-1,status.phase!=Failed")
    values = {"spec.nodeName": "edge-1", "status.phase": "Running"}.get
    print(
        f"field selector match (2 terms)                        {per_call(lambda: field.matches(values), 200_000):6.3f} us"
    )
    print(
        f"label selector parse (3 requirements)                 {per_call(lambda: LabelSelector.parse('app=web,env in (prod,staging),!legacy'), 20_000):6.2f} us"
    )
    print(
        f"label selector from_dict (matchLabels + 1 expression) {per_call(lambda: LabelSelector.from_dict({'matchLabels': {'app': 'web'}, 'matchExpressions': [{'key': 'env', 'operator': 'In', 'values': ['a', 'b']}]}), 20_000):6.2f} us"
    )

    doc = deployment(4)
    smp = {
        "metadata": {"labels": {"version": "2"}},
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": f"c{i}"} for i in range(4)],
                    "containers": [
                        {"name": "c2", "image": "nginx:new", "env": [{"name": "E3", "$patch": "delete"}]}
                    ],
                }
            }
        },
    }
    print(
        f"strategic merge patch, deployment with 4 containers   {per_call(lambda: apply_strategic_merge_patch(doc, smp, DEPLOYMENT), 2_000):6.1f} us"
    )
    print(
        f"merge patch (labels + replicas)                       {per_call(lambda: apply_merge_patch(doc, {'metadata': {'labels': {'v': '2'}}, 'spec': {'replicas': 5}}), 2_000):6.1f} us"
    )
    ops = [
        {"op": "test", "path": "/spec/replicas", "value": 3},
        {"op": "replace", "path": "/spec/replicas", "value": 5},
        {"op": "add", "path": "/metadata/labels/v", "value": "2"},
    ]
    print(
        f"JSON patch (3 operations)                             {per_call(lambda: apply_json_patch(doc, ops), 2_000):6.1f} us"
    )
    print(
        f"parse_quantity('128Mi')                               {per_call(lambda: parse_quantity('128Mi'), 50_000):6.2f} us"
    )


if __name__ == "__main__":
    main()
