"""SSM's HTTP controls: ``POST /moto-api/sandbox/expire`` times out the due approvals now
(``{"expired": [ids]}``), and so does every ``POST /moto-api/sandbox/clock/advance``;
``GET /moto-api/sandbox/ssm/throttled`` counts the calls refused for SSM's API rates, by
action (``{"throttled": {"StartAutomationExecution": 2}}``)."""

from __future__ import annotations

from typing import Any

from sandbox.core.control import after_clock_advance, route
from sandbox.ssm import rate_quotas
from sandbox.ssm.automation import expire_due


@route("expire", "POST")
def expire(method: str, body: dict[str, Any]) -> Any:
    return {"expired": expire_due()}


@route("ssm/throttled", "GET")
def throttled(method: str, body: dict[str, Any]) -> Any:
    return {"throttled": rate_quotas.throttled()}


after_clock_advance("expired", expire_due)
