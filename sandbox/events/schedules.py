"""Scheduled EventBridge rules fire on the sandbox clock (moto stores them, never fires them).

A rule with a ``ScheduleExpression`` (``rate(...)`` or ``cron(...)``,
``sandbox.events.schedule_expressions``) sends, while ``ENABLED``, AWS's scheduled event to
its targets through the same path as every other event (``sandbox.events.rules.route``:
Lambda and Step Functions targets with their ``RetryPolicy`` and ``DeadLetterConfig``, moto's
SQS/logs/bus targets)::

    {"version": "0", "id": uuid, "detail-type": "Scheduled Event", "source": "aws.events",
     "account": ..., "time": the scheduled time (ISO 8601, Z), "region": ...,
     "resources": [rule ARN], "detail": {}}

- ``rate``: every N units counted from the rule's creation, its re-enabling, or a PutRule
  that changes its expression or enables it (a PutRule that changes neither keeps the count).
- A clock that jumps over several periods (``clock.advance``) fires once per missed period,
  at most ``schedule_settings.max_catch_up`` (10): the most recent ones, each with its own
  scheduled ``time``; older missed periods are skipped (logged). AWS never has to catch up.
- A background ticker (daemon thread, every ``schedule_settings.tick_seconds``) fires what is
  due. It starts when a scheduled rule is put or enabled (or ``start()``); ``sandbox.reset()``
  and the stop of a ThreadedMotoServer (``LocalAws.stop``) stop it. ``fire_due()`` (HTTP:
  ``POST /moto-api/sandbox/schedules/fire``) fires what is due now, so tests need not wait.
"""

from __future__ import annotations

import inspect
import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.events.models import EventsBackend, Rule, events_backends
from moto.server import ThreadedMotoServer

from sandbox.core.clock import clock
from sandbox.events.drops import take_drop
from sandbox.events.rules import enabled, route
from sandbox.events.schedule_expressions import parse
from sandbox.events.settings import schedule_settings
from sandbox.events.targets import envelope

_log = logging.getLogger(__name__)

DETAIL_TYPE = "Scheduled Event"
SOURCE = "aws.events"


# --- rule state ----------------------------------------------------------------------------


@dataclass
class _State:
    """Kept on the moto Rule object (so moto's reset and DeleteRule forget it)."""

    anchor: datetime  # creation / enabling: rate periods count from here
    cursor: datetime = field(init=False)  # everything due up to here has been handled
    last_fired: datetime | None = None

    def __post_init__(self) -> None:
        self.cursor = self.anchor


_ATTRIBUTE = "_sandbox_schedule"
_fire_lock = threading.RLock()


def _state(rule: Rule) -> _State:
    state = getattr(rule, _ATTRIBUTE, None)
    if state is None:  # a rule the hooks did not see created: count from now
        state = _State(anchor=clock.now())
        setattr(rule, _ATTRIBUTE, state)
    return state


def _scheduled_rules() -> list[Rule]:
    found = []
    for _, by_region in list(events_backends.items()):
        for _, backend in list(by_region.items()):
            bus = backend.event_buses.get("default")
            if bus is None:
                continue
            found.extend(rule for rule in list(bus.rules.values()) if rule.scheduled_expression)
    return found


def _iso(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def fire_due() -> list[dict[str, Any]]:
    """Fire every enabled scheduled rule whose time has come on the sandbox clock.

    Returns one ``{"rule", "time", "id", "dropped"}`` per event sent (or dropped by
    ``sandbox.events.drops``)."""
    fired: list[dict[str, Any]] = []
    with _fire_lock:
        now = clock.now()
        for rule in _scheduled_rules():
            if not enabled(rule):
                continue
            schedule = parse(rule.scheduled_expression)
            state = _state(rule)
            if schedule is None or now <= state.cursor:
                continue
            limit = max(int(schedule_settings.max_catch_up), 1)
            due = schedule.due(state.anchor, state.cursor, now, limit)
            if len(due) >= limit:
                missed = schedule.count_between(state.anchor, state.cursor, due[0]) - 1
                if missed > 0:
                    _log.warning(
                        "sandbox: rule %s skips %d missed schedule(s) (clock jump)",
                        rule.name,
                        missed,
                    )
            state.cursor = now
            for moment in due:
                fired.append(_fire(rule, moment))
                state.last_fired = moment
    return fired


def _fire(rule: Rule, moment: datetime) -> dict[str, Any]:
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": rule.account_id,
        "time": moment.timestamp(),  # moto's form; targets get ISO 8601
        "region": rule.region_name,
        "resources": [rule.arn],
        "detail": {},
    }
    dropped = take_drop(envelope(event)) is not None
    if not dropped:
        try:
            route(rule, event)
        except Exception:  # one broken target must not stop the other rules
            _log.exception("sandbox: scheduled event of rule %s failed", rule.name)
    return {"rule": rule.arn, "time": _iso(moment), "id": event["id"], "dropped": dropped}


