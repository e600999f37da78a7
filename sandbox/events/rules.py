"""EventBridge rules as AWS runs them, where moto differs.

- A rule whose ``State`` is ``DISABLED`` receives nothing; a rule with a ``ScheduleExpression``
  and no ``EventPattern`` receives only its scheduled events (``sandbox.events.schedules``),
  not every event on the bus as moto's empty pattern would give it.
- Lambda and Step Functions targets get the event from the sandbox
  (``sandbox.events.targets``); every other target type goes to moto. A target without
  ``InputTransformer`` receives the event in EventBridge's envelope (moto's default template
  leaves out ``account``).
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from moto.events.models import EventPattern, Rule

from sandbox.events.targets import deliver, envelope, target_kind

_originals: dict[str, Any] = {}
_lock = threading.Lock()


def enabled(rule: Rule) -> bool:
    """``ENABLED`` (or ``ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS``), not ``DISABLED``."""
    return str(rule.state or "ENABLED").upper().startswith("ENABLED")


def _send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
    if not enabled(self):
        return None
    if self.scheduled_expression and not self.event_pattern.get_pattern():
        return None  # a schedule-only rule: its events come from sandbox.events.schedules
    if not self.event_pattern.matches_event(original_event):
        return None
    route(self, original_event, transform_input)
    return None


def route(rule: Rule, original_event: Any, transform_input: bool = True) -> None:
    """Send ``original_event`` (moto's form: ``time`` in epoch seconds) to every target of
    ``rule``, without matching its pattern: ours in the background, the others to moto."""
    ours = [target for target in rule.targets if target_kind(str(target.get("Arn", "")))]
    others = [target for target in rule.targets if target not in ours]
    if others and not transform_input:
        _to_moto(rule, others, original_event, transform_input=False)
    elif others:
        plain = [target for target in others if not target.get("InputTransformer")]
        transformed = [target for target in others if target not in plain]
        if plain:
            # EventBridge's envelope, ``time`` left in seconds for moto's targets to format.
            event = {**envelope(original_event), "time": original_event.get("time")}
            _to_moto(rule, plain, event, transform_input=False)
        if transformed:
            _to_moto(rule, transformed, original_event, transform_input=True)
    for target in ours:
        deliver(rule, target, original_event)


def _to_moto(rule: Rule, targets: list[dict[str, Any]], event: Any, transform_input: bool) -> None:
    subset = copy.copy(rule)
    subset.targets = targets
    subset.event_pattern = EventPattern.load(None)  # matched already (or a scheduled event)
    _originals["send_to_targets"](subset, event, transform_input)


def install() -> None:
    """Hook moto's rule delivery (idempotent)."""
    with _lock:
        if "send_to_targets" in _originals:
            return
        _originals["send_to_targets"] = Rule.send_to_targets
        Rule.send_to_targets = _send_to_targets  # type: ignore[method-assign]
