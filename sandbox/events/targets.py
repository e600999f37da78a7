"""EventBridge rules deliver to Lambda functions and Step Functions state machines.

moto 5.2.5 raises NotImplementedError for these targets (AWS_FACTS.md). Here a matching event
is delivered on a background thread, as EventBridge does:

- Lambda: an asynchronous invocation of the target (a qualified ARN invokes that alias or
  version); from there Lambda's own retries and dead-letter queue apply
  (``sandbox.lambda_runtime``). Step Functions: ``StartExecution`` with the event as input.
- The target's input: the event (EventBridge's envelope, ``time`` in ISO 8601), or ``Input``
  (constant JSON), ``InputPath`` (a JSONPath into the event) or ``InputTransformer`` (moto's
  own template parser).
- A delivery that fails (function missing, throttled, an injected fault on ``lambda:Invoke``)
  is retried with exponential backoff within the target's ``RetryPolicy``
  (``MaximumRetryAttempts``, default 185; ``MaximumEventAgeInSeconds``, default 86400, in
  sandbox-clock time), then sent to the target's ``DeadLetterConfig`` queue with AWS's
  message attributes (``RULE_ARN``, ``TARGET_ARN``, ``ERROR_CODE``, ``ERROR_MESSAGE``,
  ``EXHAUSTED_RETRY_CONDITION``, ``RETRY_ATTEMPTS``). As AWS documents, a target that does not
  exist (or is not allowed) goes to the dead-letter queue without retries; only throttling
  and server errors are retried.
- Every other target type goes to moto. A target without ``InputTransformer`` receives the
  event in EventBridge's envelope (moto's default template leaves out ``account``).
- A rule whose ``State`` is ``DISABLED`` receives nothing; a rule with a ``ScheduleExpression``
  and no ``EventPattern`` receives only its scheduled events (``sandbox.schedules``), not
  every event on the bus as moto's empty pattern would give it.
- ``drop_events(source, detail_type=None, detail=None, times=1)``: the next matching events
  reach no rule at all (SSM events are best effort, AWS_FACTS.md). The check sits where
  events enter the bus (moto's ``put_events``, and the scheduled events): PutEvents still
  answers with an ``EventId``, and ``automation_events`` listeners still see SSM's events,
  since SSM did emit them; only the delivery is lost.
"""

from __future__ import annotations

import copy
import json
import logging
import random
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jsonpath_ng.ext import parse as jsonpath  # a dependency of moto's events
from moto.events.models import EventPattern, EventsBackend, Rule
from moto.events.utils import EventTemplateParser

from sandbox import faults, iam, lambda_runtime
from sandbox.clock import clock

_log = logging.getLogger(__name__)
_originals: dict[str, Any] = {}
_lock = threading.Lock()

EVENTS_PRINCIPAL = "events.amazonaws.com"
DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 185
DEFAULT_MAXIMUM_EVENT_AGE_SECONDS = 86400
# EventBridge retries 429 and 5xx answers only (AWS re:Post "EventBridge FailedInvocation").
_ERROR_CODES = {
    "ResourceNotFoundException": ("NO_RESOURCE", False),
    "StateMachineDoesNotExist": ("NO_RESOURCE", False),
    "AccessDeniedException": ("NO_PERMISSIONS", False),
    "TooManyRequestsException": ("THROTTLING", True),
    "ThrottlingException": ("THROTTLING", True),
}


class DeliveryError(Exception):
    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    @property
    def dlq_code(self) -> str:
        known = _ERROR_CODES.get(self.code)
        if known:
            return known[0]
        return "INTERNAL_ERROR" if self.status >= 500 else "SDK_CLIENT_ERROR"

    @property
    def retryable(self) -> bool:
        known = _ERROR_CODES.get(self.code)
        if known:
            return known[1]
        return self.status == 429 or self.status >= 500


def _target_kind(arn: str) -> str | None:
    parts = arn.split(":")
    if len(parts) < 6:
        return None
    if parts[2] == "lambda" and parts[5] == "function":
        return "lambda"
    if parts[2] == "states" and parts[5] == "stateMachine":
        return "states"
    return None


