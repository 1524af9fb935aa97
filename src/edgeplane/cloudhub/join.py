"""The cloud's side of joining edge nodes: CA discovery, join with a bootstrap token, certificate rotation.

``GET /edgeplane/v1/cacerts`` (no credentials) returns the cluster CA; the edge checks it against the hash
in its join token before trusting anything else. ``POST /edgeplane/v1/join`` (``Authorization: Bearer
<id>.<secret>``, no client certificate) takes ``{"nodeName", "csr"}`` and returns ``{"certificate", "ca"}``:
a client certificate for ``system:node:<name>`` in ``system:nodes``. ``POST /edgeplane/v1/rotate``,
authenticated by the node's current client certificate, takes ``{"csr"}`` and returns the same shape.
Errors are Kubernetes Status objects.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from datetime import timedelta
from typing import Any

import orjson
from aiohttp import web
from cryptography import x509

from edgeplane.api import errors
from edgeplane.api.names import dns1123_subdomain
from edgeplane.apiserver.auth import USER
from edgeplane.apiserver.auth import node_name as node_of_user
from edgeplane.apiserver.server import APIServer
from edgeplane.client.interface import Client
from edgeplane.cloudhub.nodekeys import MAX_NODE_NAME, NameHeldError, NodeKeyRecords
from edgeplane.pki.bootstraptoken import TOKEN_NAMESPACE, BootstrapToken, TokenError, format_rfc3339
from edgeplane.pki.ca import CertificateAuthority, PKIError
from edgeplane.pki.nodeidentity import NODES_GROUP, cert_key_sha256, csr_key_sha256, node_user

log = logging.getLogger(__name__)

CACERTS_PATH = "/edgeplane/v1/cacerts"
JOIN_PATH = "/edgeplane/v1/join"
ROTATE_PATH = "/edgeplane/v1/rotate"
# Reachable without credentials: the join endpoint checks its bootstrap token itself.
PUBLIC_PATHS = (CACERTS_PATH, JOIN_PATH)
DEFAULT_NODE_CERT_LIFETIME = timedelta(days=365)
_MAX_BODY = 64 * 1024

_INVALID_TOKEN = "bootstrap token is not valid: unknown token id or wrong secret"


class JoinService:
    def __init__(
        self,
        client: Client,
        ca: CertificateAuthority,
        node_cert_lifetime: timedelta = DEFAULT_NODE_CERT_LIFETIME,
    ) -> None:
        self.client = client
        self.ca = ca
        self.node_cert_lifetime = node_cert_lifetime
        self.records = NodeKeyRecords(client)

    def install(self, api: APIServer) -> None:
        """Serve the endpoints on the API server's port (call before ``api.make_app()``)."""
        api.extra_routes += [
            ("GET", CACERTS_PATH, self.cacerts),
            ("POST", JOIN_PATH, self.join),
            ("POST", ROTATE_PATH, self.rotate),
        ]
        api.public_paths.update(PUBLIC_PATHS)

    # -- handlers ---------------------------------------------------------------------------------------

    async def cacerts(self, request: web.Request) -> web.Response:
        return web.Response(body=self.ca.cert_pem, content_type="application/x-pem-file")

    async def join(self, request: web.Request) -> web.Response:
        token = await self._verify_token(request.headers.get("Authorization", ""))
        body = await _json_body(request)
        name = _node_name_field(body)
        csr_pem = _csr_field(body)
        key_sha = _csr_key(csr_pem)
        cert = await self._sign(csr_pem, name)  # first, so a bad CSR claims nothing
        try:
            await self.records.claim(name, key_sha)
        except NameHeldError as exc:
            raise errors.APIError(409, "AlreadyExists", str(exc), name=name, kind="nodes") from None
        log.info("node %s joined with bootstrap token %s (key sha256:%s)", name, token.token_id, key_sha[:16])
        return _issued(cert, self.ca.cert_pem)

    async def rotate(self, request: web.Request) -> web.Response:
        name = node_of_user(request[USER])
        current = _peer_certificate(request)
        if name is None or current is None:
            raise errors.APIError(
                403, "Forbidden",
                f"certificate rotation needs a node client certificate (CN {node_user('<name>')}, O {NODES_GROUP})",
            )
        body = await _json_body(request)
        if body.get("nodeName", name) != name:
            raise errors.APIError(
                403, "Forbidden", f'node "{name}" may rotate only its own certificate, not "{body["nodeName"]}"'
            )
        csr_pem = _csr_field(body)
        new_key = _csr_key(csr_pem)
        cert = await self._sign(csr_pem, name)
        holder = await self.records.recorded_key(name)
        if holder is not None and holder != cert_key_sha256(current):
            raise errors.APIError(
                403, "Forbidden",
                f'node name "{name}" is now held by another key: this certificate may no longer be renewed; '
                "join again with a new bootstrap token",
            )
        if new_key != holder:
            try:
                await self.records.claim(name, new_key)
            except NameHeldError as exc:
                raise errors.APIError(403, "Forbidden", str(exc)) from None
        log.info("rotated the certificate of node %s", name)
        return _issued(cert, self.ca.cert_pem)

    # -- helpers ----------------------------------------------------------------------------------------

    async def _verify_token(self, header: str) -> BootstrapToken:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise _unauthorized("joining needs a bootstrap token: send Authorization: Bearer <id>.<secret>")
        try:
            offered = BootstrapToken.parse(value)
        except TokenError as exc:
            raise _unauthorized(str(exc)) from None
        try:
            secret = await self.client.get("v1", "secrets", offered.secret_name, TOKEN_NAMESPACE)
        except errors.APIError as exc:
            if exc.code == 404:
                raise _unauthorized(_INVALID_TOKEN) from None
            raise
        try:
            stored = BootstrapToken.from_secret(secret)
        except TokenError as exc:
            log.warning("refusing a join: %s", exc)
            raise _unauthorized(_INVALID_TOKEN) from None
        if not hmac.compare_digest(stored.secret.encode(), offered.secret.encode()):
            raise _unauthorized(_INVALID_TOKEN)
        # Told only to whoever holds the secret, so it reveals nothing to a guesser.
        if stored.expiration is not None and stored.expired():
            raise _unauthorized(
                f"bootstrap token {stored.token_id} expired at {format_rfc3339(stored.expiration)}: "
                "create a new one with `edgeplane token create`"
            )
        return stored

    async def _sign(self, csr_pem: bytes, name: str) -> bytes:
        try:
            return await asyncio.to_thread(
                self.ca.sign_csr, csr_pem, node_user(name), [NODES_GROUP], 1, lifetime=self.node_cert_lifetime
            )
        except PKIError as exc:
            raise _bad_field("csr", str(exc)) from None


