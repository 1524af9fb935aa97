from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from edgeplane.apiserver.auth import ANONYMOUS_USER, Authenticator, TokenFileError, UserInfo, read_token_file
from edgeplane.pki.ca import CertificateAuthority


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.generate()


def _der(cert_pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)


def _token_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tokens.csv"
    path.write_text(text)
    return path


def test_token_file_in_kube_apiserver_format(tmp_path: Path) -> None:
    path = _token_file(
        tmp_path,
        '# comment\n\nabc123,alice,uid-1,"devs,ops"\n  def456 , bob , uid-2\nghi789,carol,,system:masters\n',
    )
    auth = Authenticator(path)

    assert auth.authenticate(None, "Bearer abc123") == UserInfo(
        "alice", ("devs", "ops", "system:authenticated"), "uid-1"
    )
    assert auth.authenticate(None, "bearer def456") == UserInfo("bob", ("system:authenticated",), "uid-2")
    assert auth.authenticate(None, "Bearer   ghi789  ") == UserInfo(
        "carol", ("system:masters", "system:authenticated"), ""
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("abc,alice", r"tokens\.csv:2: expected token,user,uid"),
        ("abc,,uid", r"tokens\.csv:2: user name is empty"),
        ('"a b",alice,uid', r"tokens\.csv:2: token is empty or contains whitespace"),
        ("tok,alice,1", r"tokens\.csv:2: token is a duplicate of an earlier line"),
    ],
)
def test_token_file_errors_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = _token_file(tmp_path, f"tok,root,0\n{line}\n")

    with pytest.raises(TokenFileError, match=message):
        read_token_file(path)


def test_missing_token_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(TokenFileError, match=r"nope\.csv: cannot read token file"):
        Authenticator(tmp_path / "nope.csv")


@pytest.mark.parametrize(
    "header", ["Bearer wrong", "Bearer", "Basic YWxpY2U6cHc=", "abc123", "Bearer abc1234", "Bearer abc12"]
)
def test_wrong_or_malformed_bearer_is_unauthenticated(tmp_path: Path, header: str) -> None:
    auth = Authenticator(_token_file(tmp_path, "abc123,alice,1\n"), allow_anonymous=True)

    assert auth.authenticate(None, header) is None  # offered credentials never fall back to anonymous


def test_runtime_tokens_can_be_added_and_removed() -> None:
    auth = Authenticator(None)
    auth.add_token("bootstrap-xyz", "system:bootstrap:xyz", groups=("system:bootstrappers",))

    assert auth.authenticate(None, "Bearer bootstrap-xyz") == UserInfo(
        "system:bootstrap:xyz", ("system:bootstrappers", "system:authenticated")
    )
    assert auth.remove_token("bootstrap-xyz") is True
    assert auth.authenticate(None, "Bearer bootstrap-xyz") is None
    assert auth.remove_token("bootstrap-xyz") is False


@pytest.mark.parametrize(("token", "user"), [("", "u"), ("has space", "u"), ("ok", "")])
def test_add_token_rejects_bad_input(token: str, user: str) -> None:
    with pytest.raises(ValueError, match="token"):
        Authenticator(None).add_token(token, user)


def test_client_certificate_maps_cn_to_user_and_o_to_groups(ca: CertificateAuthority) -> None:
    cert_pem, _ = ca.issue_client_cert("system:node:edge-1", ["system:nodes"])

    user = Authenticator(None).authenticate(_der(cert_pem), None)

    assert user == UserInfo("system:node:edge-1", ("system:nodes", "system:authenticated"))


def test_client_certificate_wins_over_a_token(ca: CertificateAuthority) -> None:
    auth = Authenticator(None)
    auth.add_token("t", "robot")
    cert_pem, _ = ca.issue_client_cert("alice", [])

    assert auth.authenticate(_der(cert_pem), "Bearer t") == UserInfo("alice", ("system:authenticated",))


def test_client_ca_rechecks_the_issuer(ca: CertificateAuthority) -> None:
    auth = Authenticator(None, client_ca=ca)
    foreign_pem, _ = CertificateAuthority.generate().issue_client_cert("edgeplane-admin", ["system:masters"])
    own_pem, _ = ca.issue_client_cert("edgeplane-admin", ["system:masters"])

    assert auth.authenticate(_der(foreign_pem), None) is None
    assert auth.authenticate(_der(own_pem), None) is not None


def test_garbage_certificate_bytes_are_unauthenticated() -> None:
    assert Authenticator(None).authenticate(b"\x30\x03garbage", None) is None


def test_no_credentials_is_refused_unless_anonymous_is_allowed() -> None:
    assert Authenticator(None).authenticate(None, None) is None
    anonymous = Authenticator(None, allow_anonymous=True).authenticate(None, None)
    assert anonymous == ANONYMOUS_USER == UserInfo("system:anonymous", ("system:unauthenticated",))
