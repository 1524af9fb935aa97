"""Who is calling (authentication) and may they do this (authorization), as kube-apiserver decides it.

Authentication: a client certificate verified by the TLS layer against the cluster CA (CN is the user,
each O a group), or ``Authorization: Bearer <token>`` checked against a kube-apiserver style static token
file plus tokens added at runtime. Every authenticated user also gets ``system:authenticated``.

Authorization: a small policy table keyed by group. ``system:masters`` may do everything; ``system:nodes``
get the node authorizer's shape (read what a node needs, write only their own Node, Lease and pods'
status); ``system:authenticated`` may read discovery and health; ``system:unauthenticated`` only health.

Decisions about a pod's status need the pod's ``spec.nodeName``, which the request does not carry.
``Authorizer.authorize`` takes it as ``object_node``; ``Authorizer.authorize_async`` fetches it through
the ``pod_node_lookup`` hook, and only when the decision depends on it (a node writing pods).
"""

from __future__ import annotations

import csv
import enum
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.x509.oid import NameOID

from edgeplane.pki.ca import CertificateAuthority

MASTERS = "system:masters"
NODES = "system:nodes"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
NODE_USER_PREFIX = "system:node:"
NODE_LEASE_NAMESPACE = "kube-node-lease"


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple[str, ...]
    uid: str = ""


ANONYMOUS_USER = UserInfo(ANONYMOUS, (UNAUTHENTICATED,))


# Where the authentication middleware leaves the request's user for handlers.
USER: web.RequestKey[UserInfo] = web.RequestKey("user", UserInfo)


class TokenFileError(ValueError):
    """A line of the static token file that cannot be used."""


# -- authentication --------------------------------------------------------------------------------------

_CERT_CACHE_SIZE = 1024


class Authenticator:
    """Maps a request's client certificate or bearer token to a user; None means 401.

    ``client_ca``, when given, re-checks that a presented certificate was issued by the cluster CA and
    is current, so a server whose TLS layer did not verify peers still cannot be fooled.
    ``allow_anonymous`` maps requests with no credentials to ``system:anonymous`` instead of None.
    """

    def __init__(
        self,
        token_file: Path | None,
        *,
        client_ca: CertificateAuthority | None = None,
        allow_anonymous: bool = False,
    ) -> None:
        self._client_ca = client_ca
        self._allow_anonymous = allow_anonymous
        # Keyed by the token's SHA-256, so looking a token up reveals nothing about its characters through
        # timing; the final comparison is constant-time as well.
        self._tokens: dict[bytes, tuple[bytes, UserInfo]] = {}
        self._cert_users: dict[bytes, UserInfo | None] = {}
        if token_file is not None:
            for token, user in read_token_file(token_file):
                self._tokens[_digest(token)] = (token.encode(), user)

    def add_token(self, token: str, user: str, uid: str = "", groups: tuple[str, ...] = ()) -> None:
        if not token or any(c.isspace() for c in token):
            raise ValueError("a token must be non-empty and contain no whitespace")
        if not user:
            raise ValueError("a token needs a user name")
        self._tokens[_digest(token)] = (token.encode(), _with_authenticated(UserInfo(user, groups, uid)))

    def remove_token(self, token: str) -> bool:
        return self._tokens.pop(_digest(token), None) is not None

    def authenticate(self, peercert_der: bytes | None, authorization_header: str | None) -> UserInfo | None:
        if peercert_der:
            user = self._user_from_cert(peercert_der)
            if user is not None:
                return user
        if authorization_header:
            user = self._user_from_bearer(authorization_header)
            if user is not None:
                return user
            return None  # credentials were offered and are wrong: never fall back to anonymous
        if self._allow_anonymous and not peercert_der:
            return ANONYMOUS_USER
        return None

    def _user_from_bearer(self, header: str) -> UserInfo | None:
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        entry = self._tokens.get(_digest(token))
        if entry is None or not hmac.compare_digest(entry[0], token.encode()):
            return None
        return entry[1]

    def _user_from_cert(self, der: bytes) -> UserInfo | None:
        if self._client_ca is not None:
            # Validity depends on the clock, so it is checked on every request, not cached.
            try:
                cert = x509.load_der_x509_certificate(der)
            except ValueError:
                return None
            if not self._client_ca.issued(cert):
                return None
        # Keyed by digest: a thousand edge nodes' certificates (half a kilobyte each) are not kept for it.
        digest = hashlib.sha256(der).digest()
        if digest in self._cert_users:
            return self._cert_users[digest]
        user = _cert_identity(der)
        if len(self._cert_users) >= _CERT_CACHE_SIZE:
            self._cert_users.clear()  # crude bound; identities are cheap to recompute
        self._cert_users[digest] = user
        return user


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _with_authenticated(user: UserInfo) -> UserInfo:
    if AUTHENTICATED in user.groups:
        return user
    return UserInfo(user.name, (*user.groups, AUTHENTICATED), user.uid)


