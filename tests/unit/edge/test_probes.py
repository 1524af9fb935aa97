"""Probe handlers against real sockets and commands, and the thresholds that flip a probe's verdict."""

from __future__ import annotations

import asyncio

from aiohttp import web

from edgeplane.edge.probes import LIVENESS, READINESS, Outcome, ProbeWorker, run_probe


async def _exec(command: list[str], time_limit: float) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), time_limit)
    except TimeoutError:
        proc.kill()
        await proc.communicate()
        raise
    return proc.returncode or 0, out.decode()


async def test_http_get_and_tcp_socket_against_a_real_server(unused_tcp_port):
    async def status(request: web.Request) -> web.Response:
        codes = {"/ok": 200, "/bad": 500, "/moved": 302}
        code = codes.get(request.path) or (200 if request.headers.get("X-T") == "1" else 403)
        return web.Response(status=code, headers={"Location": "/x"} if code == 302 else {})

    app = web.Application()
    app.router.add_get("/{path}", status)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    container = {"name": "c", "ports": [{"name": "http", "containerPort": unused_tcp_port}]}
    try:
        def http(path: str, **extra) -> dict:
            return {"httpGet": {"path": path, "port": "http", **extra}, "timeoutSeconds": 1}

        assert (await run_probe(http("/ok"), "127.0.0.1", container, _exec)).success
        assert (await run_probe(http("/moved"), "127.0.0.1", container, _exec)).success
        bad = await run_probe(http("/bad"), "127.0.0.1", container, _exec)
        assert not bad.success and "statuscode: 500" in bad.message
        assert not (await run_probe(http("/hdr"), "127.0.0.1", container, _exec)).success
        headers = [{"name": "X-T", "value": "1"}]
        assert (await run_probe(http("/hdr", httpHeaders=headers), "127.0.0.1", container, _exec)).success
        tcp = {"tcpSocket": {"port": unused_tcp_port}}
        assert (await run_probe(tcp, "127.0.0.1", container, _exec)).success
    finally:
        await runner.cleanup()
    refused = await run_probe({"tcpSocket": {"port": unused_tcp_port}}, "127.0.0.1", container, _exec)
    assert not refused.success and "probe failed" in refused.message
    named = await run_probe({"httpGet": {"port": "nope"}}, "127.0.0.1", container, _exec)
    assert not named.success and "named port" in named.message


async def test_exec_probe_and_timeout():
    assert (await run_probe({"exec": {"command": ["true"]}}, "", {}, _exec)).success
    failed = await run_probe({"exec": {"command": ["sh", "-c", "echo no; exit 2"]}}, "", {}, _exec)
    assert not failed.success and "exited with 2" in failed.message
    slow = await run_probe({"exec": {"command": ["sleep", "5"]}, "timeoutSeconds": 0.2}, "", {}, _exec)
    assert not slow.success and "timed out" in slow.message
    assert not (await run_probe({"grpc": {"port": 1}}, "", {}, _exec)).success


async def test_thresholds_flip_the_verdict():
    changes: list[bool] = []
    worker = ProbeWorker(READINESS, {"successThreshold": 2, "failureThreshold": 3}, {}, lambda: "",
                         _exec, lambda: changes.append(worker.result))
    assert worker.result is False  # readiness starts failing
    await worker.observe(Outcome(True))
    assert worker.result is False
    await worker.observe(Outcome(True))
    assert worker.result is True
    for _ in range(2):
        await worker.observe(Outcome(False))
    await worker.observe(Outcome(True))  # a success breaks the failure streak
    for _ in range(2):
        await worker.observe(Outcome(False))
    assert worker.result is True
    await worker.observe(Outcome(False, "down"))
    assert worker.result is False and worker.message == "down"
    assert changes == [True, False]
    assert ProbeWorker(LIVENESS, {}, {}, lambda: "", _exec, lambda: None).result is True
