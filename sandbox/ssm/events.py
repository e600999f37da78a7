"""EventBridge events of SSM Automation, put on the default bus (``sandbox.core.event_bus``).

Format (AWS_FACTS.md, AWS "EventBridge event examples for Systems Manager"):
source ``aws.ssm``; resources = execution ARN and ``automation-definition/<name>:<version>``
ARN; detail ``ExecutionId``, ``Definition``, ``DefinitionVersion`` (number), ``Status``,
``StartTime``/``EndTime`` as ``Nov 29, 2024 7:43:25 PM`` (UTC), ``Time`` (number), plus
``StepName``/``Action`` (step events) or ``ExecutedBy`` (execution events).

Interpretations where AWS shows only an example: ``Time`` is the milliseconds between
StartTime and EndTime (or now, while running), as in the example (2630.0 for 2 s);
``EndTime`` is absent while the step or automation has not ended (the service omits null
fields in these events).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sandbox.core.clock import clock
from sandbox.core.event_bus import put_event
from sandbox.ssm.models import AutomationExecution, StepExecution

STEP_DETAIL_TYPE = "EC2 Automation Step Status-change Notification"
EXECUTION_DETAIL_TYPE = "EC2 Automation Execution Status-change Notification"
SOURCE = "aws.ssm"


def event_time(moment: datetime) -> str:
    """``Nov 29, 2024 7:43:25 PM``: no leading zero on day or hour, UTC."""
    moment = moment.astimezone(UTC)
    hour = moment.hour % 12 or 12
    return (
        f"{moment:%b} {moment.day}, {moment.year} "
        f"{hour}:{moment:%M:%S} {'AM' if moment.hour < 12 else 'PM'}"
    )


def definition_version(version: str) -> float | str:
    try:
        return float(version)
    except ValueError:
        return version


def step_status_changed(execution: AutomationExecution, step: StepExecution) -> None:
    detail = _detail(execution, step.status, step.start, step.end)
    _put(execution, STEP_DETAIL_TYPE, detail | {"StepName": step.name, "Action": step.action})


def execution_status_changed(execution: AutomationExecution) -> None:
    detail = _detail(execution, execution.status, execution.start, execution.end)
    _put(execution, EXECUTION_DETAIL_TYPE, detail | {"ExecutedBy": execution.executed_by})


def _detail(
    execution: AutomationExecution, status: str, start: datetime | None, end: datetime | None
) -> dict[str, Any]:
    started = start or clock.now()
    detail: dict[str, Any] = {
        "ExecutionId": execution.execution_id,
        "Definition": execution.document.name,
        "DefinitionVersion": definition_version(execution.document.version),
        "Status": status,
        "StartTime": event_time(started),
    }
    if end is not None:
        detail["EndTime"] = event_time(end)
    elapsed = (end or clock.now()) - started
    detail["Time"] = round(elapsed.total_seconds() * 1000, 1)
    return detail


def _put(execution: AutomationExecution, detail_type: str, detail: dict[str, Any]) -> None:
    put_event(
        account_id=execution.account_id,
        region=execution.region,
        source=SOURCE,
        detail_type=detail_type,
        resources=[execution.arn, execution.definition_arn],
        detail=detail,
    )