def _cert_identity(der: bytes) -> UserInfo | None:
    try:
        subject = x509.load_der_x509_certificate(der).subject
    except ValueError:
        return None
    names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names or not str(names[0].value):
        return None
    orgs = tuple(str(a.value) for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    return _with_authenticated(UserInfo(str(names[0].value), orgs))


def read_token_file(path: Path) -> list[tuple[str, UserInfo]]:
    """Parse kube-apiserver's ``--token-auth-file``: ``token,user,uid[,"group1,group2"]`` per line.

    Blank lines and lines starting with ``#`` are skipped; errors name the file and line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TokenFileError(f"{path}: cannot read token file: {exc}") from exc
    entries: list[tuple[str, UserInfo]] = []
    seen: set[str] = set()
    for lineno, record in enumerate(csv.reader(text.splitlines(), skipinitialspace=True), start=1):
        if not record or not "".join(record).strip() or record[0].lstrip().startswith("#"):
            continue
        where = f"{path}:{lineno}"
        if len(record) < 3:
            raise TokenFileError(f'{where}: expected token,user,uid[,"groups"], got {len(record)} field(s)')
        token, user, uid = (field.strip() for field in record[:3])
        if not token or any(c.isspace() for c in token):
            raise TokenFileError(f"{where}: token is empty or contains whitespace")
        if not user:
            raise TokenFileError(f"{where}: user name is empty")
        if token in seen:
            raise TokenFileError(f"{where}: token is a duplicate of an earlier line")
        seen.add(token)
        groups = tuple(g.strip() for g in record[3].split(",") if g.strip()) if len(record) > 3 else ()
        entries.append((token, _with_authenticated(UserInfo(user, groups, uid))))
    return entries


# -- authorization ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestAttributes:
    """What a request does, as kube-apiserver's RequestInfo describes it.

    ``verb`` is the Kubernetes verb for resource requests (get, list, watch, create, update, patch,
    delete, deletecollection) and the lower-case HTTP method for non-resource ones. For ``create``,
    the server fills ``name`` from the body's metadata.name: node rules about "its own object" need it.
    """

    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""
    resource_request: bool = True


class Scope(enum.Enum):
    """Which objects a node rule reaches."""

    ANY = "any"
    OWN_NAME = "own"  # the object is named after the node (its Node, its Lease)
    OWN_POD = "bound"  # the pod's spec.nodeName is the node


@dataclass(frozen=True)
class ResourceRule:
    verbs: frozenset[str]
    group: str  # "*" for any
    resources: frozenset[str]  # "pods", "nodes/status"; "*" for any
    namespace: str | None = None  # None: any namespace
    scope: Scope = Scope.ANY

    def matches(self, attrs: RequestAttributes) -> bool:
        if not attrs.resource_request:
            return False
        resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        return (
            ("*" in self.verbs or attrs.verb in self.verbs)
            and self.group in ("*", attrs.group)
            and ("*" in self.resources or resource in self.resources)
            and self.namespace in (None, attrs.namespace)
        )


@dataclass(frozen=True)
class PathRule:
    verbs: frozenset[str]
    paths: tuple[str, ...]  # a path and everything below it; "*" for any

    def matches(self, attrs: RequestAttributes) -> bool:
        if attrs.resource_request or not ("*" in self.verbs or attrs.verb in self.verbs):
            return False
        return any(p == "*" or attrs.path == p or attrs.path.startswith(p + "/") for p in self.paths)


Rule = ResourceRule | PathRule


def _rules(*rows: tuple[str, str, str, str | None, Scope]) -> tuple[ResourceRule, ...]:
    """Rows of (verbs, API group, resources, namespace, scope), space-separated lists, as in a policy table."""
    return tuple(
        ResourceRule(frozenset(verbs.split()), group, frozenset(resources.split()), namespace, scope)
        for verbs, group, resources, namespace, scope in rows
    )


ANY, OWN, BOUND = Scope.ANY, Scope.OWN_NAME, Scope.OWN_POD
HEALTH_PATHS = ("/healthz", "/livez", "/readyz", "/version")
DISCOVERY_PATHS = ("/api", "/apis", "/openapi")
READ_ONLY_METHODS = frozenset({"get", "head"})

# fmt: off
# No secrets: a node receives the Secrets its own pods use through the hub, never by listing them (a node
# that could read every Secret could read the bootstrap tokens and let other machines join).
_CORE_READS = "pods nodes configmaps services namespaces events"
NODE_RULES: tuple[ResourceRule, ...] = _rules(
    # verbs                 API group              resources              namespace             scope
    ("get list watch",      "",                    _CORE_READS,           None,                 ANY),
    ("get list watch",      "coordination.k8s.io", "leases",              None,                 ANY),
    ("get list watch",      "events.k8s.io",       "events",              None,                 ANY),
    ("get list watch",      "devices.kubeedge.io", "devices devicemodels", None,                 ANY),
    ("create update patch", "",                    "nodes nodes/status",  None,                 OWN),
    ("create update patch", "coordination.k8s.io", "leases",              NODE_LEASE_NAMESPACE, OWN),
    ("update patch",        "",                    "pods/status",         None,                 BOUND),
    # the agent confirms a graceful deletion once the pod's processes have stopped, as kubelet does
    ("delete",              "",                    "pods",                None,                 BOUND),
    ("create patch",        "",                    "events",              None,                 ANY),
    ("create patch",        "events.k8s.io",       "events",              None,                 ANY),
)
# fmt: on

POLICY: dict[str, tuple[Rule, ...]] = {
    MASTERS: (ResourceRule(frozenset({"*"}), "*", frozenset({"*"})), PathRule(frozenset({"*"}), ("*",))),
    NODES: NODE_RULES,
    AUTHENTICATED: (PathRule(READ_ONLY_METHODS, HEALTH_PATHS + DISCOVERY_PATHS),),
    UNAUTHENTICATED: (PathRule(READ_ONLY_METHODS, HEALTH_PATHS),),
}

PodNodeLookup = Callable[[str, str], Awaitable[str | None]]
"""(namespace, name) -> the pod's spec.nodeName, or None if the pod does not exist or is unbound."""


class Authorizer:
    """Decides requests from the POLICY table; every decision comes with a reason for logs and 403s."""

    def __init__(self, pod_node_lookup: PodNodeLookup | None = None) -> None:
        self.pod_node_lookup = pod_node_lookup

    def authorize(
        self, user: UserInfo, attrs: RequestAttributes, object_node: str | None = None
    ) -> tuple[bool, str]:
        """``object_node`` is the target pod's spec.nodeName, needed only when a node writes a pod."""
        denial = ""
        for group in user.groups:
            for rule in POLICY.get(group, ()):
                if not rule.matches(attrs):
                    continue
                if group != NODES:
                    return True, f'allowed by the policy for group "{group}"'
                allowed, reason = _node_scope(user, attrs, rule, object_node)
                if allowed:
                    return True, reason
                denial = denial or reason
        return False, denial or _no_rule(user, attrs)

    def needs_object_node(self, user: UserInfo, attrs: RequestAttributes) -> bool:
        """True when the decision depends on the target pod's node (so the caller should look it up)."""
        return NODES in user.groups and any(
            rule.scope is Scope.OWN_POD and rule.matches(attrs) for rule in NODE_RULES
        )

    async def authorize_async(self, user: UserInfo, attrs: RequestAttributes) -> tuple[bool, str]:
        """``authorize``, fetching the pod's node through ``pod_node_lookup`` when the decision needs it."""
        object_node = None
        if self.pod_node_lookup is not None and self.needs_object_node(user, attrs):
            object_node = await self.pod_node_lookup(attrs.namespace, attrs.name)
        return self.authorize(user, attrs, object_node)


def node_name(user: UserInfo) -> str | None:
    """NAME of a ``system:node:NAME`` user in group system:nodes, else None."""
    if NODES not in user.groups or not user.name.startswith(NODE_USER_PREFIX):
        return None
    return user.name[len(NODE_USER_PREFIX) :] or None


def _node_scope(
    user: UserInfo, attrs: RequestAttributes, rule: ResourceRule, object_node: str | None
) -> tuple[bool, str]:
    node = node_name(user)
    what = f"{attrs.verb} {_describe(attrs)}"
    if node is None:
        return False, f'user "{user.name}" is in group {NODES} but is not named "{NODE_USER_PREFIX}<node>"'
    if rule.scope is Scope.OWN_NAME and attrs.name != node:
        target = f'"{attrs.name}"' if attrs.name else "an object whose name is not known"
        return False, f'node "{node}" may {what} only for its own object "{node}", not {target}'
    if rule.scope is Scope.OWN_POD and object_node != node:
        bound = f'bound to node "{object_node}"' if object_node else "not known to be bound to any node"
        return False, f'node "{node}" may {what} only for pods bound to it; this pod is {bound}'
    return True, f'allowed by the node policy for node "{node}"'


def _describe(attrs: RequestAttributes) -> str:
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    return f"{resource}.{attrs.group}" if attrs.group else resource


def _no_rule(user: UserInfo, attrs: RequestAttributes) -> str:
    if attrs.resource_request:
        where = f' in namespace "{attrs.namespace}"' if attrs.namespace else " at cluster scope"
        target = f'{_describe(attrs)} "{attrs.name}"' if attrs.name else _describe(attrs)
        return f'no rule allows user "{user.name}" to {attrs.verb} {target}{where}'
    return f'no rule allows user "{user.name}" to {attrs.verb} path "{attrs.path}"'
