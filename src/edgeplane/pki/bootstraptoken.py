"""Bootstrap tokens as Kubernetes stores them, and the join token an edge node is given.

A bootstrap token is a Secret ``kube-system/bootstrap-token-<id>`` of type ``bootstrap.kubernetes.io/token``
holding ``token-id`` (6 characters of [a-z0-9]), ``token-secret`` (16 of the same), ``expiration``
(RFC 3339) and ``usage-bootstrap-authentication: "true"``. The id is public (it names the Secret); only the
secret part proves the holder may join.

The join token adds the pinning hash of the cluster CA in front, as k3s does:
``K10<sha256 hex of the CA's SubjectPublicKeyInfo>::<id>.<secret>``. The edge checks the CA it downloads
against that hash before it sends the token anywhere, so the token never reaches a server it did not pin.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

TOKEN_NAMESPACE = "kube-system"
SECRET_PREFIX = "bootstrap-token-"
SECRET_TYPE = "bootstrap.kubernetes.io/token"
JOIN_TOKEN_PREFIX = "K10"

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_ID = re.compile(r"[a-z0-9]{6}")
_SECRET = re.compile(r"[a-z0-9]{16}")
_BOOTSTRAP = re.compile(r"([a-z0-9]{6})\.([a-z0-9]{16})")
_JOIN = re.compile(r"K10([0-9a-f]{64})::(.+)")


class TokenError(ValueError):
    """A token or token Secret that is malformed, with what is wrong in it."""


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def format_rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise TokenError(f"expiration {text!r} is not an RFC 3339 time") from exc
    if when.tzinfo is None:
        raise TokenError(f"expiration {text!r} has no time zone")
    return when


@dataclass(frozen=True)
class BootstrapToken:
    """``<id>.<secret>``, with the expiry and description its Secret records."""

    token_id: str
    secret: str
    expiration: datetime | None = None  # None: never expires
    description: str = ""

    @classmethod
    def generate(cls, ttl: timedelta | None, description: str = "", now: datetime | None = None) -> BootstrapToken:
        """A new random token; ``ttl`` None or zero means it never expires (as kubeadm's ``--ttl 0``)."""
        expiration = None
        if ttl:
            expiration = (now or datetime.now(UTC)) + ttl
        return cls(_random(6), _random(16), expiration, description)

    @classmethod
    def parse(cls, text: str) -> BootstrapToken:
        match = _BOOTSTRAP.fullmatch(text.strip())
        if match is None:
            raise TokenError(
                "bootstrap token must be <id>.<secret>: 6 and 16 characters of [a-z0-9] joined by a dot"
            )
        return cls(match.group(1), match.group(2))

    @property
    def secret_name(self) -> str:
        return SECRET_PREFIX + self.token_id

    def __str__(self) -> str:
        return f"{self.token_id}.{self.secret}"

    def expired(self, now: datetime | None = None) -> bool:
        return self.expiration is not None and (now or datetime.now(UTC)) >= self.expiration

    def to_secret(self) -> dict[str, Any]:
        """The Secret that makes this token usable for joining."""
        data = {
            "token-id": self.token_id,
            "token-secret": self.secret,
            "usage-bootstrap-authentication": "true",
            "description": self.description,
        }
        if self.expiration is not None:
            data["expiration"] = format_rfc3339(self.expiration)
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": self.secret_name, "namespace": TOKEN_NAMESPACE},
            "type": SECRET_TYPE,
            "data": {k: base64.b64encode(v.encode()).decode("ascii") for k, v in data.items()},
        }

    @classmethod
    def from_secret(cls, secret: dict[str, Any]) -> BootstrapToken:
        """The token a bootstrap-token Secret holds; TokenError names the Secret and the field at fault."""
        name = (secret.get("metadata") or {}).get("name", "")
        where = f"secret {TOKEN_NAMESPACE}/{name}"
        if secret.get("type") != SECRET_TYPE:
            raise TokenError(f"{where}: type is {secret.get('type')!r}, not {SECRET_TYPE!r}")
        data = _decoded(secret.get("data") or {}, where)
        token_id, token_secret = data.get("token-id", ""), data.get("token-secret", "")
        if not _ID.fullmatch(token_id) or name != SECRET_PREFIX + token_id:
            raise TokenError(f"{where}: data.token-id {token_id!r} must be 6 of [a-z0-9] and match the name")
        if not _SECRET.fullmatch(token_secret):
            raise TokenError(f"{where}: data.token-secret must be 16 characters of [a-z0-9]")
        if data.get("usage-bootstrap-authentication") != "true":
            raise TokenError(f'{where}: data.usage-bootstrap-authentication is not "true"')
        try:
            expiration = parse_rfc3339(data["expiration"]) if data.get("expiration") else None
        except TokenError as exc:
            raise TokenError(f"{where}: data.{exc}") from None
        return cls(token_id, token_secret, expiration, data.get("description", ""))


def _decoded(data: dict[str, Any], where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in data.items():
        try:
            out[key] = base64.b64decode(str(value), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise TokenError(f"{where}: data.{key} is not base64-encoded UTF-8") from exc
    return out


@dataclass(frozen=True)
class JoinToken:
    """What ``edgeplane join --token`` takes: the CA pin and the bootstrap token."""

    ca_hash: str  # "sha256:<hex>", as edgeplane.pki.cahash computes it
    token: BootstrapToken

    @classmethod
    def parse(cls, text: str) -> JoinToken:
        match = _JOIN.fullmatch(text.strip())
        if match is None:
            raise TokenError(
                "join token must look like K10<64 hex digits of the CA hash>::<id>.<secret> "
                "(as printed by `edgeplane token create`)"
            )
        return cls("sha256:" + match.group(1), BootstrapToken.parse(match.group(2)))

    def __str__(self) -> str:
        return f"{JOIN_TOKEN_PREFIX}{self.ca_hash.removeprefix('sha256:')}::{self.token}"
