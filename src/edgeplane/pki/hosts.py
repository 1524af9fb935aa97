"""Turning the host names and addresses a server answers on into certificate SANs."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable

from cryptography import x509

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Every server certificate covers these, so local clients and health probes always verify.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")

_DNS_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def parse_host(host: str) -> str | IPAddress:
    """An IP address, or a DNS name (lower-cased, a leading ``*.`` allowed); ValueError otherwise."""
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]  # "[::1]" as written in URLs
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    name = text.lower().rstrip(".")
    labels = name.split(".")
    if labels and labels[0] == "*":
        labels = labels[1:]
    if not name or len(name) > 253 or not labels or not all(_DNS_LABEL.fullmatch(lb) for lb in labels):
        raise ValueError(f"{host!r} is neither an IP address nor a valid DNS name")
    return name


def server_hosts(extra: Iterable[str]) -> list[str | IPAddress]:
    """The given hosts plus the local ones and this machine's hostname, parsed, without duplicates."""
    wanted: list[str | IPAddress] = []
    for host in [*extra, *LOCAL_HOSTS]:
        parsed = parse_host(host)
        if parsed not in wanted:
            wanted.append(parsed)
    try:
        own = parse_host(socket.gethostname())
    except ValueError:
        return wanted  # e.g. "edge_box_1": not a DNS name, so no client could verify it anyway
    if own not in wanted:
        wanted.append(own)
    return wanted


def to_general_names(hosts: Iterable[str | IPAddress]) -> list[x509.GeneralName]:
    return [x509.DNSName(h) if isinstance(h, str) else x509.IPAddress(h) for h in hosts]


def covered_hosts(cert: x509.Certificate) -> set[str | IPAddress]:
    """The DNS names and IP addresses a certificate's SAN extension lists."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    names: set[str | IPAddress] = {n.lower() for n in san.get_values_for_type(x509.DNSName)}
    names.update(san.get_values_for_type(x509.IPAddress))
    return names
