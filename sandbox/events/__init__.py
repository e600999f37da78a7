"""EventBridge for moto: rules deliver as AWS's do, scheduled rules fire, events can be lost.

- ``rules``: which targets a rule's event reaches (``DISABLED`` and schedule-only rules);
- ``targets``: delivery to Lambda and Step Functions targets, with ``Input``/``InputPath``/
  ``InputTransformer``, ``RetryPolicy`` and ``DeadLetterConfig``;
- ``schedules``: ``ScheduleExpression`` rules fire on the sandbox clock
  (``schedule_expressions`` reads ``rate(...)`` and ``cron(...)``; ``settings``: the ticker);
- ``drops``: ``drop_events`` makes the next matching events reach no rule;
- ``controls``: ``/moto-api/sandbox/schedules``, ``.../schedules/fire``, ``.../events/drop``.
"""

from sandbox.events import (
    controls,  # noqa: F401  (registers its HTTP routes)
    drops,
    rules,
    schedules,
)
from sandbox.events.drops import clear_drops, drop_events


def install() -> None:
    """Hook moto's rules, PutEvents, PutRule and EnableRule (idempotent)."""
    rules.install()
    drops.install()
    schedules.install()  # scheduled rules fire on the sandbox clock


__all__ = ["clear_drops", "drop_events", "install"]
