from __future__ import annotations

import pytest

from edgeplane.apiserver.auth import ANONYMOUS_USER, Authorizer, RequestAttributes, UserInfo

ADMIN = UserInfo("edgeplane-admin", ("system:masters", "system:authenticated"))
NODE_A = UserInfo("system:node:edge-a", ("system:nodes", "system:authenticated"))
ALICE = UserInfo("alice", ("devs", "system:authenticated"))
FAKE_NODE = UserInfo("edge-a", ("system:nodes", "system:authenticated"))  # in the group, badly named


def res(
    verb: str, resource: str, name: str = "", ns: str = "", group: str = "", sub: str = ""
) -> RequestAttributes:
    return RequestAttributes(verb, group, resource, sub, ns, name, "", True)


def path(p: str, verb: str = "get") -> RequestAttributes:
    return RequestAttributes(verb, "", "", "", "", "", p, False)


authorizer = Authorizer()


@pytest.mark.parametrize(
    "attrs",
    [
        res("delete", "nodes", "edge-a"),
        res("create", "deployments", ns="default", group="apps"),
        res("deletecollection", "secrets", ns="kube-system"),
        res("patch", "devices", "d1", "default", "devices.kubeedge.io", "status"),
        path("/metrics"),
        path("/api/v1"),
    ],
)
def test_masters_may_do_everything(attrs: RequestAttributes) -> None:
    allowed, reason = authorizer.authorize(ADMIN, attrs)

    assert allowed, reason
    assert "system:masters" in reason


# (verb, resource, subresource, group, namespace, name, object_node) -> allowed for node "edge-a"
NODE_TABLE = [
    # reads of what a node needs
    ("get", "pods", "", "", "default", "web-1", None, True),
    ("list", "pods", "", "", "", "", None, True),
    ("watch", "configmaps", "", "", "default", "", None, True),
    ("get", "secrets", "", "", "default", "tls", None, False),  # secrets reach nodes only through the hub
    ("list", "services", "", "", "", "", None, True),
    ("get", "namespaces", "", "", "", "default", None, True),
    ("watch", "nodes", "", "", "", "", None, True),
    ("get", "leases", "", "coordination.k8s.io", "kube-node-lease", "edge-b", None, True),
    ("list", "events", "", "events.k8s.io", "default", "", None, True),
    ("list", "devices", "", "devices.kubeedge.io", "", "", None, True),
    # its own Node and Node status
    ("create", "nodes", "", "", "", "edge-a", None, True),
    ("update", "nodes", "status", "", "", "edge-a", None, True),
    ("patch", "nodes", "status", "", "", "edge-a", None, True),
    ("patch", "nodes", "", "", "", "edge-b", None, False),
    ("update", "nodes", "status", "", "", "edge-b", None, False),
    ("create", "nodes", "", "", "", "", None, False),  # name unknown: never assumed to be its own
    ("delete", "nodes", "", "", "", "edge-a", None, False),
    # its own Lease, only in kube-node-lease
    ("create", "leases", "", "coordination.k8s.io", "kube-node-lease", "edge-a", None, True),
    ("update", "leases", "", "coordination.k8s.io", "kube-node-lease", "edge-a", None, True),
    ("update", "leases", "", "coordination.k8s.io", "kube-node-lease", "edge-b", None, False),
    ("update", "leases", "", "coordination.k8s.io", "default", "edge-a", None, False),
    # pods' status, only for pods bound to it
    ("patch", "pods", "status", "", "default", "web-1", "edge-a", True),
    ("update", "pods", "status", "", "default", "web-1", "edge-b", False),
    ("patch", "pods", "status", "", "default", "web-1", None, False),
    ("delete", "pods", "", "", "default", "web-1", "edge-a", True),
    ("delete", "pods", "", "", "default", "web-1", "edge-b", False),
    ("update", "pods", "", "", "default", "web-1", "edge-a", False),  # spec is not the node's to change
    ("create", "pods", "", "", "default", "", None, False),
    # events
    ("create", "events", "", "", "default", "", None, True),
    ("create", "events", "", "events.k8s.io", "default", "", None, True),
    ("delete", "events", "", "", "default", "e1", None, False),
    # anything else
    ("create", "configmaps", "", "", "default", "", None, False),
    ("update", "secrets", "", "", "default", "tls", None, False),
    ("list", "deployments", "", "apps", "", "", None, False),
    ("get", "pods", "log", "", "default", "web-1", "edge-a", False),
]