def envelope(event: dict[str, Any]) -> dict[str, Any]:
    """The event as EventBridge delivers it (moto keeps ``time`` as epoch seconds)."""
    moment = event.get("time")
    if isinstance(moment, int | float):
        moment = datetime.fromtimestamp(float(moment), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": event.get("version", "0"),
        "id": event.get("id"),
        "detail-type": event.get("detail-type"),
        "source": event.get("source"),
        "account": event.get("account"),
        "time": moment,
        "region": event.get("region"),
        "resources": event.get("resources", []),
        "detail": event.get("detail", {}),
    }


def target_input(target: dict[str, Any], event: dict[str, Any]) -> str:
    """What the target receives: the event, ``Input``, ``InputPath`` or ``InputTransformer``."""
    if target.get("Input") is not None:
        return str(target["Input"])
    if target.get("InputPath"):
        matches = jsonpath(target["InputPath"]).find(event)
        return json.dumps(matches[0].value if matches else None)
    transformer = target.get("InputTransformer")
    if transformer:
        with_ingestion = {**event, "ingestion-time": event.get("time")}
        try:
            return json.dumps(
                EventTemplateParser.parse(
                    input_template=transformer.get("InputTemplate"),
                    input_paths_map=transformer.get("InputPathsMap", {}),
                    event=with_ingestion,
                )
            )
        except ValueError:  # a template whose result is not JSON: a plain string
            text = transformer.get("InputTemplate", "")
            for key, path in (transformer.get("InputPathsMap") or {}).items():
                found = jsonpath(path).find(event)
                value = found[0].value if found else ""
                text = text.replace(
                    f"<{key}>", value if isinstance(value, str) else json.dumps(value)
                )
            return json.dumps(text)
    return json.dumps(event)


@dataclass
class Delivery:
    rule_arn: str
    account_id: str
    target: dict[str, Any]
    event: dict[str, Any]
    payload: str
    received_at: datetime = field(default_factory=clock.now)

    @property
    def arn(self) -> str:
        return str(self.target["Arn"])

    def _attempt(self) -> None:
        """One delivery; raises DeliveryError when the target's service refuses it."""
        kind = _target_kind(self.arn)
        parts = self.arn.split(":")
        region, account = parts[3], parts[4] or self.account_id
        if kind == "lambda":
            fault = faults._firing_fault({"lambda", "awslambda"}, "Invoke")
            if fault is not None:
                raise DeliveryError(fault.error_code, fault.message, fault.status)
            from moto.awslambda.utils import get_backend

            try:
                # The function's resource-based policy must allow EventBridge for this rule
                # (docs/aws-behaviour.md#lambda-resource-policy-eventbridge).
                iam.authorize(
                    iam.service_caller(EVENTS_PRINCIPAL, self.account_id),
                    "lambda:InvokeFunction",
                    self.arn,
                    region=region,
                    source_arn=self.rule_arn,
                )
                fn = get_backend(account, region).get_function(self.arn)
                lambda_runtime.invoke_async(fn, self.arn, self.payload)
            except DeliveryError:
                raise
            except Exception as exc:
                raise _delivery_error(exc) from exc
        elif kind == "states":
            fault = faults._firing_fault({"stepfunctions"}, "StartExecution")
            if fault is not None:
                raise DeliveryError(fault.error_code, fault.message, fault.status)
            from moto.stepfunctions.responses import get_backend as sfn_backend

            try:
                # EventBridge starts the workflow as the target's role.
                role_arn = str(self.target.get("RoleArn") or "")
                if not role_arn:
                    raise DeliveryError(
                        "AccessDeniedException", f"target {self.arn} has no RoleArn", 400
                    )
                caller = iam.assume_role_as_service(
                    role_arn,
                    EVENTS_PRINCIPAL,
                    region=region,
                    session_name="events",
                    source_arn=self.rule_arn,
                )
                iam.authorize(caller, "states:StartExecution", self.arn, region=region)
                sfn_backend(account, region).start_execution(
                    state_machine_arn=self.arn, name="", execution_input=self.payload
                )
            except DeliveryError:
                raise
            except Exception as exc:
                raise _delivery_error(exc) from exc

    def run(self) -> None:
        policy = self.target.get("RetryPolicy") or {}
        max_retries = int(policy.get("MaximumRetryAttempts", DEFAULT_MAXIMUM_RETRY_ATTEMPTS))
        max_age = float(policy.get("MaximumEventAgeInSeconds", DEFAULT_MAXIMUM_EVENT_AGE_SECONDS))
        retries = 0
        while True:
            try:
                self._attempt()
                return
            except DeliveryError as error:
                failure = error
            if lambda_runtime.stopping():
                return
            if not failure.retryable:
                return self._dead_letter(failure, retries, None)
            if retries >= max_retries:
                return self._dead_letter(failure, retries, "MaximumRetryAttempts")
            settings = lambda_runtime.lambda_settings
            delay = min(
                settings.eventbridge_retry_delay * 2**retries, settings.eventbridge_max_retry_delay
            )
            if not lambda_runtime.sleep(delay * random.uniform(0.8, 1.0)):
                return
            retries += 1
            if (clock.now() - self.received_at).total_seconds() >= max_age:
                return self._dead_letter(failure, retries, "MaximumEventAgeInSeconds")

    def _dead_letter(self, error: DeliveryError, retries: int, condition: str | None) -> None:
        queue_arn = (self.target.get("DeadLetterConfig") or {}).get("Arn")
        _log.warning(
            "EventBridge dropped event %s for %s: %s %s",
            self.event.get("id"),
            self.arn,
            error.code,
            error.message,
        )
        if not queue_arn:
            return
        attributes = {
            "RULE_ARN": self.rule_arn,
            "TARGET_ARN": self.arn,
            "ERROR_CODE": error.dlq_code,
            "ERROR_MESSAGE": f"{error.code}: {error.message}"[:1024],
            "RETRY_ATTEMPTS": str(retries),
        }
        if condition:
            attributes["EXHAUSTED_RETRY_CONDITION"] = condition
        lambda_runtime.send_message(
            self.account_id,
            queue_arn,
            json.dumps(self.event),
            attributes,
            sender=iam.service_caller(EVENTS_PRINCIPAL, self.account_id),
            source_arn=self.rule_arn,
        )


