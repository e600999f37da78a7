"""Events the emulated services emit, on EventBridge's default bus, and the listeners' hook.

SSM Automation (``sandbox.ssm.events``) and Step Functions (``sandbox.stepfunctions.lifecycle``)
put their events here: through moto's events backend, so rules and their targets get them as
from AWS; then every listener (``add_event_listener``) sees the event, even one that
``sandbox.events.drops`` kept from the rules (the service did emit it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from moto.events.models import events_backends

from sandbox.core.clock import clock

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


def put_event(
    *,
    account_id: str,
    region: str,
    source: str,
    detail_type: str,
    resources: list[str],
    detail: dict[str, Any],
) -> dict[str, Any]:
    """Put one event on the default bus (moto routes it to matching rules) and notify listeners.

    ``source`` is the emitting service (``aws.ssm``, ``aws.states``); ``time`` is the sandbox
    clock's.
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
