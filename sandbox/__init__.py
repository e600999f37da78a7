"""moto extended with what the approval gate needs and moto lacks.

    import sandbox
    sandbox.install()   # idempotent; before or inside mock_aws / ThreadedMotoServer
    sandbox.reset()     # between tests

- SSM Automation execution API (``aws:approve``), see ``sandbox.ssm_automation``;
  its EventBridge events and listener hook in ``sandbox.automation_events``.
- ``sandbox.clock``: controllable time (``advance``, ``freeze``, ``reset``).
- ``sandbox.settings``: every behaviour AWS leaves undocumented, as a setting with each
  plausible variant (docs/aws-behaviour.md); the documented limits (concurrency, queue).
- ``sandbox.iam``: IAM evaluated on every request and every call a service makes for a
  deployed part (on in ``LocalAws``).
- ``sandbox.faults``: make any operation of any service fail with an AWS error.
- Step Functions' SendTaskFailure keeps its ``cause`` (``sandbox.stepfunctions``); executions
  send their status-change events and StopExecution stops them, a task token's wait included
  (``sandbox.stepfunctions_lifecycle``).
- Scheduled EventBridge rules fire on the sandbox clock (``sandbox.schedules``); events can
  be dropped on purpose (``sandbox.eventbridge.drop_events``).
"""

from __future__ import annotations

import threading

from moto.ssm.responses import SimpleSystemManagerResponse

from sandbox import (
    automation_events,
    automation_model,
    dynamodb_consistency,
    faults,
    iam,
    ssm_api,
    ssm_automation,
    stepfunctions,
    stepfunctions_lifecycle,
)
from sandbox.automation_events import (
    add_event_listener,
    clear_event_listeners,
    remove_event_listener,
)
from sandbox.clock import clock
from sandbox.settings import settings
from sandbox.ssm_automation import expire_due

__all__ = [
    "add_event_listener",
    "automation_events",
    "clock",
    "expire_due",
    "faults",
    "install",
    "remove_event_listener",
    "reset",
    "settings",
    "ssm_automation",
]

_install_lock = threading.Lock()


def install() -> None:
    """Add the Automation operations to moto's SSM responses and hook fault injection."""
    with _install_lock:
        for name, method in ssm_api.RESPONSE_METHODS.items():
            # moto finds an action's method by name on the class (inspect.isfunction).
            setattr(SimpleSystemManagerResponse, name, method)
        stepfunctions.install()
        stepfunctions_lifecycle.install()
        faults.install()
        # Lambda runs zips, EventBridge delivers to Lambda/Step Functions, Step Functions'
        # integrations reach the server, HTTP controls (sandbox/README.md).
        from sandbox import (
            awslambda,
            eventbridge,
            http_api,
            lambda_runtime,
            schedules,
            stepfunctions_tasks,
        )

        lambda_runtime.install()
        awslambda.install()
        eventbridge.install()
        schedules.install()  # scheduled rules fire on the sandbox clock
        stepfunctions_tasks.install()
        http_api.install()
        iam.install()  # enforced where iam.iam_settings.enforce is on (LocalAws)
        dynamodb_consistency.install()  # index reads lag by settings.gsi_lag_seconds


def reset() -> None:
    """Forget executions, faults, listeners, dropped events; real time; default settings."""
    from sandbox import eventbridge, lambda_runtime, schedules

    schedules.stop()  # no scheduled event from here on
    lambda_runtime.reset()  # stops the function workers and background deliveries
    automation_model.reset()
    faults.clear()
    eventbridge.clear_drops()
    iam.clear_denials()
    clear_event_listeners()
    clock.reset()
    schedules.reset()  # remaining scheduled rules count from the real time again
    settings.reset()
