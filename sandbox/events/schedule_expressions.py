"""EventBridge's schedule expressions, read as AWS documents them (moto stores them only).

- ``rate(N minute|minutes|hour|hours|day|days)``: every N units from an anchor.
- ``cron(Minutes Hours Day-of-month Month Day-of-week Year)``, AWS's six fields, UTC:
  numbers, ``*``, ``?``, ranges ``a-b``, lists ``a,b``, steps ``*/n`` ``a/n`` ``a-b/n``, month
  names ``JAN``-``DEC``, day names ``SUN``-``SAT`` (1 = Sunday), ``L`` and ``nW``/``LW`` in
  day-of-month, ``nL`` and ``n#k`` in day-of-week. Both day fields given: both must match
  (AWS refuses that combination; moto stores it).
- An expression moto accepted but this module cannot read is None (``parse``), one warning in
  the log; nothing moto accepts is refused.
"""

from __future__ import annotations

import calendar
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

_log = logging.getLogger(__name__)

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
