"""moto extended with what the approval gate needs and moto lacks.

    import sandbox
    sandbox.install()   # idempotent; before or inside mock_aws / ThreadedMotoServer
    sandbox.reset()     # between tests

- SSM Automation execution API (``aws:approve``), see ``sandbox.ssm_automation``;
  its EventBridge events and listener hook in ``sandbox.automation_events``.
- ``sandbox.clock``: controllable time (``advance``, ``freeze``, ``reset``).
- ``sandbox.settings``: behaviour AWS leaves undocumented (rejection status, limits).
- ``sandbox.faults``: make any operation of any service fail with an AWS error.
- Step Functions' SendTaskFailure keeps its ``cause`` (``sandbox.stepfunctions``).
"""

from __future__ import annotations

import threading

from moto.ssm.responses import SimpleSystemManagerResponse

from sandbox import (
    automation_events,
    automation_model,
    faults,
    ssm_api,
    ssm_automation,
    stepfunctions,
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
        faults.install()
        # Lambda runs zips, EventBridge delivers to Lambda/Step Functions, Step Functions'
        # integrations reach the server, HTTP controls (sandbox/README.md).
        from sandbox import (
            awslambda,
            eventbridge,
            http_api,
            lambda_runtime,
            stepfunctions_tasks,
        )

        lambda_runtime.install()
        awslambda.install()
        eventbridge.install()
        stepfunctions_tasks.install()
        http_api.install()


def reset() -> None:
    """Forget executions, faults, listeners; real time; default settings."""
    from sandbox import lambda_runtime

    lambda_runtime.reset()  # stops the function workers and background deliveries
    automation_model.reset()
    faults.clear()
    clear_event_listeners()
    clock.reset()
    settings.reset()
