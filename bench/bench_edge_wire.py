"""The edge's WebSocket client against aiohttp's, sending what the hub connection carries upstream.

A WebSocket server (aiohttp, TLS, in its own process) reads and drops binary messages; in this process a
client sends 32 KiB messages (the stream multiplexer's data frame size, so a log streaming up) and small
ones (hub messages) as fast as the socket takes them. Figures: MB/s and this process's CPU time per MB,
for the edge's client (``edgeplane.edge.wire.websocket``: wsproto, masking in Python) and for aiohttp's
(masking in C). The client masks every byte it sends (RFC 6455), which is the edge's cost that grows with
traffic.

Run: .venv/bin/python bench/bench_edge_wire.py [--megabytes 200]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import ssl
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from edgeplane.edge.wire import websocket
from edgeplane.pki.ca import CertificateAuthority
from edgeplane.pki.tls import client_ssl_context


def _serve(cert: Path, key: Path, port: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    async def sink(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        async for msg in ws:
            if msg.data == b"done":
                await ws.send_bytes(b"done")
        return ws

    async def main() -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        app = web.Application()
        app.router.add_get("/ws", sink)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        port.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


async def _lean(url: str, ctx: ssl.SSLContext, message: bytes, count: int) -> None:
    ws = await websocket.connect(url, ssl_context=ctx, max_size=1 << 20)
    for _ in range(count):
        await ws.send_bytes(message)
    await ws.send_bytes(b"done")
    while await ws.receive() != b"done":
        pass
    await ws.close()


async def _aiohttp(url: str, ctx: ssl.SSLContext, message: bytes, count: int) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(url, ssl=ctx) as ws:
        for _ in range(count):
            await ws.send_bytes(message)
        await ws.send_bytes(b"done")
        while (await ws.receive()).data != b"done":
            pass


async def _measure(name: str, client, url: str, ctx: ssl.SSLContext, size: int, total: int) -> None:  # type: ignore[no-untyped-def]
    count = max(1, total // size)
    message = b"\x01" + bytes(size - 1)
    started, cpu = time.perf_counter(), time.process_time()
    await client(url, ctx, message, count)
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    megabytes = count * size / 1e6
    print(f"  {name:8} {size:>6} B messages: {megabytes / wall:7.1f} MB/s, {used / megabytes * 1000:6.2f} ms CPU per MB, "
          f"{used / count * 1e6:6.1f} us per message")


async def _run(port: int, ca: CertificateAuthority, total: int) -> None:
    url = f"wss://127.0.0.1:{port}/ws"
    ctx = client_ssl_context(ca.cert_pem)
    for size in (32 * 1024, 512):
        for name, client in (("edge", _lean), ("aiohttp", _aiohttp)):
            await _measure(name, client, url, ctx, size, total if size > 4096 else total // 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megabytes", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ca = CertificateAuthority.generate()
        cert, key = ca.issue_server_cert(Path(tmp), "server", ["127.0.0.1"])
        ports: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
        server = multiprocessing.Process(target=_serve, args=(cert, key, ports), daemon=True)
        server.start()
        try:
            print("WebSocket client sending to an aiohttp server over loopback TLS (client process CPU):")
            asyncio.run(_run(ports.get(timeout=10), ca, args.megabytes * 1_000_000))
        finally:
            server.terminate()
            server.join(5)


if __name__ == "__main__":
    main()
