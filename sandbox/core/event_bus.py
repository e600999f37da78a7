"""EventBridge events of SSM Automation, put on the default bus through moto's backend.

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

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto.events.models import events_backends

from sandbox.clock import clock

STEP_DETAIL_TYPE = "EC2 Automation Step Status-change Notification"
EXECUTION_DETAIL_TYPE = "EC2 Automation Execution Status-change Notification"
SOURCE = "aws.ssm"

EventListener = Callable[[dict[str, Any]], None]
_listeners: list[EventListener] = []
_log = logging.getLogger(__name__)


def add_event_listener(listener: EventListener) -> None:
    """Call ``listener(event)`` with every event the sandbox emits (full envelope)."""
    _listeners.append(listener)


def remove_event_listener(listener: EventListener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def clear_event_listeners() -> None:
    _listeners.clear()


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


def base_detail(
    *,
    execution_id: str,
    document_name: str,
    document_version: str,
    status: str,
    start: datetime | None,
    end: datetime | None,
) -> dict[str, Any]:
    started = start or clock.now()
    detail: dict[str, Any] = {
        "ExecutionId": execution_id,
        "Definition": document_name,
        "DefinitionVersion": definition_version(document_version),
        "Status": status,
        "StartTime": event_time(started),
    }
    if end is not None:
        detail["EndTime"] = event_time(end)
    elapsed = (end or clock.now()) - started
    detail["Time"] = round(elapsed.total_seconds() * 1000, 1)
    return detail


def put_event(
    *,
    account_id: str,
    region: str,
    detail_type: str,
    resources: list[str],
    detail: dict[str, Any],
    source: str = SOURCE,
) -> dict[str, Any]:
    """Put one event on the default bus (moto routes it to matching rules) and notify listeners.

    ``source`` is the emitting service (``aws.ssm`` here, ``aws.states`` for Step Functions'
    status changes, ``sandbox.stepfunctions_lifecycle``); ``time`` is the sandbox clock's.
    """
    now = clock.now()
    backend = events_backends[account_id][region]
    # Internal call: a customer PutEvents with an aws.* source is refused by AWS, a service's
    # own event is not.
    entries = backend.put_events(
        [
            {
                "Source": source,
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
                "Resources": resources,
                "Time": now.timestamp(),
                "EventBusName": "default",
            }
        ]
    )
    event = {
        "version": "0",
        "id": entries[0].get("EventId", ""),
        "detail-type": detail_type,
        "source": source,
        "account": account_id,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": resources,
        "detail": detail,
    }
    for listener in list(_listeners):
        try:
            listener(event)
        except Exception:  # a broken listener must not break the emulated API call
            _log.exception("sandbox event listener %r failed", listener)
    return event
