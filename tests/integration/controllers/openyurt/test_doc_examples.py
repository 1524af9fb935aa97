"""OpenYurt's documented NodePool and YurtAppSet manifests (docs/examples/openyurt) apply unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.integration.controllers.openyurt.cluster import Kubectl, get_json, wait_for

EXAMPLES = Path(__file__).resolve().parents[4] / "docs" / "examples" / "openyurt"
NODEPOOLS = sorted(EXAMPLES.glob("nodepool-*.yaml"))


def test_every_example_is_here() -> None:
    assert [p.name for p in NODEPOOLS] == ["nodepool-cloud.yaml", "nodepool-edge.yaml",
                                           "nodepool-leader-mark.yaml", "nodepool-leader-random.yaml"]
    assert (EXAMPLES / "yurtappset.yaml").exists()


@pytest.mark.parametrize("path", NODEPOOLS, ids=[p.stem for p in NODEPOOLS])
def test_nodepool_example_applies_and_reapplies(kubectl: Kubectl, path: Path) -> None:
    manifest = yaml.safe_load(path.read_text())
    name = manifest["metadata"]["name"]
    assert kubectl("apply", "-f", str(path)).stdout.strip() == f"nodepool.apps.openyurt.io/{name} created"
    assert kubectl("apply", "-f", str(path)).stdout.strip() == f"nodepool.apps.openyurt.io/{name} unchanged"
    stored = get_json(kubectl, "np", name)
    for key, value in manifest["spec"].items():
        assert stored["spec"][key] == value
    assert stored["metadata"]["labels"]["nodepool.openyurt.io/type"] == manifest["spec"]["type"].lower()
    kubectl("delete", "-f", str(path))  # several examples share a name and differ in immutable fields


def test_yurtappset_example_applies_and_deploys_to_its_pools(kubectl: Kubectl) -> None:
    path = EXAMPLES / "yurtappset.yaml"
    for pool in ("np1xxxxxx", "np2xxxxxx"):
        kubectl("apply", "-f", "-", input=yaml.safe_dump(
            {"apiVersion": "apps.openyurt.io/v1beta2", "kind": "NodePool", "metadata": {"name": pool},
             "spec": {"type": "Edge"}}))
    assert kubectl("apply", "-f", str(path)).stdout.strip() == "yurtappset.apps.openyurt.io/example created"
    assert kubectl("apply", "-f", str(path)).stdout.strip() == "yurtappset.apps.openyurt.io/example unchanged"

    def deployments() -> dict[str, dict] | None:
        items = get_json(kubectl, "deploy", "-l", "apps.openyurt.io/yurtappset-owner=example")["items"]
        found = {d["metadata"]["labels"]["apps.openyurt.io/pool-name"]: d for d in items}
        return found if set(found) == {"np1xxxxxx", "np2xxxxxx"} else None

    found = wait_for(deployments, "the example's two Deployments")
    np2 = found["np2xxxxxx"]
    assert np2["spec"]["replicas"] == 3 and np2["metadata"]["labels"]["foo"] == "bar"
    assert np2["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.20.1"
    assert found["np1xxxxxx"]["spec"]["replicas"] == 2
    assert found["np1xxxxxx"]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.19.1"


def test_kubectl_explain_describes_the_openyurt_fields(kubectl: Kubectl) -> None:
    pool = kubectl("explain", "np.spec.hostNetwork").stdout
    assert "VERSION:    v1beta2" in pool and "share network namespace with host" in pool
    tweaks = kubectl("explain", "yas.spec.workload.workloadTweaks.tweaks.containerImages").stdout
    assert "targetImage" in tweaks and "-required-" in tweaks
