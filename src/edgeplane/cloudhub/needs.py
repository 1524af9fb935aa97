"""What each edge node needs to hold: a small table of rules, and an index kept current from watch events.

A rule says, for one resource, which nodes own an object outright (a pod's ``spec.nodeName``, a Node's own
name) and which other objects an object makes its owners need (the ConfigMaps and Secrets a pod uses).
Later kinds (devices, stream rules) add a row to ``NEED_RULES``; nothing else changes.

Keys are ``resource/namespace/name`` (namespace empty for cluster-scoped objects), as in the metastore.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
Ref = tuple[str, str, str]  # (resource, namespace, name)


def object_key(resource: str, namespace: str, name: str) -> str:
    return f"{resource}/{namespace}/{name}"


@dataclass(frozen=True)
class NeedRule:
    resource: str  # plural, as the edge stores it
    api_version: str
    owners: Callable[[Obj], Iterable[str]] | None = None  # nodes that hold the object for what it is
    references: Callable[[Obj], Iterable[Ref]] | None = None  # what the object makes its owners need


def _own_name(obj: Obj) -> Iterable[str]:
    return (obj["metadata"]["name"],)


def _bound_node(obj: Obj) -> Iterable[str]:
    node = (obj.get("spec") or {}).get("nodeName")
    return (node,) if node else ()


def pod_references(pod: Obj) -> Iterator[Ref]:
    """ConfigMaps and Secrets a pod uses: env valueFrom, envFrom, volumes (incl. projected), pull secrets."""
    ns = pod["metadata"].get("namespace", "")
    spec = pod.get("spec") or {}
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(group) or ():
            for env in container.get("env") or ():
                source = env.get("valueFrom") or {}
                if (ref := source.get("configMapKeyRef")) and ref.get("name"):
                    yield ("configmaps", ns, ref["name"])
                if (ref := source.get("secretKeyRef")) and ref.get("name"):
                    yield ("secrets", ns, ref["name"])
            for env_from in container.get("envFrom") or ():
                if (ref := env_from.get("configMapRef")) and ref.get("name"):
                    yield ("configmaps", ns, ref["name"])
                if (ref := env_from.get("secretRef")) and ref.get("name"):
                    yield ("secrets", ns, ref["name"])
    for volume in spec.get("volumes") or ():
        if (cm := volume.get("configMap")) and cm.get("name"):
            yield ("configmaps", ns, cm["name"])
        if (secret := volume.get("secret")) and secret.get("secretName"):
            yield ("secrets", ns, secret["secretName"])
        for source in (volume.get("projected") or {}).get("sources") or ():
            if (cm := source.get("configMap")) and cm.get("name"):
                yield ("configmaps", ns, cm["name"])
            if (secret := source.get("secret")) and secret.get("name"):
                yield ("secrets", ns, secret["name"])
    for pull in spec.get("imagePullSecrets") or ():
        if pull.get("name"):
            yield ("secrets", ns, pull["name"])


NEED_RULES: tuple[NeedRule, ...] = (
    NeedRule("nodes", "v1", owners=_own_name),
    NeedRule("pods", "v1", owners=_bound_node, references=pod_references),
    NeedRule("configmaps", "v1"),
    NeedRule("secrets", "v1"),
)


class NeedIndex:
    """node -> the keys it needs, updated per object change; says which (node, key) pairs each change touches."""

    def __init__(self, rules: Iterable[NeedRule] = NEED_RULES) -> None:
        self.rules = {rule.resource: rule for rule in rules}
        self.by_node: dict[str, set[str]] = {}
        self._owners: dict[str, frozenset[str]] = {}  # key -> nodes owning it outright
        self._refs: dict[str, tuple[frozenset[str], frozenset[str]]] = {}  # key -> (owners, keys it references)
        self._ref_counts: dict[str, Counter[str]] = {}  # referenced key -> node -> how many references

    def needs(self, node: str, key: str) -> bool:
        return key in self.by_node.get(node, ())

    def keys_of(self, node: str) -> set[str]:
        return self.by_node.get(node, set())

    def nodes_needing(self, key: str) -> set[str]:
        nodes = set(self._owners.get(key, ()))
        nodes.update(self._ref_counts.get(key, ()))
        return nodes

    def update(self, resource: str, key: str, obj: Obj | None) -> set[tuple[str, str]]:
        """Records the object's new state (None: deleted); returns the (node, key) pairs whose need may differ."""
        rule = self.rules[resource]
        touched: set[tuple[str, str]] = {(n, key) for n in self.nodes_needing(key)}
        owners = frozenset(n for n in rule.owners(obj) if n) if obj is not None and rule.owners else frozenset()
        old_owners = self._owners.get(key, frozenset())
        if owners != old_owners:
            if owners:
                self._owners[key] = owners
            else:
                self._owners.pop(key, None)
            for node in owners ^ old_owners:
                self._recheck(node, key)
        if rule.references:
            refs = frozenset(object_key(*r) for r in rule.references(obj)) if obj is not None else frozenset()
            empty: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())
            old = self._refs.get(key, empty)
            new = (owners, refs) if owners and refs else empty
            if new != old:
                if new[0]:
                    self._refs[key] = new
                else:
                    self._refs.pop(key, None)
                for node in old[0]:
                    for ref in old[1]:
                        self._count(node, ref, -1)
                        touched.add((node, ref))
                for node in new[0]:
                    for ref in new[1]:
                        self._count(node, ref, +1)
                        touched.add((node, ref))
        touched.update((n, key) for n in owners)
        return touched

    def _count(self, node: str, key: str, delta: int) -> None:
        counts = self._ref_counts.setdefault(key, Counter())
        counts[node] += delta
        if counts[node] <= 0:
            del counts[node]
            if not counts:
                del self._ref_counts[key]
        self._recheck(node, key)

    def _recheck(self, node: str, key: str) -> None:
        held = node in self._owners.get(key, ()) or self._ref_counts.get(key, {}).get(node, 0) > 0
        if held:
            self.by_node.setdefault(node, set()).add(key)
            return
        keys = self.by_node.get(node)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self.by_node[node]
