"""The event EventBridge's schedule sends the sweep: its `time` is the moment the schedule
was due (docs/aws-behaviour.md#eventbridge-scheduled-events). The sweep takes it as its now,
so a delayed or retried invocation judges what is due as of its schedule, never later."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

DETAIL_TYPE = "Scheduled Event"
SOURCE = "aws.events"


def scheduled_time(event: Mapping[str, Any]) -> datetime | None:
    """The schedule's time; None for any other event (an operator's `{}`): the sweep then
    reads its clock."""
    if event.get("source") != SOURCE or event.get("detail-type") != DETAIL_TYPE:
        return None
    raw = event.get("time")
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None
