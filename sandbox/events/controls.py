"""EventBridge's HTTP controls: the scheduled rules (``GET /moto-api/sandbox/schedules``,
``POST .../schedules/fire``) and the dropped events (``GET/POST/DELETE .../events/drop``).

``events/drop`` POST ``{"source", "detail_type", "detail", "times"}`` (``times`` default 1,
``null``: until cleared) answers ``{"drop": {"id", ..., "dropped": 0}}``; GET lists every drop
with its ``dropped`` count; DELETE clears them.
"""

from __future__ import annotations

from typing import Any

from sandbox.core.control import route
from sandbox.events import drops, schedules


@route("schedules", "GET")
def schedule_list(method: str, body: dict[str, Any]) -> Any:
    return {"schedules": schedules.schedules()}


@route("schedules/fire", "POST")
def schedules_fire(method: str, body: dict[str, Any]) -> Any:
    return {"fired": schedules.fire_due()}


@route("events/drop", "GET", "POST", "DELETE")
def event_drops(method: str, body: dict[str, Any]) -> Any:
    if method == "POST":
        unknown = set(body) - {"source", "detail_type", "detail", "times"}
        if unknown:
            raise KeyError(f"unknown fields {sorted(unknown)}")
        drop = drops.drop_events(
            body["source"], body.get("detail_type"), body.get("detail"), body.get("times", 1)
        )
        return {"drop": drop.as_dict()}
    if method == "DELETE":
        drops.clear_drops()
    return {"drops": [drop.as_dict() for drop in drops.drops()]}
