"""The function's configuration, read once from its environment (set by Terraform)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from receive_result.errors import ConfigurationError

# How long the sweep lets SSM keep an approval's automation queued before it gives up.
DEFAULT_MAX_QUEUED_SECONDS = 3600


@dataclass(frozen=True)
class Settings:
    table_name: str
    document_name: str
    # Past this many seconds queued (Pending, over the account's concurrent-automation
    # quota), the sweep cancels the automation and fails the task with Approval.NotStarted.
    # 0: never (the approval waits in SSM's queue as long as SSM keeps it).
    max_queued_seconds: int = DEFAULT_MAX_QUEUED_SECONDS

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        missing = [
            n for n in ("APPROVALS_TABLE_NAME", "APPROVAL_DOCUMENT_NAME") if not environ.get(n)
        ]
        if missing:
            raise ConfigurationError(
                f"{', '.join(missing)} (function environment) not set: deploy the function "
                "with the approval_gate Terraform module, or set it by hand."
            )
        return cls(
            table_name=environ["APPROVALS_TABLE_NAME"],
            document_name=environ["APPROVAL_DOCUMENT_NAME"],
            max_queued_seconds=_seconds(environ, "MAX_QUEUED_SECONDS", DEFAULT_MAX_QUEUED_SECONDS),
        )


def _seconds(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ConfigurationError(
            f"{name} (function environment) is {raw!r}: set a whole number of seconds, "
            f"0 or more (0 disables; default {default})."
        )
    return value
