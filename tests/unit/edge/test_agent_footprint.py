"""The edge agent's start path stays lean: no cryptography, no cloud side, no aiohttp, and a correct
certificate check done with the ssl module alone."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from edgeplane.edge.certcheck import CertificateProblem, check_node_certificate
from edgeplane.pki.ca import CertificateAuthority, new_private_key, private_key_pem
from edgeplane.pki.nodeidentity import load_cert, new_node_csr

# What `edgeplane edge` imports before and while the agent runs, and what it must not (the cloud's API server,
# type registry and schemas, YAML, the stream engine, cryptography, which only joining and rotation use, and
# aiohttp: the edge speaks HTTP and WebSocket through its own wire layer, at a tenth of the memory).
_PROBE = """
import sys
from edgeplane.cli.main import cli
cli.get_command(None, "edge")
import edgeplane.edge.agent, edgeplane.edge.podmanager, edgeplane.edge.nodestatus, edgeplane.edge.metaserver
import edgeplane.edge.runtimes.process, edgeplane.edge.runtimes.podman, edgeplane.edge.streamserver
print(" ".join(sorted(sys.modules)))
"""
_FORBIDDEN = ("cryptography", "yaml", "aiohttp", "edgeplane.api.registry", "edgeplane.api.schema",
              "edgeplane.apiserver.server", "edgeplane.apiserver.handlers", "edgeplane.cloud", "edgeplane.streams",
              "edgeplane.client.rest")

# A certificate rotation the cloud refuses, run the way the agent runs it (EdgeIdentity.rotate): the error
# path too must not load aiohttp into the agent.
_ROTATION_PROBE = """
import asyncio, sys, tempfile
from pathlib import Path
import orjson
from edgeplane.edge.identity import EdgeIdentity, JoinError
from edgeplane.edge.wire.httpserver import HTTPServer, Response
from edgeplane.pki.ca import CertificateAuthority, new_private_key, private_key_pem
from edgeplane.pki.nodeidentity import new_node_csr

async def refuse(request):
    return Response(403, orjson.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 403,
                                       "reason": "Forbidden", "message": "node name is held by another key"}))

async def main():
    ca = CertificateAuthority.generate()
    key = new_private_key()
    cert = ca.sign_csr(new_node_csr(key, "n1"), "system:node:n1", ["system:nodes"], 1)
    server = HTTPServer(refuse)
    await server.start()
    config = {"server": f"http://127.0.0.1:{server.port}", "nodeName": "n1"}
    identity = EdgeIdentity(Path(tempfile.mkdtemp()), config, ca.cert_pem, cert, private_key_pem(key))
    try:
        await identity.rotate()
    except JoinError as exc:
        print(exc)
    await server.stop()

asyncio.run(main())
print("aiohttp loaded" if any(m.split(".")[0] == "aiohttp" for m in sys.modules) else "no aiohttp")
"""


def test_the_edge_command_imports_nothing_of_the_cloud_cryptography_or_aiohttp() -> None:
    loaded = set(subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True,
                                timeout=60).stdout.split())
    leaked = sorted(m for m in loaded if any(m == f or m.startswith(f + ".") for f in _FORBIDDEN))
    assert "edgeplane.edge.agent" in loaded and "edgeplane.edge.wire.websocket" in loaded
    assert leaked == []


def test_a_refused_rotation_does_not_load_aiohttp() -> None:
    out = subprocess.run([sys.executable, "-c", _ROTATION_PROBE], capture_output=True, text=True, check=True,
                         timeout=60).stdout.splitlines()
    assert out == [f"the cloud at {out[0].split()[3]} refused the certificate rotation: "
                   "node name is held by another key", "no aiohttp"]


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.generate()


def _node(ca: CertificateAuthority, lifetime: timedelta = timedelta(days=30)) -> tuple[bytes, bytes]:
    key = new_private_key()
    cert = ca.sign_csr(new_node_csr(key, "n1"), "system:node:n1", ["system:nodes"], 1, lifetime=lifetime)
    return cert, private_key_pem(key)


def test_validity_is_the_certificates_own(ca: CertificateAuthority) -> None:
    cert, key = _node(ca)
    validity = check_node_certificate(ca.cert_pem, cert, key)
    parsed = load_cert(cert)
    assert validity.not_before == parsed.not_valid_before_utc.timestamp()
    assert validity.not_after == parsed.not_valid_after_utc.timestamp()


def test_an_expired_certificate_is_still_the_nodes_identity(ca: CertificateAuthority) -> None:
    cert, key = _node(ca, lifetime=timedelta(seconds=1))
    parsed = load_cert(cert)
    assert parsed.not_valid_after_utc < datetime.now(UTC) + timedelta(seconds=2)
    time.sleep(1.1)
    validity = check_node_certificate(ca.cert_pem, cert, key)
    assert validity.not_after < datetime.now(UTC).timestamp()


def _forged(cert_pem: bytes) -> bytes:
    """The certificate with one bit of its signature flipped."""
    der = bytearray(ssl.PEM_cert_to_DER_cert(cert_pem.decode()))
    der[-1] ^= 1
    return ssl.DER_cert_to_PEM_cert(bytes(der)).encode()


@pytest.mark.parametrize(("mangle", "part"), [
    (lambda ca, cert, key: (CertificateAuthority.generate().cert_pem, cert, key), "issuer"),
    (lambda ca, cert, key: (ca.cert_pem, cert, private_key_pem(new_private_key())), "pair"),
    (lambda ca, cert, key: (ca.cert_pem, b"junk", key), "certificate"),
    (lambda ca, cert, key: (ca.cert_pem, cert, b"junk"), "key"),
    (lambda ca, cert, key: (b"junk", cert, key), "ca"),
    (lambda ca, cert, key: (ca.cert_pem, _forged(cert), key), "issuer"),
])
def test_problems_name_the_culprit(ca: CertificateAuthority, mangle, part: str) -> None:
    cert, key = _node(ca)
    with pytest.raises(CertificateProblem) as info:
        check_node_certificate(*mangle(ca, cert, key))
    assert info.value.part == part
