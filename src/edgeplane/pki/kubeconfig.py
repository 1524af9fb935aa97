"""Reading and writing kubeconfig files in the standard format kubectl and the kubernetes client read."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

import yaml

from edgeplane.pki.files import PRIVATE, write_atomic


class KubeconfigError(ValueError):
    """A kubeconfig that cannot be used, with the file and the field at fault."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def write_kubeconfig(
    path: Path,
    server: str,
    ca_pem: bytes,
    user: str,
    cert_pem: bytes | None = None,
    key_pem: bytes | None = None,
    token: str | None = None,
    context: str = "edgeplane",
) -> None:
    """Write a one-cluster, one-user kubeconfig, mode 0600 from its first byte (it holds credentials)."""
    if (cert_pem is None) != (key_pem is None):
        raise KubeconfigError(f"{path}: a client certificate needs both cert_pem and key_pem")
    if cert_pem is None and not token:
        raise KubeconfigError(f"{path}: user {user!r} needs a client certificate or a token")
    credentials: dict[str, str] = {}
    if cert_pem is not None and key_pem is not None:
        credentials["client-certificate-data"] = _b64(cert_pem)
        credentials["client-key-data"] = _b64(key_pem)
    if token:
        credentials["token"] = token
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": context, "cluster": {"server": server, "certificate-authority-data": _b64(ca_pem)}}
        ],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": user}}],
        "current-context": context,
        "preferences": {},
    }
    write_atomic(path, yaml.safe_dump(config, sort_keys=False).encode("utf-8"), PRIVATE)


def load_kubeconfig(path: Path, context: str | None = None) -> dict[str, Any]:
    """The current (or named) context resolved to ``server``, ``ca_pem``, ``cert_pem``, ``key_pem``, ``token``.

    Inline ``*-data`` fields and file references (relative to the kubeconfig's folder, as kubectl
    resolves them) are both understood; absent credentials are None.
    """
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise KubeconfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise KubeconfigError(f"{path}: expected a mapping at the top level")
    name = context or doc.get("current-context")
    if not name:
        raise KubeconfigError(f"{path}: current-context is not set and no context was given")
    ctx = _named(path, doc, "contexts", "context", name)
    cluster = _named(path, doc, "clusters", "cluster", ctx.get("cluster"))
    user_name = ctx.get("user")
    user = _named(path, doc, "users", "user", user_name) if user_name else {}
    server = cluster.get("server")
    if not isinstance(server, str) or not server:
        raise KubeconfigError(f"{path}: clusters[{ctx.get('cluster')!r}].cluster.server is required")
    token = user.get("token")
    if token is None and user.get("tokenFile"):
        token = _resolve(path, user["tokenFile"]).read_text(encoding="utf-8").strip()
    return {
        "server": server,
        "ca_pem": _material(path, cluster, "certificate-authority", "clusters"),
        "cert_pem": _material(path, user, "client-certificate", "users"),
        "key_pem": _material(path, user, "client-key", "users"),
        "token": token,
        "insecure": bool(cluster.get("insecure-skip-tls-verify", False)),
    }


def _named(path: Path, doc: dict[str, Any], section: str, field: str, name: Any) -> dict[str, Any]:
    for entry in doc.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            body = entry.get(field)
            if not isinstance(body, dict):
                raise KubeconfigError(f"{path}: {section}[{name!r}].{field} must be a mapping")
            return body
    raise KubeconfigError(f"{path}: no entry named {name!r} in {section}")


def _material(path: Path, body: dict[str, Any], field: str, section: str) -> bytes | None:
    inline = body.get(f"{field}-data")
    if inline:
        try:
            return base64.b64decode(inline, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise KubeconfigError(f"{path}: {section}: {field}-data is not valid base64") from exc
    ref = body.get(field)
    if ref:
        file = _resolve(path, ref)
        try:
            return file.read_bytes()
        except OSError as exc:
            raise KubeconfigError(f"{path}: {section}: {field} {file} cannot be read: {exc}") from exc
    return None


def _resolve(path: Path, ref: str) -> Path:
    file = Path(ref).expanduser()
    return file if file.is_absolute() else path.parent / file