def schedules() -> list[dict[str, Any]]:
    """Every scheduled rule: expression, state, whether it is readable, last and next time."""
    listed = []
    with _fire_lock:
        for rule in _scheduled_rules():
            schedule = parse(rule.scheduled_expression)
            state = _state(rule)
            upcoming = None
            if schedule is not None and enabled(rule):
                upcoming = schedule.next_after(state.anchor, max(state.cursor, clock.now()))
            listed.append(
                {
                    "rule": rule.arn,
                    "name": rule.name,
                    "expression": rule.scheduled_expression,
                    "state": rule.state,
                    "valid": schedule is not None,
                    "last_fired": _iso(state.last_fired),
                    "next": _iso(upcoming),
                }
            )
    return listed


# --- the ticker ----------------------------------------------------------------------------

_ticker: tuple[threading.Thread, threading.Event] | None = None
_ticker_lock = threading.Lock()


def _tick(stop: threading.Event) -> None:
    while not stop.wait(max(float(schedule_settings.tick_seconds), 0.01)):
        try:
            fire_due()
        except Exception:  # keep ticking; say what went wrong
            _log.exception("sandbox: firing scheduled rules failed")


def start() -> None:
    """Start the ticker if it does not run (idempotent)."""
    global _ticker
    with _ticker_lock:
        if _ticker is not None and _ticker[0].is_alive():
            return
        stop_event = threading.Event()
        thread = threading.Thread(
            target=_tick, args=(stop_event,), name="sandbox-schedules", daemon=True
        )
        _ticker = (thread, stop_event)
        thread.start()


def running() -> bool:
    with _ticker_lock:
        return _ticker is not None and _ticker[0].is_alive()


def stop() -> None:
    """Stop the ticker and wait for it (idempotent)."""
    global _ticker
    with _ticker_lock:
        ticker, _ticker = _ticker, None
    if ticker is None:
        return
    thread, stop_event = ticker
    stop_event.set()
    if thread is not threading.current_thread():
        thread.join(timeout=5)


def reset() -> None:
    """Ticker stopped; existing scheduled rules count again from now (the clock was reset)."""
    stop()
    with _fire_lock:
        now = clock.now()
        for rule in _scheduled_rules():
            setattr(rule, _ATTRIBUTE, _State(anchor=now))
    schedule_settings.reset()


# --- hooks ---------------------------------------------------------------------------------

_originals: dict[str, Any] = {}


def _put_rule(self: EventsBackend, *args: Any, **kwargs: Any) -> Rule:
    original = _originals["put_rule"]
    arguments = inspect.signature(original).bind(self, *args, **kwargs).arguments
    bus = self.event_buses.get(self._normalize_event_bus_arn(arguments.get("event_bus_arn")))
    previous = bus.rules.get(arguments["name"]) if bus is not None else None
    rule = original(self, *args, **kwargs)
    if rule.scheduled_expression:
        kept = getattr(previous, _ATTRIBUTE, None)
        unchanged = (
            kept is not None
            and previous.scheduled_expression == rule.scheduled_expression
            and enabled(previous)
            and enabled(rule)
        )
        setattr(rule, _ATTRIBUTE, kept if unchanged else _State(anchor=clock.now()))
        start()
    return rule


def _enable(self: Rule) -> None:
    was_enabled = enabled(self)
    _originals["enable"](self)
    if self.scheduled_expression and not was_enabled:
        setattr(self, _ATTRIBUTE, _State(anchor=clock.now()))
        start()


def install() -> None:
    """Hook moto's PutRule / EnableRule and ThreadedMotoServer.stop (idempotent)."""
    with _ticker_lock:
        if _originals:
            return
        _originals["put_rule"] = EventsBackend.put_rule
        _originals["enable"] = Rule.enable
        _originals["server_stop"] = ThreadedMotoServer.stop

    def server_stop(server: Any) -> None:
        stop()
        _originals["server_stop"](server)

    EventsBackend.put_rule = _put_rule  # type: ignore[method-assign]
    Rule.enable = _enable  # type: ignore[method-assign]
    ThreadedMotoServer.stop = server_stop  # type: ignore[method-assign]
