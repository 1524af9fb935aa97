from __future__ import annotations

from typing import Any

DEMO = 'CREATE STREAM demo (deviceId string, temperature float, humidity bigint, ts bigint) ' \
       'WITH (DATASOURCE="demo", FORMAT="json", TIMESTAMP="ts")'


def line(at: int, stream: str = "demo", **data: Any) -> dict[str, Any]:
    return {"stream": stream, "timestamp": at, "data": data}
