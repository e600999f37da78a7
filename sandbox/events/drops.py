"""Events dropped on purpose: EventBridge's delivery is best effort (SSM's events are,
AWS_FACTS.md).

``drop_events(source, detail_type=None, detail=None, times=1)``: the next matching events
reach no rule at all. The check sits where events enter the bus (moto's ``put_events``, and
the scheduled events): PutEvents still answers with an ``EventId``, and the event bus's
listeners (``sandbox.add_event_listener``) still see the services' events, since the service
did emit them; only the delivery is lost.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from moto.events.models import EventsBackend

_log = logging.getLogger(__name__)
_originals: dict[str, Any] = {}
_lock = threading.Lock()


@dataclass
class Drop:
    """Drops the next ``times`` events matching ``source``, ``detail_type`` and ``detail``."""

    source: str
    detail_type: str | None = None
    detail: dict[str, Any] | None = None  # field -> value, or a list of accepted values
    times: int | None = 1  # None: every matching event until cleared
    id: int = 0
    dropped: int = 0  # events dropped so far
    events: list[dict[str, Any]] = field(default_factory=list)  # those events

    def __post_init__(self) -> None:
        if not self.source or not isinstance(self.source, str):
            raise ValueError("drop_events needs a source")
        if self.times is not None:
            self.times = int(self.times)
            if self.times < 1:
                raise ValueError("times must be at least 1 (or None: every matching event)")
        if self.detail is not None and not isinstance(self.detail, dict):
            raise ValueError("detail must be an object of field -> value")

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.dropped >= self.times

    def matches(self, source: Any, detail_type: Any, detail: Any) -> bool:
        if self.exhausted or source != self.source:
            return False
        if self.detail_type is not None and detail_type != self.detail_type:
            return False
        for name, wanted in (self.detail or {}).items():
            if not isinstance(detail, dict) or name not in detail:
                return False
            accepted = wanted if isinstance(wanted, list) else [wanted]
            if detail[name] not in accepted:
                return False
        return True

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "detail_type": self.detail_type,
            "detail": self.detail,
            "times": self.times,
            "dropped": self.dropped,
            "exhausted": self.exhausted,
            "events": list(self.events),
        }


_drops: list[Drop] = []
_drop_ids = iter(range(1, 2**62))


def drop_events(
    source: str,
    detail_type: str | None = None,
    detail: dict[str, Any] | None = None,
    times: int | None = 1,
) -> Drop:
    """Make the next ``times`` events with this ``source`` (and ``detail-type``, and these
    ``detail`` fields) reach no rule. Returns the handle: ``handle.dropped`` counts them."""
    drop = Drop(source=source, detail_type=detail_type, detail=detail, times=times)
    with _lock:
        drop.id = next(_drop_ids)
        _drops.append(drop)
    return drop


def drops() -> list[Drop]:
    """Every drop since the last ``clear_drops()``, exhausted ones included."""
    with _lock:
        return list(_drops)


def clear_drops() -> None:
    with _lock:
        _drops.clear()


def take_drop(event: dict[str, Any]) -> Drop | None:
    """The drop that swallows ``event`` (EventBridge's form), counted; None: deliver it."""
    if not _drops:
        return None
    with _lock:
        for drop in _drops:
            if drop.matches(event.get("source"), event.get("detail-type"), event.get("detail")):
                drop.dropped += 1
                del drop.events[: max(len(drop.events) - 99, 0)]  # the last 100
                drop.events.append(
                    {
                        "id": event.get("id"),
                        "source": event.get("source"),
                        "detail-type": event.get("detail-type"),
                        "detail": event.get("detail"),
                    }
                )
                _log.info("sandbox dropped event %s (%s)", event.get("id"), event.get("source"))
                return drop
    return None


def _put_events(self: EventsBackend, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    original = _originals["put_events"]
    if not _drops or len(events) > 10:
        return original(self, events)  # (more than 10: moto's own validation error)
    entries: list[dict[str, Any] | None] = []
    kept: list[dict[str, Any]] = []
    for entry in events:
        try:
            detail = json.loads(entry.get("Detail") or "")
        except (TypeError, ValueError):
            detail = None  # invalid: moto answers with the error entry
        event = {
            "id": str(uuid.uuid4()),
            "source": entry.get("Source"),
            "detail-type": entry.get("DetailType"),
            "detail": detail,
        }
        valid = bool(entry.get("Source") and entry.get("DetailType")) and detail is not None
        if valid and take_drop(event) is not None:
            entries.append({"EventId": event["id"]})  # accepted, then lost
            continue
        entries.append(None)
        kept.append(entry)
    answers = iter(original(self, kept) if kept else [])
    return [entry if entry is not None else next(answers) for entry in entries]


def install() -> None:
    """Hook moto's PutEvents (idempotent)."""
    with _lock:
        if "put_events" in _originals:
            return
        _originals["put_events"] = EventsBackend.put_events
        EventsBackend.put_events = _put_events  # type: ignore[method-assign]
