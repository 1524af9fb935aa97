"""An edge node's identity: joining a cloud with a token, and the credentials kept in the data directory.

Files (DATA is the edge data directory):
  DATA/pki/ca.crt    the cloud's CA, pinned at join by the hash the join token carries
  DATA/pki/node.key  the node's private key (0600); made here, never sent anywhere
  DATA/pki/node.crt  the node's client certificate (CN system:node:<name>, O system:nodes)
  DATA/node.json     {"server", "nodeName", "runtime", "labels", "nodepool"}

Joining fetches the CA without verifying the server (there is nothing to verify it with yet), accepts it
only if its hash equals the token's, and from then on talks TLS trusting that CA alone, so the bootstrap
token is only ever sent to the cloud it was made for. Nothing is written until the cloud has issued the
certificate; then everything lands at once, so a failed join leaves nothing behind.

Rotation keeps the key and asks the cloud for a new certificate (authenticated by the current one) when
less than a third of the current certificate's lifetime is left.

The running agent checks its files and schedules rotation with the ``ssl`` module alone (``certcheck.py``);
``cryptography`` (keys, CSRs, checking what the cloud issued, in ``credentials.py``) is imported only to
join or rotate, which keeps it out of the agent's resident memory.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import ssl
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from edgeplane.api.names import dns1123_subdomain
from edgeplane.edge.certcheck import CertificateProblem, Validity, check_node_certificate
from edgeplane.edge.wire import httpclient
from edgeplane.edge.wire.errors import WireError, body_message
from edgeplane.pki.bootstraptoken import JoinToken, TokenError
from edgeplane.pki.files import PRIVATE, PUBLIC, ensure_private_dir, write_atomic
from edgeplane.pki.tls import client_ssl_context

if TYPE_CHECKING:
    from cryptography import x509

    from edgeplane.pki.ca import PrivateKey

log = logging.getLogger(__name__)

CACERTS_PATH = "/edgeplane/v1/cacerts"
JOIN_PATH = "/edgeplane/v1/join"
ROTATE_PATH = "/edgeplane/v1/rotate"

NODE_CONFIG = "node.json"
PKI_DIR = "pki"
CA_FILE = "pki/ca.crt"
KEY_FILE = "pki/node.key"
CERT_FILE = "pki/node.crt"

RUNTIMES = ("process", "podman")
# Rotate when less than this fraction of the certificate's lifetime is left.
ROTATE_AT = 1 / 3
REQUEST_TIMEOUT = 15.0
MAX_ROTATION_CHECK = 3600.0


class JoinError(Exception):
    """Joining (or rotating) failed; the message says why and what to do."""


class IdentityError(Exception):
    """The data directory holds no usable identity."""


@dataclass
class JoinOptions:
    server: str
    token: str
    data_dir: Path
    node_name: str = ""  # default: this machine's host name
    runtime: str = "process"
    labels: dict[str, str] = field(default_factory=dict)
    nodepool: str = ""


# -- the identity held in the data directory --------------------------------------------------------------


class EdgeIdentity:
    def __init__(self, data_dir: Path, config: dict[str, Any], ca_pem: bytes, cert_pem: bytes, key_pem: bytes) -> None:
        self.data_dir = data_dir
        self.config = config
        self.ca_pem = ca_pem
        self.cert_pem = cert_pem
        self.key_pem = key_pem
        self._validity: tuple[bytes, Validity] | None = None

    @property
    def server(self) -> str:
        return str(self.config["server"])

    @property
    def node_name(self) -> str:
        return str(self.config["nodeName"])

    @property
    def certificate(self) -> x509.Certificate:
        from edgeplane.pki.nodeidentity import load_cert

        return load_cert(self.cert_pem, str(self.data_dir / CERT_FILE))

    @property
    def ca_hash(self) -> str:
        from edgeplane.pki.cahash import ca_cert_hash

        return ca_cert_hash(self.ca_pem)

    @property
    def validity(self) -> Validity:
        """The current certificate's validity (checked against the key and the CA)."""
        if self._validity is None or self._validity[0] is not self.cert_pem:
            self._validity = (self.cert_pem, self._check())
        return self._validity[1]

    def _check(self) -> Validity:
        where = {"ca": f"{self.data_dir / CA_FILE} is", "certificate": f"{self.data_dir / CERT_FILE} is",
                 "key": f"{self.data_dir / KEY_FILE} is"}
        try:
            return check_node_certificate(self.ca_pem, self.cert_pem, self.key_pem)
        except CertificateProblem as exc:
            if exc.part == "pair":
                raise IdentityError(f"{self.data_dir / KEY_FILE} does not belong to {self.data_dir / CERT_FILE}") \
                    from None
            if exc.part == "issuer":
                raise IdentityError(f"{self.data_dir / CERT_FILE} was not issued by {self.data_dir / CA_FILE}: "
                                    f"{exc}") from None
            raise IdentityError(f"{where[exc.part]} {exc}") from None

    @classmethod
    def load(cls, data_dir: Path) -> EdgeIdentity:
        """The identity in ``data_dir``; IdentityError naming the missing or broken file."""
        config_file = data_dir / NODE_CONFIG
        if not config_file.exists():
            raise IdentityError(
                f"{data_dir} holds no edge node identity ({config_file} is missing): "
                "join a cloud first with `edgeplane join --server URL --token TOKEN`"
            )
        config = _read_config(config_file)
        try:
            ca_pem, cert_pem, key_pem = (
                (data_dir / name).read_bytes() for name in (CA_FILE, CERT_FILE, KEY_FILE)
            )
        except OSError as exc:
            raise IdentityError(f"{data_dir}: identity file unreadable: {exc}") from exc
        identity = cls(data_dir, config, ca_pem, cert_pem, key_pem)
        identity.validity  # noqa: B018 - checks the files now, so a broken identity stops the start
        return identity

    def ssl_context(self) -> ssl.SSLContext:
        """Client TLS presenting the node certificate and trusting only the pinned CA."""
        return client_ssl_context(self.ca_pem, self.cert_pem, self.key_pem)

    def needs_rotation(self, now: datetime | None = None) -> bool:
        return self.seconds_until_rotation(now) <= 0

    def seconds_until_rotation(self, now: datetime | None = None) -> float:
        """When the certificate enters its last third (0 if it already has)."""
        validity = self.validity
        due = validity.not_after - (validity.not_after - validity.not_before) * ROTATE_AT
        return max(0.0, due - (now or datetime.now(UTC)).timestamp())

    async def ensure_fresh(self) -> bool:
        """Rotate the certificate if less than a third of its lifetime is left; True if it was rotated.

        JoinError if the cloud refused (for example: the name is now held by another key) or cannot be
        reached; the current certificate stays in place either way.
        """
        if not self.needs_rotation():
            return False
        await self.rotate()
        return True

    async def rotate(self) -> None:
        """A new certificate for the same key, from the cloud's rotation endpoint."""
        from edgeplane.edge import credentials

        key = credentials.load_key(self.key_pem, self.data_dir / KEY_FILE)
        csr = credentials.new_node_csr(key, self.node_name)
        answer = await _post(
            self.server, ROTATE_PATH, {"nodeName": self.node_name, "csr": csr.decode("ascii")},
            self.ssl_context(), what="certificate rotation",
        )
        cert_pem = credentials.checked_certificate(answer, self.ca_pem, key, self.node_name)
        await asyncio.to_thread(write_atomic, self.data_dir / CERT_FILE, cert_pem, PUBLIC)
        self.cert_pem = cert_pem
        log.info("rotated the node certificate; valid until %s",
                 datetime.fromtimestamp(self.validity.not_after, UTC).isoformat())

    async def keep_fresh(self, retry_after: float = 60.0) -> None:
        """Rotate whenever due, for as long as it runs; failures (e.g. offline) are retried later."""
        while True:
            await asyncio.sleep(min(MAX_ROTATION_CHECK, max(1.0, self.seconds_until_rotation())))
            try:
                await self.ensure_fresh()
            except JoinError as exc:
                log.warning("certificate rotation failed, retrying in %.0fs: %s", retry_after, exc)
                await asyncio.sleep(retry_after)


