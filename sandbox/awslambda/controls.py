"""Lambda's HTTP control: ``GET /moto-api/sandbox/lambda/workers`` lists the running workers."""

from __future__ import annotations

from typing import Any

from sandbox.awslambda.pool import workers
from sandbox.core.control import route


@route("lambda/workers", "GET")
def lambda_workers(method: str, body: dict[str, Any]) -> Any:
    return {"workers": workers()}
