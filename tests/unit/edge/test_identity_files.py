"""The identity kept in an edge data directory: loading it, checking it, and when it is due for rotation."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from edgeplane.edge import identity as identity_mod
from edgeplane.edge.identity import EdgeIdentity, IdentityError
from edgeplane.pki.ca import CertificateAuthority, new_private_key, private_key_pem
from edgeplane.pki.nodeidentity import new_node_csr


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.generate()


def _files(ca: CertificateAuthority, name: str = "n1", lifetime: timedelta = timedelta(days=365)) -> dict:
    key = new_private_key()
    cert = ca.sign_csr(new_node_csr(key, name), f"system:node:{name}", ["system:nodes"], 1, lifetime=lifetime)
    config = {"server": "https://cloud:6443", "nodeName": name, "runtime": "process", "labels": {}, "nodepool": ""}
    return {
        "pki/ca.crt": (ca.cert_pem, 0o644),
        "pki/node.key": (private_key_pem(key), 0o600),
        "pki/node.crt": (cert, 0o644),
        "node.json": (orjson.dumps(config), 0o644),
    }


def test_install_into_a_new_directory_then_load(ca: CertificateAuthority, tmp_path: Path) -> None:
    data = tmp_path / "deep" / "edge"
    identity_mod._install(data, _files(ca))
    loaded = EdgeIdentity.load(data)
    assert (loaded.node_name, loaded.server) == ("n1", "https://cloud:6443")
    assert (data.stat().st_mode & 0o777) == 0o700
    assert sorted(p.name for p in data.parent.iterdir()) == ["edge"]  # the staging directory was renamed
    context = loaded.ssl_context()
    assert context.verify_mode.name == "CERT_REQUIRED"


def test_install_failure_leaves_nothing(ca: CertificateAuthority, tmp_path: Path) -> None:
    files = _files(ca)
    files["pki/bad\0name"] = (b"x", 0o644)  # a file that cannot be written
    with pytest.raises(ValueError):
        identity_mod._install(tmp_path / "edge", files)
    assert list(tmp_path.iterdir()) == []


def test_node_json_is_written_last_into_an_existing_directory(ca: CertificateAuthority, tmp_path: Path) -> None:
    data = tmp_path / "edge"
    data.mkdir()
    files = _files(ca)
    files["pki/bad\0name"] = (b"x", 0o644)
    with pytest.raises(ValueError):
        identity_mod._install(data, files)
    assert list(data.iterdir()) == []  # staged inside, removed on failure; nothing counts as joined


@pytest.mark.parametrize(("damage", "match"), [
    (lambda d: (d / "node.json").unlink(), "holds no edge node identity .*`edgeplane join"),
    (lambda d: (d / "node.json").write_text("{"), "node.json: unreadable"),
    (lambda d: (d / "node.json").write_text('{"server": "https://x"}'), "nodeName is missing"),
    (lambda d: (d / "pki" / "node.crt").unlink(), "identity file unreadable"),
    (lambda d: (d / "pki" / "node.crt").write_text("junk"), "node.crt is not a PEM certificate"),
    (lambda d: (d / "pki" / "node.key").write_bytes(private_key_pem(new_private_key())),
     "node.key does not belong to"),
    (lambda d: (d / "pki" / "ca.crt").write_bytes(CertificateAuthority.generate().cert_pem),
     "node.crt was not issued by"),
])
def test_broken_identities_name_the_file(ca: CertificateAuthority, tmp_path: Path, damage, match: str) -> None:
    data = tmp_path / "edge"
    identity_mod._install(data, _files(ca))
    damage(data)
    with pytest.raises(IdentityError, match=match):
        EdgeIdentity.load(data)


def test_rotation_is_due_in_the_last_third(ca: CertificateAuthority, tmp_path: Path) -> None:
    identity_mod._install(tmp_path / "edge", _files(ca, lifetime=timedelta(days=300)))
    identity = EdgeIdentity.load(tmp_path / "edge")
    cert = identity.certificate
    span = cert.not_valid_after_utc - cert.not_valid_before_utc
    due = cert.not_valid_after_utc - span / 3
    assert not identity.needs_rotation(due - timedelta(minutes=1))
    assert identity.needs_rotation(due + timedelta(minutes=1))
    assert identity.seconds_until_rotation(due - timedelta(seconds=90)) == pytest.approx(90, abs=1)
    assert identity.seconds_until_rotation(due + timedelta(days=1)) == 0
