"""SSM's HTTP controls: ``POST /moto-api/sandbox/expire`` times out the due approvals now
(``{"expired": [ids]}``), and so does every ``POST /moto-api/sandbox/clock/advance``."""

from __future__ import annotations

from typing import Any

from sandbox.core.control import after_clock_advance, route
from sandbox.ssm.automation import expire_due


@route("expire", "POST")
def expire(method: str, body: dict[str, Any]) -> Any:
    return {"expired": expire_due()}


after_clock_advance("expired", expire_due)
