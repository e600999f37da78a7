"""moto extended with what the approval gate needs and moto lacks: the local AWS.

    import sandbox
    sandbox.install()   # idempotent; before or inside mock_aws / ThreadedMotoServer
    sandbox.reset()     # between tests

Also here: ``sandbox.clock``, ``sandbox.settings``, ``sandbox.faults``, ``sandbox.expire_due``
and ``sandbox.add_event_listener``. What each service package adds to moto, how to run the
local AWS and how to drive it: sandbox/LOCAL_AWS.md.
"""

from __future__ import annotations

import threading
from typing import Any

from sandbox import awslambda, dynamodb, events, iam, ssm, stepfunctions
from sandbox.awslambda.settings import lambda_settings
from sandbox.core import call_counts, control, endpoint, faults
from sandbox.core.clock import clock
from sandbox.core.event_bus import (
    add_event_listener,
    clear_event_listeners,
    remove_event_listener,
)
from sandbox.core.settings import register_group, settings
from sandbox.dynamodb import settings as dynamodb_settings
from sandbox.events import schedules
from sandbox.events.settings import schedule_settings
from sandbox.ssm import expire_due, rate_quotas
from sandbox.ssm import settings as ssm_settings

__all__ = [
    "add_event_listener",
    "clock",
    "expire_due",
    "faults",
    "install",
    "remove_event_listener",
    "reset",
    "settings",
]

# Every setting of the local AWS: the variants and limits in the order sandbox.settings lists
# them, then the groups of /moto-api/sandbox/settings beside "sandbox".
settings.register(*ssm_settings.VARIANTS, *dynamodb_settings.VARIANTS, *ssm_settings.LIMITS)
register_group("lambda", lambda_settings)
register_group("schedules", schedule_settings)

_install_lock = threading.Lock()


def install() -> None:
    """Hook every service into moto (idempotent), for mock_aws and ThreadedMotoServer alike."""
    with _install_lock:
        ssm.install()
        stepfunctions.install()
        faults.install()
        # Functions and Step Functions' integrations call the server this process runs.
        endpoint.install()
        awslambda.install()
        events.install()
        control.install()  # the HTTP controls (sandbox/LOCAL_AWS.md, "Controls")
        iam.install()  # enforced where iam.iam_settings.enforce is on (LocalAws)
        dynamodb.install()  # atomic item writes; index reads lag by settings.gsi_lag_seconds


def reset() -> None:
    """Forget executions, faults, listeners, dropped events, call counts; real time; default
    settings."""
    schedules.stop()  # no scheduled event from here on
    awslambda.reset()  # stops the function workers and background deliveries
    ssm.reset()
    rate_quotas.reset()  # every SSM API's bucket full again
    faults.clear()
    events.clear_drops()
    iam.clear_denials()
    call_counts.clear()
    clear_event_listeners()
    clock.reset()
    schedules.reset()  # remaining scheduled rules count from the real time again
    settings.reset()


@control.route("reset", "POST")
def sandbox_reset(method: str, body: dict[str, Any]) -> Any:
    reset()
    return {"status": "ok"}
