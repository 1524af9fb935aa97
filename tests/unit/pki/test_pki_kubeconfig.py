from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from edgeplane.pki.admin import ensure_admin_kubeconfig
from edgeplane.pki.ca import CertificateAuthority
from edgeplane.pki.kubeconfig import KubeconfigError, load_kubeconfig, write_kubeconfig


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask: the file mode must come from our code, not from the environment."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_cert_kubeconfig_is_private_and_loads_back(
    tmp_path: Path, shared_ca: CertificateAuthority, open_umask: None
) -> None:
    cert_pem, key_pem = shared_ca.issue_client_cert("alice", ["devs"])
    path = tmp_path / "alice.kubeconfig"

    write_kubeconfig(
        path, "https://127.0.0.1:6443", shared_ca.cert_pem, "alice", cert_pem=cert_pem, key_pem=key_pem
    )

    assert _mode(path) == 0o600
    assert load_kubeconfig(path) == {
        "server": "https://127.0.0.1:6443",
        "ca_pem": shared_ca.cert_pem,
        "cert_pem": cert_pem,
        "key_pem": key_pem,
        "token": None,
        "insecure": False,
    }


def test_rewriting_a_world_readable_file_makes_it_private(
    tmp_path: Path, shared_ca: CertificateAuthority
) -> None:
    path = tmp_path / "k.kubeconfig"
    path.write_text("old")
    path.chmod(0o644)

    write_kubeconfig(path, "https://h:1", shared_ca.cert_pem, "bot", token="t0k3n")

    assert _mode(path) == 0o600
    assert load_kubeconfig(path)["token"] == "t0k3n"


def test_the_official_kubernetes_client_reads_it(tmp_path: Path, shared_ca: CertificateAuthority) -> None:
    cert_pem, key_pem = shared_ca.issue_client_cert("alice", [])
    path = tmp_path / "kubeconfig"
    write_kubeconfig(
        path, "https://10.0.0.5:6443", shared_ca.cert_pem, "alice", cert_pem=cert_pem, key_pem=key_pem
    )

    cfg = k8s_client.Configuration()
    k8s_config.load_kube_config(config_file=str(path), client_configuration=cfg)

    assert cfg.host == "https://10.0.0.5:6443"
    assert Path(cfg.ssl_ca_cert).read_bytes() == shared_ca.cert_pem
    assert Path(cfg.cert_file).read_bytes() == cert_pem
    assert Path(cfg.key_file).read_bytes() == key_pem


def test_file_references_resolve_relative_to_the_kubeconfig(
    tmp_path: Path, shared_ca: CertificateAuthority
) -> None:
    (tmp_path / "ca.crt").write_bytes(shared_ca.cert_pem)
    (tmp_path / "token").write_text("from-file\n")
    doc = {
        "clusters": [{"name": "c", "cluster": {"server": "https://x", "certificate-authority": "ca.crt"}}],
        "users": [{"name": "u", "user": {"tokenFile": "token"}}],
        "contexts": [{"name": "a", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "a",
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc))

    loaded = load_kubeconfig(path)

    assert loaded["ca_pem"] == shared_ca.cert_pem
    assert loaded["token"] == "from-file"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("- a list", "expected a mapping at the top level"),
        ("clusters: []\n", "current-context is not set"),
        ("current-context: x\ncontexts: []\n", "no entry named 'x' in contexts"),
        (
            "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
            "clusters: [{name: c, cluster: {}}]\n",
            r"clusters\['c'\].cluster.server is required",
        ),
        (
            "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
            "clusters: [{name: c, cluster: {server: 'https://h', certificate-authority-data: '!!'}}]\n",
            "certificate-authority-data is not valid base64",
        ),
        ("a: [", "not valid YAML"),
    ],
)
def test_broken_kubeconfigs_are_explained(tmp_path: Path, doc: str, message: str) -> None:
    path = tmp_path / "config"
    path.write_text(doc)

    with pytest.raises(KubeconfigError, match=message) as err:
        load_kubeconfig(path)
    assert str(path) in str(err.value)


def test_a_user_needs_credentials(tmp_path: Path, shared_ca: CertificateAuthority) -> None:
    with pytest.raises(KubeconfigError, match="needs a client certificate or a token"):
        write_kubeconfig(tmp_path / "k", "https://h", shared_ca.cert_pem, "nobody")
    assert not (tmp_path / "k").exists()


def test_admin_kubeconfig_is_written_once(tmp_path: Path, shared_ca: CertificateAuthority) -> None:
    path = ensure_admin_kubeconfig(tmp_path, "https://127.0.0.1:6443", shared_ca)
    content = path.read_bytes()

    again = ensure_admin_kubeconfig(tmp_path, "https://127.0.0.1:6443", shared_ca)

    assert again == tmp_path / "admin.kubeconfig"
    assert again.read_bytes() == content
    assert _mode(path) == 0o600
    doc = yaml.safe_load(content)
    cert = x509.load_pem_x509_certificate(
        base64.b64decode(doc["users"][0]["user"]["client-certificate-data"])
    )
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "edgeplane-admin"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    assert shared_ca.issued(cert)


def test_admin_kubeconfig_follows_a_new_server_url(tmp_path: Path, shared_ca: CertificateAuthority) -> None:
    ensure_admin_kubeconfig(tmp_path, "https://127.0.0.1:6443", shared_ca)

    path = ensure_admin_kubeconfig(tmp_path, "https://10.0.0.9:7443", shared_ca)

    assert load_kubeconfig(path)["server"] == "https://10.0.0.9:7443"


def test_admin_kubeconfig_follows_a_new_ca(tmp_path: Path, shared_ca: CertificateAuthority) -> None:
    ensure_admin_kubeconfig(tmp_path, "https://127.0.0.1:6443", CertificateAuthority.generate())

    path = ensure_admin_kubeconfig(tmp_path, "https://127.0.0.1:6443", shared_ca)

    loaded = load_kubeconfig(path)
    assert loaded["ca_pem"] == shared_ca.cert_pem
    assert shared_ca.issued(x509.load_pem_x509_certificate(loaded["cert_pem"]))


def test_admin_kubeconfig_replaces_a_corrupt_file(tmp_path: Path, shared_ca: CertificateAuthority) -> None:
    (tmp_path / "admin.kubeconfig").write_text("garbage: [")

    path = ensure_admin_kubeconfig(tmp_path, "https://127.0.0.1:6443", shared_ca)

    assert load_kubeconfig(path)["server"] == "https://127.0.0.1:6443"
