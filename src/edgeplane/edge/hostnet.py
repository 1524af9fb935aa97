"""The host's network identity: its primary IP (what process pods and the node report) and hostname."""

from __future__ import annotations

import socket


def primary_ip() -> str:
    """The source address of the default route (no packet is sent); loopback when there is no route."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere, only selects the interface
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def hostname() -> str:
    return socket.gethostname()
