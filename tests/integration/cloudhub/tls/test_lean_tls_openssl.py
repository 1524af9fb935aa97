"""KeyUpdate both ways with OpenSSL's own client: ``openssl s_client`` sends a KeyUpdate on its "k"
command and one that requests ours on "K"; data must keep flowing both ways after each."""

from __future__ import annotations

import asyncio

from edgeplane.cloudhub.protocol import HUB_ALPN
from edgeplane.cloudhub.tls.records import RecordLayer
from tests.conftest import require_binary
from tests.integration.cloudhub.tls.leanserver import LeanServer, Pki

TIMEOUT = 10


async def _until_echoed(stdout: asyncio.StreamReader, token: bytes) -> None:
    """Waits for the echo of ``token`` on s_client's output (with -brief, only what it received)."""
    async with asyncio.timeout(TIMEOUT):
        while (line := await stdout.readline()) and line.rstrip() != token:
            pass
        assert line, f"s_client ended before {token!r} came back"


async def _until(condition, what: str) -> None:
    """s_client reads a command only when it comes alone: the next line is written once the server saw it."""
    async with asyncio.timeout(TIMEOUT):
        while not condition():
            await asyncio.sleep(0.01)
    assert condition(), what


async def test_key_updates_from_openssl_s_client(pki: Pki) -> None:
    openssl = require_binary("openssl")
    async with LeanServer(pki) as server:
        client = await asyncio.create_subprocess_exec(
            openssl, "s_client", "-connect", f"127.0.0.1:{server.port}", "-tls1_3", "-brief", "-alpn", HUB_ALPN,
            "-cert", str(pki.client_cert), "-key", str(pki.client_key), "-CAfile", str(pki.ca_file),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert client.stdin is not None and client.stdout is not None and client.stderr is not None
        try:
            client.stdin.write(b"before\n")
            await _until_echoed(client.stdout, b"before")
            records: RecordLayer = server.apps[0].transport._tls._records  # type: ignore[attr-defined]
            read_secret, write_secret = records._read.secret, records._write.secret

            client.stdin.write(b"k\n")  # KeyUpdate, no answer requested
            await _until(lambda: records._read.secret != read_secret, "the server saw the KeyUpdate")
            client.stdin.write(b"after k\n")
            await _until_echoed(client.stdout, b"after k")
            assert records._read.secret != read_secret and records._write.secret == write_secret

            read_secret = records._read.secret
            client.stdin.write(b"K\n")  # KeyUpdate requesting ours
            await _until(lambda: records._write.secret != write_secret, "the server answered the KeyUpdate")
            client.stdin.write(b"after K\n")
            await _until_echoed(client.stdout, b"after K")
            assert records._read.secret != read_secret and records._write.secret != write_secret
            assert server.apps[0].received == b"before\nafter k\nafter K\n"  # type: ignore[attr-defined]

            client.stdin.write(b"Q\n")  # s_client sends close_notify and ends
            await asyncio.wait_for(server.apps[0].lost, TIMEOUT)  # type: ignore[attr-defined]
            assert await asyncio.wait_for(client.wait(), TIMEOUT) == 0
            assert b"KEYUPDATE" in await client.stderr.read()
        finally:
            if client.returncode is None:
                client.kill()
                await client.wait()