def _unauthorized(message: str) -> errors.APIError:
    return errors.APIError(401, "Unauthorized", message)


def _bad_field(field: str, detail: str) -> errors.APIError:
    return errors.bad_request(f"{field}: {detail}", [errors.invalid(field, "", detail)])


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > _MAX_BODY:
        raise errors.too_large(f"the request body is too large: the limit is {_MAX_BODY // 1024} KiB")
    raw = await request.read()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise errors.bad_request("the request body must be a JSON object")
    return body


def _node_name_field(body: dict[str, Any]) -> str:
    name = body.get("nodeName")
    if not isinstance(name, str) or not name:
        raise errors.bad_request("nodeName: Required value", [errors.required("nodeName")])
    problems = dns1123_subdomain(name)
    if len(name) > MAX_NODE_NAME:
        problems.append(f"must be no more than {MAX_NODE_NAME} characters")
    if problems:
        raise _bad_field("nodeName", f"Invalid value: {name!r}: {'; '.join(problems)}")
    return name


def _csr_field(body: dict[str, Any]) -> bytes:
    csr = body.get("csr")
    if not isinstance(csr, str) or not csr.strip():
        raise errors.bad_request("csr: Required value: a PEM certificate signing request", [errors.required("csr")])
    return csr.encode()


def _csr_key(csr_pem: bytes) -> str:
    try:
        return csr_key_sha256(csr_pem)
    except PKIError as exc:
        raise _bad_field("csr", str(exc)) from None


def _peer_certificate(request: web.Request) -> x509.Certificate | None:
    ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    return x509.load_der_x509_certificate(der) if der else None


def _issued(cert_pem: bytes, ca_pem: bytes) -> web.Response:
    body = {"certificate": cert_pem.decode("ascii"), "ca": ca_pem.decode("ascii")}
    return web.Response(body=orjson.dumps(body), content_type="application/json")
