"""Scheduled EventBridge rules fire on the sandbox clock (moto stores them, never fires them).

A rule with ``ScheduleExpression`` ``rate(N minute|minutes|hour|hours|day|days)`` or
``cron(Minutes Hours Day-of-month Month Day-of-week Year)`` (AWS's six fields, UTC) sends,
while ``ENABLED``, AWS's scheduled event to its targets through the same path as every other
event (``sandbox.eventbridge.route``: Lambda and Step Functions targets with their
``RetryPolicy`` and ``DeadLetterConfig``, moto's SQS/logs/bus targets)::

    {"version": "0", "id": uuid, "detail-type": "Scheduled Event", "source": "aws.events",
     "account": ..., "time": the scheduled time (ISO 8601, Z), "region": ...,
     "resources": [rule ARN], "detail": {}}

- ``rate``: every N units counted from the rule's creation, its re-enabling, or a PutRule
  that changes its expression or enables it (a PutRule that changes neither keeps the count).
- ``cron``: numbers, ``*``, ``?``, ranges ``a-b``, lists ``a,b``, steps ``*/n`` ``a/n``
  ``a-b/n``, month names ``JAN``-``DEC``, day names ``SUN``-``SAT`` (1 = Sunday), ``L`` and
  ``nW``/``LW`` in day-of-month, ``nL`` and ``n#k`` in day-of-week. Both day fields given:
  both must match (AWS refuses that combination; moto stores it).
- An expression moto accepted but this module cannot read never fires (one warning in the
  log); nothing moto accepts is refused.
- A clock that jumps over several periods (``clock.advance``) fires once per missed period,
  at most ``schedule_settings.max_catch_up`` (10): the most recent ones, each with its own
  scheduled ``time``; older missed periods are skipped (logged). AWS never has to catch up.
- A background ticker (daemon thread, every ``schedule_settings.tick_seconds``) fires what is
  due. It starts when a scheduled rule is put or enabled (or ``start()``); ``sandbox.reset()``
  and the stop of a ThreadedMotoServer (``LocalAws.stop``) stop it. ``fire_due()`` (HTTP:
  ``POST /moto-api/sandbox/schedules/fire``) fires what is due now, so tests need not wait.
"""

from __future__ import annotations

import calendar
import inspect
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from moto.events.models import EventsBackend, Rule, events_backends

from sandbox import eventbridge
from sandbox.clock import clock

_log = logging.getLogger(__name__)

DETAIL_TYPE = "Scheduled Event"
SOURCE = "aws.events"


@dataclass
class ScheduleSettings:
    tick_seconds: float = 1.0  # how often the ticker looks for due schedules
    max_catch_up: int = 10  # scheduled events fired at most per rule when the clock jumps

    def reset(self) -> None:
        for name, value in ScheduleSettings().__dict__.items():
            setattr(self, name, value)


schedule_settings = ScheduleSettings()


# --- expressions ---------------------------------------------------------------------------

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$", re.I)
_CRON = re.compile(r"^cron\((.*)\)$", re.I)
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {name.upper(): number for number, name in enumerate(calendar.month_abbr) if name}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}