# -- joining ---------------------------------------------------------------------------------------------


def default_node_name() -> str:
    return socket.gethostname().split(".")[0].lower()


async def join(options: JoinOptions) -> EdgeIdentity:
    """Join the cloud at ``options.server`` and write the identity into ``options.data_dir``.

    Joining the same cloud again under the same name (same data directory) reuses the key, so the cloud
    recognises the node; a data directory joined to another cloud, or under another name, is refused.
    """
    server = _server_url(options.server)
    try:
        token = JoinToken.parse(options.token)
    except TokenError as exc:
        raise JoinError(f"--token: {exc}") from None
    name = options.node_name or default_node_name()
    problems = dns1123_subdomain(name)
    if problems:
        raise JoinError(f"node name {name!r} is not valid: {'; '.join(problems)} (set one with --node-name)")
    if options.nodepool and (pool_problems := dns1123_subdomain(options.nodepool)):
        raise JoinError(f"nodepool {options.nodepool!r} is not valid: {'; '.join(pool_problems)}")
    if options.runtime not in RUNTIMES:
        raise JoinError(f"runtime {options.runtime!r} is not one of {', '.join(RUNTIMES)}")

    from edgeplane.edge import credentials

    key = _key_for_rejoin(options.data_dir, token, name) or credentials.new_private_key()
    ca_pem = await fetch_pinned_ca(server, token.ca_hash)
    answer = await _post(
        server, JOIN_PATH, {"nodeName": name, "csr": credentials.new_node_csr(key, name).decode("ascii")},
        client_ssl_context(ca_pem), what="join", bearer=str(token.token),
    )
    if answer.get("ca", "").encode() not in (ca_pem, b""):
        raise JoinError(f"the cloud at {server} answered the join with a CA other than the one it served")
    cert_pem = credentials.checked_certificate(answer, ca_pem, key, name)
    config = {"server": server, "nodeName": name, "runtime": options.runtime,
              "labels": dict(options.labels), "nodepool": options.nodepool}
    files = {
        CA_FILE: (ca_pem, PUBLIC),
        KEY_FILE: (credentials.private_key_pem(key), PRIVATE),
        CERT_FILE: (cert_pem, PUBLIC),
        NODE_CONFIG: (orjson.dumps(config, option=orjson.OPT_INDENT_2) + b"\n", PUBLIC),
    }
    await asyncio.to_thread(_install, options.data_dir, files)
    log.info("joined %s as node %s", server, name)
    return EdgeIdentity(options.data_dir, config, ca_pem, cert_pem, credentials.private_key_pem(key))


