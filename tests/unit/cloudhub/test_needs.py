"""What each node needs: its Node, its pods, the ConfigMaps and Secrets those pods use."""

from __future__ import annotations

from edgeplane.cloudhub.needs import NeedIndex, NeedRule, pod_references


def pod(name: str, node: str | None, **spec: object) -> dict:
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": {"nodeName": node, **spec}}


def test_pod_references_cover_env_envfrom_volumes_projected_and_pull_secrets() -> None:
    p = pod("p", "n1",
            containers=[{"env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm1", "key": "k"}}},
                                 {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s1", "key": "k"}}},
                                 {"name": "C", "value": "plain"}],
                         "envFrom": [{"configMapRef": {"name": "cm2"}}, {"secretRef": {"name": "s2"}}]}],
            initContainers=[{"envFrom": [{"configMapRef": {"name": "cm3"}}]}],
            volumes=[{"name": "v1", "configMap": {"name": "cm4"}}, {"name": "v2", "secret": {"secretName": "s3"}},
                     {"name": "v3", "projected": {"sources": [{"configMap": {"name": "cm5"}},
                                                              {"secret": {"name": "s4"}}]}},
                     {"name": "v4", "emptyDir": {}}],
            imagePullSecrets=[{"name": "s5"}])
    refs = set(pod_references(p))
    assert refs == {("configmaps", "ns", f"cm{i}") for i in range(1, 6)} | {("secrets", "ns", f"s{i}")
                                                                             for i in range(1, 6)}


def test_index_follows_binding_rebinding_and_shared_references() -> None:
    index = NeedIndex()
    uses_cm = {"volumes": [{"name": "v", "configMap": {"name": "cm"}}]}
    touched = index.update("pods", "pods/ns/a", pod("a", "n1", **uses_cm))
    assert ("n1", "pods/ns/a") in touched and ("n1", "configmaps/ns/cm") in touched
    index.update("pods", "pods/ns/b", pod("b", "n1", **uses_cm))
    assert index.keys_of("n1") == {"pods/ns/a", "pods/ns/b", "configmaps/ns/cm"}
    index.update("pods", "pods/ns/a", None)
    assert index.needs("n1", "configmaps/ns/cm")  # b still uses it
    touched = index.update("pods", "pods/ns/b", pod("b", "n2", **uses_cm))  # moved to another node
    assert {("n1", "pods/ns/b"), ("n2", "pods/ns/b"), ("n1", "configmaps/ns/cm")} <= touched
    assert index.keys_of("n1") == set()
    assert index.keys_of("n2") == {"pods/ns/b", "configmaps/ns/cm"}
    # A change to a referenced object touches every node that needs it.
    assert index.update("configmaps", "configmaps/ns/cm", {"metadata": {"name": "cm"}}) == {("n2", "configmaps/ns/cm")}


def test_unbound_pods_are_needed_by_nobody() -> None:
    index = NeedIndex()
    assert index.update("pods", "pods/ns/a", pod("a", None)) == set()
    assert index.by_node == {}


def test_nodes_need_their_own_node_object() -> None:
    index = NeedIndex()
    index.update("nodes", "nodes//n1", {"metadata": {"name": "n1"}})
    assert index.keys_of("n1") == {"nodes//n1"}
    index.update("nodes", "nodes//n1", None)
    assert index.keys_of("n1") == set()


def test_the_table_takes_new_kinds() -> None:
    rules = (NeedRule("devices", "devices.kubeedge.io/v1beta1",
                      owners=lambda d: [d["spec"].get("nodeName", "")]),)
    index = NeedIndex(rules)
    index.update("devices", "devices/ns/d", {"metadata": {"name": "d"}, "spec": {"nodeName": "n9"}})
    assert index.keys_of("n9") == {"devices/ns/d"}