@dataclass(frozen=True)
class Rate:
    period: timedelta

    def due(self, anchor: datetime, after: datetime, until: datetime, limit: int) -> list[datetime]:
        """The last ``limit`` times ``anchor + k * period`` (k >= 1) in ``(after, until]``."""
        if until <= anchor:
            return []
        last = (until - anchor) // self.period
        first = (after - anchor) // self.period + 1 if after > anchor else 1
        first = max(first, last - limit + 1)
        return [anchor + k * self.period for k in range(first, last + 1)]

    def count_between(self, anchor: datetime, after: datetime, until: datetime) -> int:
        if until <= anchor:
            return 0
        first = (after - anchor) // self.period + 1 if after > anchor else 1
        return max((until - anchor) // self.period - first + 1, 0)

    def next_after(self, anchor: datetime, after: datetime) -> datetime | None:
        k = (after - anchor) // self.period + 1 if after >= anchor else 1
        return anchor + k * self.period


@dataclass(frozen=True)
class Cron:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: frozenset[int]
    years: frozenset[int]
    day_of_month: Callable[[date], bool]
    day_of_week: Callable[[date], bool]

    def day_matches(self, day: date) -> bool:
        return (
            day.month in self.months
            and day.year in self.years
            and self.day_of_month(day)
            and self.day_of_week(day)
        )

    def _times(self, day: date, reverse: bool) -> Iterator[datetime]:
        hours = reversed(self.hours) if reverse else iter(self.hours)
        for hour in hours:
            minutes = reversed(self.minutes) if reverse else iter(self.minutes)
            for minute in minutes:
                yield datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)

    def due(self, anchor: datetime, after: datetime, until: datetime, limit: int) -> list[datetime]:
        """The last ``limit`` matching minutes in ``(max(anchor, after), until]``."""
        start = max(anchor, after)
        found: list[datetime] = []
        day = until.date()
        while day >= start.date() and len(found) < limit:
            if self.day_matches(day):
                for moment in self._times(day, reverse=True):
                    if start < moment <= until:
                        found.append(moment)
                        if len(found) >= limit:
                            break
            day -= timedelta(days=1)
        return sorted(found)

    def count_between(self, anchor: datetime, after: datetime, until: datetime) -> int:
        start = max(anchor, after)
        count, day, per_day = 0, start.date(), len(self.hours) * len(self.minutes)
        while day <= until.date():
            if not self.day_matches(day):
                pass
            elif start.date() < day < until.date():
                count += per_day
            else:
                count += sum(1 for moment in self._times(day, False) if start < moment <= until)
            day += timedelta(days=1)
        return count

    def next_after(self, anchor: datetime, after: datetime) -> datetime | None:
        start = max(anchor, after)
        day = start.date()
        for _ in range(366 * 8):  # a cron that matches no day of the next 8 years: none
            if self.day_matches(day):
                for moment in self._times(day, reverse=False):
                    if moment > start:
                        return moment
            day += timedelta(days=1)
        return None


Schedule = Rate | Cron


def _number(text: str, names: dict[str, int] | None) -> int:
    if names and text in names:
        return names[text]
    if not text.isdigit():
        raise ValueError(f"not a number: {text!r}")
    return int(text)


def _values(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    """A cron field of numbers, ranges, lists and steps as the set of values it matches."""
    values: set[int] = set()
    for token in text.upper().split(","):
        base, _, step_text = token.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"bad step in {token!r}")
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, names), _number(last, names)
        else:
            start = _number(base, names)
            end = high if step_text else start
        for value in (start, end):
            if not low <= value <= high:
                raise ValueError(f"{value} is outside {low}-{high}")
        if start <= end:
            span = list(range(start, end + 1))
        else:  # a range that wraps (FRI-MON)
            span = [*range(start, high + 1), *range(low, end + 1)]
        values.update(span[::step])
    return values


def _aws_weekday(day: date) -> int:
    return (day.weekday() + 1) % 7 + 1  # 1 = Sunday ... 7 = Saturday


def _last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _nearest_weekday(day: date, wanted: int) -> bool:
    """``nW``: the weekday (Mon-Fri) nearest to day ``wanted`` of the month, in the month."""
    wanted = min(wanted, _last_day(day))
    target = day.replace(day=wanted)
    if target.weekday() == 5:  # Saturday: Friday, or Monday when the 1st is a Saturday
        target = target - timedelta(days=1) if wanted > 1 else target + timedelta(days=2)
    elif target.weekday() == 6:  # Sunday: Monday, or Friday when it is the last day
        target = (
            target + timedelta(days=1) if wanted < _last_day(day) else target - timedelta(days=2)
        )
    return day == target


DayTest = Callable[[date], bool]


def _day_field(
    text: str, special: Callable[[str], DayTest | None], plain: Callable[[str], DayTest]
) -> DayTest:
    """A day field: ``*``/``?`` match every day; otherwise any of its comma-separated
    tokens, each read by ``special`` (L, W, #...) or, when it returns None, together by
    ``plain`` (numbers, names, ranges, steps)."""
    if text in ("*", "?"):
        return lambda day: True
    tests: list[DayTest] = []
    plain_tokens: list[str] = []
    for token in text.upper().split(","):
        test = special(token)
        if test is None:
            plain_tokens.append(token)
        else:
            tests.append(test)
    if plain_tokens:
        tests.append(plain(",".join(plain_tokens)))
    return lambda day: any(test(day) for test in tests)


