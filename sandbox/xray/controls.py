"""X-Ray's HTTP control: ``GET /moto-api/sandbox/xray/segments`` lists what the daemon
received, ``DELETE`` forgets it."""

from __future__ import annotations

from typing import Any

from sandbox.core.control import route
from sandbox.xray.daemon import clear, segments


@route("xray/segments", "GET", "DELETE")
def segment_list(method: str, body: dict[str, Any]) -> Any:
    if method == "DELETE":
        clear()
    return {"segments": segments()}
