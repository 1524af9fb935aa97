"""Bootstrap tokens and join tokens: the formats users paste, and the Secrets the cloud keeps."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from edgeplane.pki.bootstraptoken import SECRET_TYPE, BootstrapToken, JoinToken, TokenError

HASH = "sha256:" + "ab" * 32


def test_generated_token_round_trips_through_its_secret() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    token = BootstrapToken.generate(timedelta(hours=24), "rack 7", now=now)
    secret = token.to_secret()
    assert secret["metadata"] == {"name": f"bootstrap-token-{token.token_id}", "namespace": "kube-system"}
    assert secret["type"] == SECRET_TYPE
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["expiration"] == "2030-01-02T00:00:00Z"
    assert data["usage-bootstrap-authentication"] == "true"
    assert BootstrapToken.from_secret(secret) == token
    assert BootstrapToken.parse(str(token)).secret == token.secret


def test_generated_tokens_differ_and_follow_the_format() -> None:
    tokens = {str(BootstrapToken.generate(None)) for _ in range(50)}
    assert len(tokens) == 50
    assert all(BootstrapToken.parse(t) for t in tokens)


def test_expiry() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    token = BootstrapToken.generate(timedelta(minutes=5), now=now)
    assert not token.expired(now + timedelta(minutes=4))
    assert token.expired(now + timedelta(minutes=5))
    forever = BootstrapToken.generate(None)
    assert forever.expiration is None and not forever.expired(now + timedelta(days=10_000))
    assert "expiration" not in forever.to_secret()["data"]


def test_join_token_carries_the_ca_hash() -> None:
    token = BootstrapToken("abcdef", "0123456789abcdef")
    text = str(JoinToken(HASH, token))
    assert text == "K10" + "ab" * 32 + "::abcdef.0123456789abcdef"
    assert JoinToken.parse(f"  {text}\n") == JoinToken(HASH, token)


@pytest.mark.parametrize("text", [
    "abcdef.0123456789abcdef",  # no CA hash: nothing to pin
    "K10" + "ab" * 31 + "::abcdef.0123456789abcdef",  # short hash
    "K10" + "AB" * 32 + "::abcdef.0123456789abcdef",  # hash not lower-case hex
    "K10" + "ab" * 32 + "::abcde.0123456789abcdef",  # id too short
    "K10" + "ab" * 32 + "::abcdef.0123456789ABCDEF",  # secret upper-case
    "K10" + "ab" * 32 + "::abcdef0123456789abcdef",  # no dot
])
def test_malformed_join_tokens_are_rejected(text: str) -> None:
    with pytest.raises(TokenError, match="must"):
        JoinToken.parse(text)


def _secret(**data: str) -> dict:
    base = {"token-id": "abcdef", "token-secret": "0123456789abcdef", "usage-bootstrap-authentication": "true"}
    base.update(data)
    return {"metadata": {"name": "bootstrap-token-abcdef"}, "type": SECRET_TYPE,
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in base.items()}}


@pytest.mark.parametrize(("secret", "match"), [
    ({**_secret(), "type": "Opaque"}, "type is 'Opaque'"),
    (_secret(**{"token-id": "zzzzzz"}), "token-id 'zzzzzz' must .* match the name"),
    (_secret(**{"token-secret": "short"}), "token-secret must be 16"),
    (_secret(**{"usage-bootstrap-authentication": "false"}), "usage-bootstrap-authentication"),
    (_secret(expiration="tomorrow"), "expiration 'tomorrow' is not an RFC 3339 time"),
    ({**_secret(), "data": {"token-id": "!!!"}}, "data.token-id is not base64"),
])
def test_broken_token_secrets_name_the_field(secret: dict, match: str) -> None:
    with pytest.raises(TokenError, match=match) as err:
        BootstrapToken.from_secret(secret)
    assert "kube-system/bootstrap-token-abcdef" in str(err.value)