def _day_of_month_token(token: str) -> DayTest | None:
    if token == "L":
        return lambda day: day.day == _last_day(day)
    if token == "LW":
        return lambda day: _nearest_weekday(day, _last_day(day))
    if token.endswith("W") and token[:-1].isdigit():
        number = int(token[:-1])
        if not 1 <= number <= 31:
            raise ValueError(f"bad day {token!r}")
        return lambda day: _nearest_weekday(day, number)
    return None


def _day_of_week_token(token: str) -> DayTest | None:
    if token == "L":
        return lambda day: _aws_weekday(day) == 7
    if token.endswith("L"):
        weekday = _number(token[:-1], _DAYS)
        if not 1 <= weekday <= 7:
            raise ValueError(f"bad day of week {token!r}")
        return lambda day: _aws_weekday(day) == weekday and day.day + 7 > _last_day(day)
    if "#" in token:
        name, _, nth_text = token.partition("#")
        weekday, nth = _number(name, _DAYS), int(nth_text)
        if not 1 <= weekday <= 7 or not 1 <= nth <= 5:
            raise ValueError(f"bad day of week {token!r}")
        return lambda day: _aws_weekday(day) == weekday and (day.day - 1) // 7 + 1 == nth
    return None


def _day_of_month(text: str) -> DayTest:
    def plain(tokens: str) -> DayTest:
        days = _values(tokens, 1, 31)
        return lambda day: day.day in days

    return _day_field(text, _day_of_month_token, plain)


def _day_of_week(text: str) -> DayTest:
    def plain(tokens: str) -> DayTest:
        weekdays = _values(tokens, 1, 7, _DAYS)
        return lambda day: _aws_weekday(day) in weekdays

    return _day_field(text, _day_of_week_token, plain)


@lru_cache(maxsize=256)
def parse(expression: str) -> Schedule | None:
    """The schedule of a ``rate(...)`` or ``cron(...)`` expression; None if unreadable."""
    text = (expression or "").strip()
    try:
        rate = _RATE.match(text)
        if rate:
            amount, unit = int(rate.group(1)), rate.group(2).lower().rstrip("s")
            if amount < 1:
                raise ValueError("a rate must be at least 1")
            return Rate(timedelta(seconds=amount * _UNITS[unit]))
        cron = _CRON.match(text)
        if not cron:
            raise ValueError("neither rate(...) nor cron(...)")
        fields = cron.group(1).split()
        if len(fields) != 6:
            raise ValueError(f"{len(fields)} fields, cron needs 6")
        minutes, hours, day_of_month, month, day_of_week, year = fields
        return Cron(
            minutes=tuple(sorted(_values(minutes, 0, 59))),
            hours=tuple(sorted(_values(hours, 0, 23))),
            months=frozenset(_values(month, 1, 12, _MONTHS)),
            years=frozenset(_values(year, 1970, 2199)),
            day_of_month=_day_of_month(day_of_month),
            day_of_week=_day_of_week(day_of_week),
        )
    except (ValueError, KeyError) as exc:
        _log.warning("sandbox: schedule %r never fires (%s)", expression, exc)
        return None


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
    ``eventbridge.drop_events``)."""
    fired: list[dict[str, Any]] = []
    with _fire_lock:
        now = clock.now()
        for rule in _scheduled_rules():
            if not eventbridge.enabled(rule):
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
    dropped = eventbridge.take_drop(eventbridge.envelope(event)) is not None
    if not dropped:
        try:
            eventbridge.route(rule, event)
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
            if schedule is not None and eventbridge.enabled(rule):
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
            and eventbridge.enabled(previous)
            and eventbridge.enabled(rule)
        )
        setattr(rule, _ATTRIBUTE, kept if unchanged else _State(anchor=clock.now()))
        start()
    return rule


def _enable(self: Rule) -> None:
    was_enabled = eventbridge.enabled(self)
    _originals["enable"](self)
    if self.scheduled_expression and not was_enabled:
        setattr(self, _ATTRIBUTE, _State(anchor=clock.now()))
        start()


def install() -> None:
    """Hook moto's PutRule / EnableRule and ThreadedMotoServer.stop (idempotent)."""
    from moto.server import ThreadedMotoServer

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