@pytest.mark.parametrize(
    ("verb", "resource", "sub", "group", "ns", "name", "object_node", "expected"), NODE_TABLE
)
def test_node_authorizer_table(
    verb: str,
    resource: str,
    sub: str,
    group: str,
    ns: str,
    name: str,
    object_node: str | None,
    expected: bool,
) -> None:
    allowed, reason = authorizer.authorize(NODE_A, res(verb, resource, name, ns, group, sub), object_node)

    assert allowed is expected, reason
    assert reason


def test_node_denial_explains_the_ownership_rule() -> None:
    allowed, reason = authorizer.authorize(NODE_A, res("patch", "nodes", "edge-b", sub="status"))

    assert not allowed
    assert reason == 'node "edge-a" may patch nodes/status only for its own object "edge-a", not "edge-b"'


def test_node_denial_for_a_pod_names_the_pods_node() -> None:
    allowed, reason = authorizer.authorize(
        NODE_A, res("patch", "pods", "web", "default", sub="status"), "edge-b"
    )

    assert not allowed
    assert reason == (
        'node "edge-a" may patch pods/status only for pods bound to it; this pod is bound to node "edge-b"'
    )


def test_a_badly_named_member_of_system_nodes_gets_no_node_rights() -> None:
    allowed, reason = authorizer.authorize(FAKE_NODE, res("get", "pods", "web", "default"))

    assert not allowed
    assert 'is not named "system:node:<node>"' in reason


def test_node_may_read_discovery_and_health() -> None:
    assert authorizer.authorize(NODE_A, path("/apis/apps/v1"))[0]
    assert authorizer.authorize(NODE_A, path("/readyz"))[0]
    assert not authorizer.authorize(NODE_A, path("/metrics"))[0]


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        (path("/api"), True),
        (path("/apis"), True),
        (path("/apis/apps/v1"), True),
        (path("/openapi/v3"), True),
        (path("/version"), True),
        (path("/healthz"), True),
        (path("/livez/ping"), True),
        (path("/version", "head"), True),
        (path("/healthz", "post"), False),
        (path("/apiextras"), False),  # a prefix of a word is not a path below /api
        (path("/metrics"), False),
        (res("get", "pods", "p", "default"), False),
        (res("list", "namespaces"), False),
    ],
)
def test_plain_authenticated_users_get_discovery_and_health_only(
    attrs: RequestAttributes, expected: bool
) -> None:
    assert authorizer.authorize(ALICE, attrs)[0] is expected


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        (path("/healthz"), True),
        (path("/readyz"), True),
        (path("/version"), True),
        (path("/api"), False),
        (path("/apis/apps/v1"), False),
        (res("get", "pods", "p", "default"), False),
    ],
)
def test_anonymous_gets_health_only(attrs: RequestAttributes, expected: bool) -> None:
    assert authorizer.authorize(ANONYMOUS_USER, attrs)[0] is expected


def test_denial_reason_says_who_cannot_do_what_where() -> None:
    allowed, reason = authorizer.authorize(ALICE, res("delete", "deployments", "web", "prod", "apps"))

    assert not allowed
    assert reason == 'no rule allows user "alice" to delete deployments.apps "web" in namespace "prod"'


async def test_authorize_async_looks_up_the_pods_node_only_when_needed() -> None:
    lookups: list[tuple[str, str]] = []

    async def pod_node(namespace: str, name: str) -> str | None:
        lookups.append((namespace, name))
        return {"mine": "edge-a", "theirs": "edge-b"}.get(name)

    authz = Authorizer(pod_node_lookup=pod_node)

    assert (await authz.authorize_async(NODE_A, res("patch", "pods", "mine", "default", sub="status")))[0]
    assert not (await authz.authorize_async(NODE_A, res("patch", "pods", "theirs", "default", sub="status")))[
        0
    ]
    assert not (await authz.authorize_async(NODE_A, res("patch", "pods", "gone", "default", sub="status")))[0]
    assert (await authz.authorize_async(NODE_A, res("get", "pods", "mine", "default")))[0]
    assert (await authz.authorize_async(ADMIN, res("patch", "pods", "x", "default", sub="status")))[0]

    assert lookups == [("default", "mine"), ("default", "theirs"), ("default", "gone")]
