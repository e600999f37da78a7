"""EventBridge delivers to Lambda functions and Step Functions state machines.

moto 5.2.5 raises NotImplementedError for these targets (AWS_FACTS.md). Here a matching event
is delivered on a background thread, as EventBridge does:

- Lambda: an asynchronous invocation of the target (a qualified ARN invokes that alias or
  version); from there Lambda's own retries and dead-letter queue apply
  (``sandbox.awslambda.asynchronous``). Step Functions: ``StartExecution`` with the event as
  input, as the target's ``RoleArn``.
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
"""

from __future__ import annotations

import copy
import json
import logging
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jsonpath_ng.ext import parse as jsonpath  # a dependency of moto's events
from moto.awslambda.utils import get_backend as lambda_backend
from moto.events.models import Rule
from moto.events.utils import EventTemplateParser
from moto.stepfunctions.responses import get_backend as sfn_backend

from sandbox import iam
from sandbox.awslambda.asynchronous import invoke_async
from sandbox.awslambda.messaging import send_message
from sandbox.awslambda.settings import lambda_settings
from sandbox.core import background, faults
from sandbox.core.clock import clock

_log = logging.getLogger(__name__)

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


def target_kind(arn: str) -> str | None:
    """``lambda`` or ``states`` for the targets the sandbox delivers to, else None (moto's)."""
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
        kind = target_kind(self.arn)
        parts = self.arn.split(":")
        region, account = parts[3], parts[4] or self.account_id
        if kind == "lambda":
            fault = faults.firing_fault({"lambda", "awslambda"}, "Invoke")
            if fault is not None:
                raise DeliveryError(fault.error_code, fault.message, fault.status)
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
                fn = lambda_backend(account, region).get_function(self.arn)
                invoke_async(fn, self.arn, self.payload)
            except DeliveryError:
                raise
            except Exception as exc:
                raise _delivery_error(exc) from exc
        elif kind == "states":
            fault = faults.firing_fault({"stepfunctions"}, "StartExecution")
            if fault is not None:
                raise DeliveryError(fault.error_code, fault.message, fault.status)
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
            if background.stopping():
                return
            if not failure.retryable:
                return self._dead_letter(failure, retries, None)
            if retries >= max_retries:
                return self._dead_letter(failure, retries, "MaximumRetryAttempts")
            delay = min(
                lambda_settings.eventbridge_retry_delay * 2**retries,
                lambda_settings.eventbridge_max_retry_delay,
            )
            if not background.sleep(delay * random.uniform(0.8, 1.0)):
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
        send_message(
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
    background.spawn(delivery.run, name=f"events-{rule.name}-{target.get('Id')}")