def _delivery_error(exc: Exception) -> DeliveryError:
    code = getattr(exc, "error_type", None) or getattr(exc, "code", None) or type(exc).__name__
    status = getattr(exc, "code", 500)
    if not isinstance(status, int):
        status = 400
    if not isinstance(code, str):
        code = type(exc).__name__
    message = getattr(exc, "message", None) or str(exc)
    return DeliveryError(code, str(message), status)


def deliver(rule: Rule, target: dict[str, Any], event: dict[str, Any]) -> None:
    """Deliver ``event`` to a Lambda or Step Functions ``target`` of ``rule`` (background)."""
    delivered = envelope(event)
    delivery = Delivery(
        rule_arn=rule.arn,
        account_id=rule.account_id,
        target=copy.deepcopy(target),
        event=delivered,
        payload=target_input(target, delivered),
    )
    lambda_runtime.spawn(delivery.run, name=f"events-{rule.name}-{target.get('Id')}")


def enabled(rule: Rule) -> bool:
    """``ENABLED`` (or ``ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS``), not ``DISABLED``."""
    return str(rule.state or "ENABLED").upper().startswith("ENABLED")


def _send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
    if not enabled(self):
        return None
    if self.scheduled_expression and not self.event_pattern.get_pattern():
        return None  # a schedule-only rule: its events come from sandbox.schedules
    if not self.event_pattern.matches_event(original_event):
        return None
    route(self, original_event, transform_input)
    return None


def route(rule: Rule, original_event: Any, transform_input: bool = True) -> None:
    """Send ``original_event`` (moto's form: ``time`` in epoch seconds) to every target of
    ``rule``, without matching its pattern: ours in the background, the others to moto."""
    ours = [target for target in rule.targets if _target_kind(str(target.get("Arn", "")))]
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


# --- dropped events (EventBridge's best-effort delivery) ----------------------------------


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
    """Hook moto's rule delivery and its PutEvents (idempotent)."""
    with _lock:
        if "send_to_targets" in _originals:
            return
        _originals["send_to_targets"] = Rule.send_to_targets
        _originals["put_events"] = EventsBackend.put_events
        Rule.send_to_targets = _send_to_targets  # type: ignore[method-assign]
        EventsBackend.put_events = _put_events  # type: ignore[method-assign]