async def fetch_pinned_ca(server: str, ca_hash: str) -> bytes:
    """The server's CA, fetched without verification and accepted only if its hash is ``ca_hash``."""
    from edgeplane.pki.cahash import check_ca_hash

    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE  # nothing to verify with yet: the hash check below decides
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT):
            resp = await httpclient.request("GET", server + CACERTS_PATH, ssl_context=unverified)
    except (WireError, TimeoutError, OSError) as exc:
        raise JoinError(f"cannot reach the cloud at {server}: {_reason(exc)}") from None
    if resp.status != 200:
        raise JoinError(f"{server} did not serve its CA ({CACERTS_PATH} answered HTTP {resp.status}): "
                        "is this an edgeplane cloud?")
    body = resp.body
    try:
        check_ca_hash(body, ca_hash)
    except ValueError as exc:
        raise JoinError(
            f"the CA of {server} does not match the join token ({exc}): the token was made by a "
            "different cloud, or something between this node and the cloud is intercepting the connection"
        ) from None
    return body


def _key_for_rejoin(data_dir: Path, token: JoinToken, name: str) -> PrivateKey | None:
    """The existing key when ``data_dir`` is already joined to this cloud under ``name``; None if not joined."""
    if not (data_dir / NODE_CONFIG).exists():
        return None
    try:
        current = EdgeIdentity.load(data_dir)
    except IdentityError as exc:
        raise JoinError(
            f"{data_dir} holds a broken identity ({exc}): remove it with `edgeplane reset --data-dir {data_dir}`"
        ) from None
    if current.ca_hash != token.ca_hash:
        raise JoinError(
            f"{data_dir} is already joined to another cloud ({current.server}, CA {current.ca_hash}); "
            f"run `edgeplane reset --data-dir {data_dir}` first, or use another --data-dir"
        )
    if current.node_name != name:
        raise JoinError(
            f"{data_dir} is already joined to this cloud as node {current.node_name!r}, not {name!r}; "
            f"run `edgeplane reset --data-dir {data_dir}` first, or use another --data-dir"
        )
    from edgeplane.edge import credentials

    return credentials.load_key(current.key_pem, data_dir / KEY_FILE)


