"""Container probes (liveness, readiness, startup) with exec, httpGet and tcpSocket handlers.

One ``ProbeWorker`` per probe of a running container instance, as the kubelet's prober workers: it waits
``initialDelaySeconds``, runs the probe every ``periodSeconds`` with ``timeoutSeconds``, and flips its
result only after ``successThreshold`` successes or ``failureThreshold`` failures in a row. Liveness and
readiness wait until the startup probe (if any) has succeeded. Results are read by the pod manager, which
``on_change`` wakes.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

LIVENESS, READINESS, STARTUP = "liveness", "readiness", "startup"

# exec handler: (command, time_limit) -> (exit code, output)
ExecFn = Callable[[list[str], float], Awaitable[tuple[int, str]]]


@dataclass(slots=True)
class Outcome:
    success: bool
    message: str = ""


def _port(value: Any, container: dict[str, Any]) -> int:
    """A probe port: a number or the name of one of the container's ports."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    for port in container.get("ports") or ():
        if port.get("name") == value:
            return int(port["containerPort"])
    raise ValueError(f"probe port {value!r} is neither a number nor a named port of the container")


async def http_get(action: dict[str, Any], host: str, container: dict[str, Any], time_limit: float) -> Outcome:
    """An HTTP/1.1 GET; 200-399 is a success (redirects are not followed, as the kubelet to other hosts)."""
    port = _port(action.get("port"), container)
    host = action.get("host") or host
    path = action.get("path") or "/"
    tls = (action.get("scheme") or "HTTP").upper() == "HTTPS"
    context = None
    if tls:  # the kubelet does not verify probe certificates
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    headers = {"Host": f"{host}:{port}", "User-Agent": "kube-probe/1.32", "Accept": "*/*", "Connection": "close"}
    for header in action.get("httpHeaders") or ():
        headers[header.get("name", "")] = header.get("value", "")

    async def request() -> Outcome:
        reader, writer = await asyncio.open_connection(host, port, ssl=context)
        try:
            head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            writer.write(f"GET {path} HTTP/1.1\r\n{head}\r\n".encode())
            await writer.drain()
            status_line = (await reader.readline()).decode(errors="replace").split()
        finally:
            writer.close()
        if len(status_line) < 2 or not status_line[1].isdigit():
            return Outcome(False, f"HTTP probe to {host}:{port}{path}: malformed response")
        code = int(status_line[1])
        ok = 200 <= code < 400
        return Outcome(ok, "" if ok else f"HTTP probe failed with statuscode: {code}")

    return await asyncio.wait_for(request(), time_limit)


async def tcp_socket(action: dict[str, Any], host: str, container: dict[str, Any], time_limit: float) -> Outcome:
    port = _port(action.get("port"), container)
    host = action.get("host") or host
    _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), time_limit)
    writer.close()
    return Outcome(True)


async def run_probe(
    probe: dict[str, Any], host: str, container: dict[str, Any], exec_fn: ExecFn
) -> Outcome:
    """One execution of a probe; errors and timeouts are failures with a message saying why."""
    time_limit = float(probe.get("timeoutSeconds") or 1)
    try:
        if "exec" in probe:
            command = (probe["exec"] or {}).get("command") or []
            code, output = await exec_fn(list(command), time_limit)
            return Outcome(code == 0, "" if code == 0 else f"command {command!r} exited with {code}: {output}")
        if "httpGet" in probe:
            return await http_get(probe["httpGet"] or {}, host, container, time_limit)
        if "tcpSocket" in probe:
            return await tcp_socket(probe["tcpSocket"] or {}, host, container, time_limit)
        return Outcome(False, f"probe handler {sorted(probe)} is not supported (exec, httpGet, tcpSocket)")
    except TimeoutError:
        return Outcome(False, f"probe timed out after {time_limit:g}s")
    except (OSError, ValueError) as exc:
        return Outcome(False, f"probe failed: {exc}")


class ProbeWorker:
    """Runs one probe of one container instance until cancelled; ``result`` is its current verdict."""

    def __init__(
        self, kind: str, probe: dict[str, Any], container: dict[str, Any], host: Callable[[], str],
        exec_fn: ExecFn, on_change: Callable[[], None], gate: Callable[[], bool] = lambda: True,
    ) -> None:
        self.kind = kind
        self.probe = probe
        self.container = container
        self.host = host
        self.exec_fn = exec_fn
        self.on_change = on_change
        self.gate = gate  # liveness/readiness wait for the startup probe
        # Before the first verdict: readiness and startup are failing, liveness is passing (Kubernetes).
        self.result = kind == LIVENESS
        self.message = ""
        self._streak = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"probe-{self.kind}")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        probe = self.probe
        period = max(float(probe.get("periodSeconds") or 10), 0.1)
        await asyncio.sleep(float(probe.get("initialDelaySeconds") or 0))
        while True:
            if self.gate():
                await self.observe(await run_probe(probe, self.host(), self.container, self.exec_fn))
                if self.kind == STARTUP and self.result:
                    return  # a startup probe stops once it succeeded
            await asyncio.sleep(period)

    async def observe(self, outcome: Outcome) -> None:
        """Counts one outcome; flips ``result`` at the threshold and tells the pod manager."""
        threshold_key = "successThreshold" if outcome.success else "failureThreshold"
        threshold = int(self.probe.get(threshold_key) or (1 if outcome.success else 3))
        self._streak = self._streak + 1 if outcome.success != self.result else 0
        self.message = outcome.message
        if outcome.success != self.result and self._streak >= threshold:
            self.result = outcome.success
            self._streak = 0
            log.info("%s probe of %s: %s %s", self.kind, self.container.get("name"),
                     "success" if outcome.success else "failure", outcome.message)
            self.on_change()
