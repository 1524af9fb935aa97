"""The resource types the API server serves, for controllers that handle every kind (garbage collection,
namespace deletion). They read the server's own registry, so custom resources count as soon as their CRD
is established."""

from __future__ import annotations

from edgeplane.api.registry import Registry, ResourceType
from edgeplane.client.interface import Client


def registry_of(client: Client) -> Registry:
    ctx = getattr(client, "ctx", None)
    registry = getattr(ctx, "registry", None)
    if not isinstance(registry, Registry):
        raise TypeError(f"{type(client).__name__} gives no access to the served resource types: this controller "
                        "runs in the cloud process, with an in-process client")
    return registry


def served_types(registry: Registry, verbs: tuple[str, ...] = ("list", "watch")) -> list[ResourceType]:
    """One type per stored resource (its preferred version: every version shares the same objects) that
    supports ``verbs``."""
    preferred = {group: versions[0] for group, versions in registry.groups()}
    seen: set[tuple[str, str]] = set()
    types = []
    for rt in sorted(registry.all(), key=lambda r: r.version != preferred.get(r.group)):
        key = (rt.group, rt.plural)
        if key in seen or not all(v in rt.verbs for v in verbs):
            continue
        seen.add(key)
        types.append(rt)
    return types


def type_of(registry: Registry, api_version: str, kind: str) -> ResourceType | None:
    """The served type of an owner reference's apiVersion and kind; another served version of the same group
    and kind will do, as every version holds the same objects."""
    group, _, version = api_version.rpartition("/")
    exact = registry.by_kind(group, version, kind)
    if exact is not None:
        return exact
    return next((rt for rt in registry.all() if rt.group == group and rt.kind == kind), None)
