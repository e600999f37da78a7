"""Asynchronous invocations (``Event``), as Lambda's queue runs them: on a background thread,
with Lambda's retries (2, or the function's event invoke config), then the dead-letter queue
and the on-failure destination; on success the on-success destination. Throttled attempts
wait and try again until the event's maximum age."""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.awslambda.utils import get_backend
from moto.events.models import events_backends

from sandbox.awslambda.exceptions import TooManyRequestsException
from sandbox.awslambda.invoke import invoke_sync
from sandbox.awslambda.messaging import send_message
from sandbox.awslambda.models import FunctionSpec, Outcome
from sandbox.awslambda.roles import execution_role
from sandbox.awslambda.settings import lambda_settings
from sandbox.core import background
from sandbox.core.clock import clock

_log = logging.getLogger(__name__)


def _event_invoke_config(fn: Any) -> dict[str, Any]:
    configs = list(getattr(fn, "event_invoke_config", []) or [])
    if not configs:
        with contextlib.suppress(Exception):
            latest = get_backend(fn.account_id, fn.region).get_function(fn.function_name)
            configs = list(latest.event_invoke_config or [])
    return dict(configs[0].config) if configs else {}


def invoke_async(fn: Any, invoked_arn: str, payload: str) -> str:
    """Accept an asynchronous invocation (Lambda's queue); returns its request id."""
    spec = FunctionSpec.of(fn)
    spec.check_runnable()
    request_id = str(uuid.uuid4())
    config = _event_invoke_config(fn)
    job = _AsyncInvocation(
        fn=fn,
        invoked_arn=invoked_arn,
        payload=payload,
        request_id=request_id,
        max_retries=int(config.get("MaximumRetryAttempts", 2)),
        max_age=float(config.get("MaximumEventAgeInSeconds", 21600)),
        destinations=config.get("DestinationConfig") or {},
        dead_letter_arn=((getattr(fn, "dead_letter_config", None) or {}).get("TargetArn") or None),
    )
    background.spawn(job.run, name=f"lambda-async-{spec.function_name}")
    return request_id


@dataclass
class _AsyncInvocation:
    fn: Any
    invoked_arn: str
    payload: str
    request_id: str
    max_retries: int
    max_age: float
    destinations: dict[str, Any]
    dead_letter_arn: str | None
    accepted_at: datetime = field(default_factory=clock.now)

    def _age(self) -> float:
        return (clock.now() - self.accepted_at).total_seconds()

    def run(self) -> None:
        attempts = 0
        outcome: Outcome | None = None
        while not background.stopping():
            try:
                outcome = invoke_sync(
                    self.fn, self.invoked_arn, self.payload, request_id=self.request_id
                )
            except TooManyRequestsException:
                # Throttled (reserved concurrency): Lambda keeps the event and tries again.
                if background.stopping():
                    return None
                if self._age() >= self.max_age:
                    return self._failed(outcome, attempts, "EventAgeExceeded")
                if not background.sleep(lambda_settings.async_throttle_delay):
                    return None
                continue
            if background.stopping():  # the sandbox stopped the worker: no verdict on the event
                return None
            attempts += 1
            if outcome.function_error is None:
                return self._succeeded(outcome, attempts)
            if attempts > self.max_retries:
                return self._failed(outcome, attempts, "RetriesExhausted")
            delays = lambda_settings.async_retry_delays or (0.0,)
            delay = delays[min(attempts - 1, len(delays) - 1)]
            if not background.sleep(delay):
                return None
            if self._age() >= self.max_age:
                return self._failed(outcome, attempts, "EventAgeExceeded")
        return None

    def _record(self, outcome: Outcome | None, attempts: int, condition: str) -> dict[str, Any]:
        now = datetime.now(UTC)
        record: dict[str, Any] = {
            "version": "1.0",
            "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
            "requestContext": {
                "requestId": self.request_id,
                "functionArn": self.invoked_arn,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "requestPayload": json.loads(self.payload),
            "responseContext": {
                "statusCode": 200,
                "executedVersion": str(self.fn.version),
            },
        }
        if outcome is not None:
            if outcome.function_error:
                record["responseContext"]["functionError"] = outcome.function_error
            try:
                record["responsePayload"] = json.loads(outcome.payload or b"null")
            except ValueError:
                record["responsePayload"] = outcome.payload.decode(errors="replace")
        return record

    def _succeeded(self, outcome: Outcome, attempts: int) -> None:
        target = (self.destinations.get("OnSuccess") or {}).get("Destination")
        if target:
            send_to_destination(
                self.fn, target, self._record(outcome, attempts, "Success"), "Success"
            )

    def _failed(self, outcome: Outcome | None, attempts: int, condition: str) -> None:
        if self.dead_letter_arn:
            error = (outcome.error if outcome else None) or {}
            attributes = {
                "RequestID": self.request_id,
                "ErrorCode": "200",
                "ErrorMessage": str(error.get("errorMessage", condition))[:1024],
            }
            send_message(
                self.fn.account_id,
                self.dead_letter_arn,
                self.payload,
                attributes,
                sender=execution_role(self.fn),
            )
        target = (self.destinations.get("OnFailure") or {}).get("Destination")
        if target:
            send_to_destination(
                self.fn, target, self._record(outcome, attempts, condition), "Failure"
            )


def send_to_destination(fn: Any, target_arn: str, record: dict[str, Any], outcome: str) -> None:
    """An invocation record to an asynchronous invocation destination."""
    service = target_arn.split(":")[2]
    body = json.dumps(record)
    if service in ("sqs", "sns"):
        send_message(fn.account_id, target_arn, body, sender=execution_role(fn))
    elif service == "lambda":
        try:
            parts = target_arn.split(":")
            target = get_backend(parts[4], parts[3]).get_function(target_arn)
            invoke_async(target, target_arn, body)
        except Exception:
            _log.exception("could not invoke destination %s", target_arn)
    elif service == "events":
        parts = target_arn.split(":")
        with contextlib.suppress(Exception):
            events_backends[parts[4]][parts[3]].put_events(
                [
                    {
                        "Source": "lambda",
                        "DetailType": f"Lambda Function Invocation Result - {outcome}",
                        "Detail": body,
                        "Resources": [fn.function_arn],
                        "EventBusName": target_arn,
                    }
                ]
            )
