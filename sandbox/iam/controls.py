"""IAM's HTTP control: ``GET /moto-api/sandbox/iam/denials`` lists the refusals, ``DELETE``
forgets them."""

from __future__ import annotations

from typing import Any

from sandbox.core.control import route
from sandbox.iam.enforcement import clear_denials, denials, iam_settings


@route("iam/denials", "GET", "DELETE")
def iam_denials(method: str, body: dict[str, Any]) -> Any:
    if method == "DELETE":
        clear_denials()
    return {"enforce": iam_settings.enforce, "denials": denials()}