def _install(data_dir: Path, files: dict[str, tuple[bytes, int]]) -> None:
    """Write ``files`` (relative path -> (bytes, mode)) into ``data_dir`` as one step.

    A new data directory is built under a temporary name and renamed into place. Into an existing one
    the files are staged in a temporary directory inside it and moved in with node.json last: until
    node.json exists the directory does not count as joined.
    """
    data_dir = data_dir.absolute()
    fresh = not data_dir.exists()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{data_dir.name}.join-", dir=data_dir.parent if fresh else data_dir))
    try:
        for rel, (data, mode) in files.items():
            ensure_private_dir((stage / rel).parent)
            write_atomic(stage / rel, data, mode)
        if fresh:
            os.chmod(stage, 0o700)
            os.rename(stage, data_dir)
            return
        ensure_private_dir(data_dir / PKI_DIR)
        for rel in sorted(files, key=lambda r: r == NODE_CONFIG):
            os.replace(stage / rel, data_dir / rel)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


# -- talking to the cloud --------------------------------------------------------------------------------


async def _post(
    server: str, path: str, body: dict[str, Any], ssl_context: ssl.SSLContext, *, what: str, bearer: str = ""
) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT):
            resp = await httpclient.request("POST", server + path, body=orjson.dumps(body), headers=headers.items(),
                                            ssl_context=ssl_context)
    except ssl.SSLCertVerificationError as exc:
        raise JoinError(
            f"the server certificate of {server} is not valid for this address ({_reason(exc)}); "
            "start the cloud with --tls-san for the host name or address edge nodes use"
        ) from None
    except (WireError, TimeoutError, OSError) as exc:
        raise JoinError(f"cannot reach the cloud at {server}: {_reason(exc)}") from None
    if resp.status >= 400:
        raise JoinError(f"the cloud at {server} refused the {what}: {body_message(resp.status, resp.body, resp.reason)}")
    try:
        answer = orjson.loads(resp.body)
    except orjson.JSONDecodeError:
        answer = None
    if not isinstance(answer, dict):
        raise JoinError(f"the cloud at {server} answered the {what} with something other than a JSON object")
    return answer


def _read_config(path: Path) -> dict[str, Any]:
    try:
        config = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise IdentityError(f"{path}: unreadable ({exc})") from None
    if not isinstance(config, dict):
        raise IdentityError(f"{path}: expected a JSON object")
    for key in ("server", "nodeName"):
        if not isinstance(config.get(key), str) or not config[key]:
            raise IdentityError(f"{path}: {key} is missing")
    return config


def _server_url(server: str) -> str:
    url = server.strip().rstrip("/")
    if not url.startswith("https://") or len(url) <= len("https://"):
        raise JoinError(f"--server {server!r} must be an https:// URL such as https://cloud.example:6443")
    return url


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {REQUEST_TIMEOUT:.0f}s"
    return str(exc) or type(exc).__name__
