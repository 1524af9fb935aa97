"""Watch correctness under concurrent writes, 410 after compaction, and no acknowledged write lost to kill -9."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson

from tests.integration.apiserver.http import admin_session, configmap
from tests.integration.cloudproc import Cloud


async def _collect_watch(session, url: str, stop_after: int, sink: list[dict], ready: asyncio.Event) -> None:
    async with session.get(url, timeout=None) as resp:
        assert resp.status == 200
        ready.set()
        buf = b""
        async for chunk in resp.content.iter_any():
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line:
                    sink.append(orjson.loads(line))
            if len(sink) >= stop_after:
                return


async def test_a_watch_sees_every_change_after_its_revision_once_and_in_order(cloud: Cloud) -> None:
    writes = 10_000
    async with admin_session(cloud.kubeconfig, limit=64) as (session, server):
        base = f"{server}/api/v1/namespaces/default/configmaps"
        async with session.get(base) as resp:
            start_rv = int((await resp.json())["metadata"]["resourceVersion"])
        events: list[dict] = []
        ready = asyncio.Event()
        watcher = asyncio.create_task(
            _collect_watch(session, f"{base}?watch=1&resourceVersion={start_rv}&labelSelector=burst%3Dyes",
                           writes, events, ready)
        )
        await asyncio.wait_for(ready.wait(), 10)

        acked: dict[int, str] = {}
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(writes):
            queue.put_nowait(i)

        async def writer() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                body = configmap(f"burst-{i}", n=str(i))
                body["metadata"]["labels"] = {"burst": "yes"}
                async with session.post(base, json=body) as resp:
                    assert resp.status == 201, await resp.text()
                    obj = await resp.json()
                    acked[int(obj["metadata"]["resourceVersion"])] = obj["metadata"]["name"]

        await asyncio.gather(*(writer() for _ in range(32)))
        await asyncio.wait_for(watcher, 60)

    revisions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert all(e["type"] == "ADDED" for e in events)
    assert revisions == sorted(revisions), "events out of order"
    assert len(set(revisions)) == len(revisions), "an event was delivered twice"
    assert dict(zip(revisions, (e["object"]["metadata"]["name"] for e in events), strict=True)) == acked
    assert min(revisions) > start_rv


async def test_watch_from_a_compacted_revision_gets_410(tmp_path: Path) -> None:
    cloud = Cloud(tmp_path / "data").start("--history-retention", "0.5", "--compaction-interval", "0.2")
    try:
        async with admin_session(cloud.kubeconfig) as (session, server):
            base = f"{server}/api/v1/namespaces/default/configmaps"
            async with session.post(base, json=configmap("old")) as resp:
                old_rv = int((await resp.json())["metadata"]["resourceVersion"])
            for i in range(5):
                async with session.post(base, json=configmap(f"new-{i}")) as resp:
                    assert resp.status == 201
                await asyncio.sleep(0.3)
            await asyncio.sleep(1.0)
            async with session.get(f"{base}?watch=1&resourceVersion={old_rv}") as resp:
                assert resp.status == 200
                event = orjson.loads(await resp.content.readline())
            assert event["type"] == "ERROR"
            assert event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"
            assert "too old resource version" in event["object"]["message"]
            # the server keeps serving: a fresh list and watch work
            async with session.get(base) as resp:
                assert resp.status == 200
                names = {i["metadata"]["name"] for i in (await resp.json())["items"]}
            assert {"old", "new-4"} <= names
    finally:
        cloud.stop()


WRITER = textwrap.dedent("""
    import asyncio, json, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[2])
    from tests.integration.apiserver.http import admin_session, configmap

    async def main():
        async with admin_session(Path(sys.argv[1]), limit=16) as (session, server):
            base = f"{server}/api/v1/namespaces/default/configmaps"
            counter = iter(range(10**9))
            async def one():
                while True:
                    i = next(counter)
                    body = configmap(f"crash-{i}", payload="x" * 2000, index=str(i))
                    try:
                        async with session.post(base, json=body) as resp:
                            if resp.status == 201:
                                print(f"crash-{i}", flush=True)
                    except Exception:
                        return
            await asyncio.gather(*(one() for _ in range(16)))
    asyncio.run(main())
""")


async def test_kill9_during_a_write_burst_loses_no_acknowledged_write(tmp_path: Path) -> None:
    cloud = Cloud(tmp_path / "data").start()
    root = Path(__file__).resolve().parents[3]
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(cloud.kubeconfig), str(root)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3.0)
    cloud.kill9()
    out, err = writer.communicate(timeout=30)
    acknowledged = set(out.split())
    assert len(acknowledged) > 100, f"the burst did not get going: {err[-2000:]}"

    cloud.start()
    try:
        async with admin_session(cloud.kubeconfig) as (session, server):
            async with session.get(f"{server}/api/v1/namespaces/default/configmaps") as resp:
                assert resp.status == 200
                items = (await resp.json())["items"]
        stored = {i["metadata"]["name"]: i for i in items if i["metadata"]["name"].startswith("crash-")}
        missing = acknowledged - stored.keys()
        assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {sorted(missing)[:5]}"
        for name, obj in stored.items():  # nothing half-written
            assert obj["data"]["payload"] == "x" * 2000 and obj["data"]["index"] == name.split("-")[1]
            assert obj["metadata"]["uid"] and obj["metadata"]["resourceVersion"]
    finally:
        cloud.stop(signal.SIGTERM)


async def test_sigterm_shuts_down_cleanly(tmp_path: Path) -> None:
    cloud = Cloud(tmp_path / "data").start()
    assert cloud.stop(signal.SIGTERM) == 0
    assert "shutting down" in cloud.log()
