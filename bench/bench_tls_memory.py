"""Cloud memory per idle mutual-TLS connection, and throughput: asyncio's SSL transport vs the lean one.

Each variant runs in a fresh server process (so one cannot reuse memory the other freed), with the same
idle application protocol on top:
  (a) stdlib: asyncio + ssl (OpenSSL keeps its SSL object per connection), with the cloud hub's one
      shared TLS read buffer per thread (cloudhub/tlsmemory.py);
  (b) lean: OpenSSL does the handshake, then cloudhub/tls keeps only the record state.
Clients are child processes (asyncio + ssl, TLS 1.3, a client certificate, ALPN edgeplane-hub/1). Every
connection sends a 100-byte ping that the server echoes, then stays idle. Printed per variant: RSS growth
of the server process per connection, and the throughput of one connection moving a large payload
server -> client and client -> server.

Run: .venv/bin/python bench/bench_tls_memory.py [--conns 1000] [--procs 4] [--mb 100]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from edgeplane.cloudhub.protocol import HUB_ALPN
from edgeplane.cloudhub.tls import LeanTLSContext, LeanTLSProtocol
from edgeplane.cloudhub.tlsmemory import share_tls_read_buffers
from edgeplane.pki.ca import CertificateAuthority

PING = b"P" * 100
CHUNK = os.urandom(1024 * 1024)
VARIANTS = ("stdlib", "lean")


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# --- the server's application protocol: the same for both variants


class BenchApp(asyncio.Protocol):
    """The first byte chooses: P echo (the ping), D send ``total`` bytes, U receive them and ack."""

    connected = 0

    def __init__(self, total: int) -> None:
        self.total = total
        self.mode = b""
        self.left = 0
        self.paused = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        BenchApp.connected += 1

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        if not self.mode:
            self.mode, self.left = data[:1], self.total
            if self.mode == b"D":
                self._pump()
                return
            if self.mode == b"U":
                data = data[1:]
        if self.mode == b"P":
            self.transport.write(data)
        elif self.mode == b"U" and data:
            self.left -= len(data)
            if self.left <= 0:
                self.transport.write(b"!")

    def _pump(self) -> None:
        assert self.transport is not None
        while self.left > 0 and not self.paused:
            n = min(len(CHUNK), self.left)
            self.transport.write(CHUNK[:n] if n < len(CHUNK) else CHUNK)
            self.left -= n

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self.mode == b"D":
            self._pump()

    def connection_lost(self, exc: Exception | None) -> None:
        BenchApp.connected -= 1


def stdlib_server_context(pki: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(pki / "server.crt", pki / "server.key")
    ctx.load_verify_locations(pki / "ca.crt")
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.set_alpn_protocols([HUB_ALPN])
    return ctx


async def start_server(variant: str, pki: Path, total: int) -> tuple[int, asyncio.AbstractServer | asyncio.Task]:
    loop = asyncio.get_running_loop()
    if variant == "stdlib":
        share_tls_read_buffers()
        server = await loop.create_server(lambda: BenchApp(total), "127.0.0.1", 0, backlog=4096,
                                          ssl=stdlib_server_context(pki))
        return server.sockets[0].getsockname()[1], server
    context = LeanTLSContext(pki / "server.crt", pki / "server.key", ca_file=pki / "ca.crt")
    listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
    listener.setblocking(False)

    async def accept() -> None:
        while True:
            sock, _ = await loop.sock_accept(listener)
            await loop.connect_accepted_socket(lambda: LeanTLSProtocol(lambda: BenchApp(total), context), sock)

    return listener.getsockname()[1], asyncio.create_task(accept())


def spawn_clients(args: argparse.Namespace, port: int, conns: int, procs: int, mode: str) -> list[subprocess.Popen]:
    per = [conns // procs + (1 if i < conns % procs else 0) for i in range(procs)]
    return [subprocess.Popen([sys.executable, __file__, "--client", mode, "--port", str(port), "--pki", args.pki,
                              "--conns", str(n), "--mb", str(args.mb)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for n in per if n]


async def wait_lines(procs: list[subprocess.Popen]) -> list[str]:
    """One line from each client process (each prints one when it is done with its part)."""
    return await asyncio.gather(*(asyncio.to_thread(p.stdout.readline) for p in procs))  # type: ignore[union-attr]


def end(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.stdin.close()  # type: ignore[union-attr]  # the client's signal to close its connections and exit
    for p in procs:
        p.wait(30)


async def serve(args: argparse.Namespace) -> None:
    pki = Path(args.pki)
    total = args.mb * 1024 * 1024
    port, _server = await start_server(args.serve, pki, total)
    warm = spawn_clients(args, port, 50, 1, "hold")  # imports, OpenSSL init, allocator arenas
    await wait_lines(warm)
    end(warm)
    await asyncio.sleep(0.5)
    gc.collect()
    base = rss_kb()
    clients = spawn_clients(args, port, args.conns, args.procs, "hold")
    started = time.perf_counter()
    lines = await wait_lines(clients)
    connect_s = time.perf_counter() - started
    if any(line.strip() != "ready" for line in lines):
        raise SystemExit(f"clients failed: {lines}")
    while BenchApp.connected < args.conns:
        await asyncio.sleep(0.05)
    await asyncio.sleep(1)
    gc.collect()
    rss = rss_kb()
    end(clients)
    while BenchApp.connected:
        await asyncio.sleep(0.05)
    transfer = spawn_clients(args, port, 1, 1, "transfer")
    [result] = await wait_lines(transfer)
    end(transfer)
    print(json.dumps({"variant": args.serve, "conns": args.conns, "base_kb": base, "rss_kb": rss,
                      "per_conn_kb": (rss - base) / args.conns, "connect_s": connect_s,
                      **json.loads(result)}), flush=True)


# --- client processes


def client_context(pki: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(pki / "client.crt", pki / "client.key")
    ctx.set_alpn_protocols([HUB_ALPN])
    return ctx


async def client(args: argparse.Namespace) -> None:
    ctx = client_context(Path(args.pki))
    limit = asyncio.Semaphore(50)  # handshakes in flight

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with limit:
            return await asyncio.open_connection("127.0.0.1", args.port, ssl=ctx, server_hostname="127.0.0.1",
                                                 limit=8 * 1024 * 1024)

    if args.client == "hold":
        conns = await asyncio.gather(*(connect() for _ in range(args.conns)))
        for _, writer in conns:
            writer.write(PING)
        for reader, _ in conns:
            assert await reader.readexactly(len(PING)) == PING
        print("ready", flush=True)
    else:
        total = args.mb * 1024 * 1024
        reader, writer = await connect()
        started = time.perf_counter()
        writer.write(b"D")
        left = total
        while left:
            left -= len(await reader.read(4 * 1024 * 1024))
        down = time.perf_counter() - started
        writer.close()
        reader, writer = await connect()
        started = time.perf_counter()
        writer.write(b"U")
        for _ in range(args.mb):
            writer.write(CHUNK)
            await writer.drain()
        assert await reader.readexactly(1) == b"!"
        up = time.perf_counter() - started
        print(json.dumps({"down_mb_s": args.mb / down, "up_mb_s": args.mb / up}), flush=True)
        conns = [(reader, writer)]
    await asyncio.to_thread(sys.stdin.read)  # held until the server closes our stdin
    for _, writer in conns:
        writer.close()


# --- orchestration


def make_pki(directory: Path) -> None:
    ca = CertificateAuthority.generate()
    ca.issue_server_cert(directory, "server", ["127.0.0.1"])
    cert, key = ca.issue_client_cert("system:node:bench", ["system:nodes"])
    (directory / "client.crt").write_bytes(cert)
    (directory / "client.key").write_bytes(key)
    (directory / "ca.crt").write_bytes(ca.cert_pem)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conns", type=int, default=1000, help="idle connections held open")
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument("--mb", type=int, default=100, help="megabytes moved each way for throughput")
    parser.add_argument("--serve", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--client", choices=("hold", "transfer"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pki", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        asyncio.run(client(args))
        return
    if args.serve:
        asyncio.run(serve(args))
        return
    with tempfile.TemporaryDirectory(prefix="bench-tls-") as tmp:
        make_pki(Path(tmp))
        print(f"{args.conns} idle mutual-TLS 1.3 connections from {args.procs} client processes; "
              f"{args.mb} MB each way on one connection")
        for variant in VARIANTS:
            out = subprocess.run([sys.executable, __file__, "--serve", variant, "--pki", tmp,
                                  "--conns", str(args.conns), "--procs", str(args.procs), "--mb", str(args.mb)],
                                 check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            label = {"stdlib": "asyncio + ssl (shared read buffer)", "lean": "lean TLS transport"}[variant]
            print(f"{label:38s} RSS {r['base_kb'] / 1024:6.1f} -> {r['rss_kb'] / 1024:6.1f} MiB: "
                  f"{r['per_conn_kb']:5.1f} KB per connection; connect {r['connect_s']:.1f} s; "
                  f"server->client {r['down_mb_s']:6.0f} MB/s, client->server {r['up_mb_s']:6.0f} MB/s")


if __name__ == "__main__":
    main()
