"""The receive_result function (EventBridge rule on the approve step's status in SSM):
observability, parse, deliver the decision. Its logic: logic/receive_result.py."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from approval_core.clients import client
from receive_result.delivery import DeliveryParts, wire_delivery
from receive_result.errors import MalformedEvent, UnexpectedEvent
from receive_result.models import StepStatusEvent
from receive_result.observability import logger, metrics, tracer
from receive_result.settings import Settings

if TYPE_CHECKING:  # annotations only: not imported at a cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

# Created during initialisation, reused by every invocation of this environment.
_ssm = client("ssm")
_dynamodb = client("dynamodb")
_stepfunctions = client("stepfunctions")


@cache
def _app() -> DeliveryParts:
    return wire_delivery(
        Settings.from_environment(),
        ssm=_ssm,
        dynamodb=_dynamodb,
        stepfunctions=_stepfunctions,
    )


@logger.inject_lambda_context(log_event=True)  # SSM events carry no secret
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    app = _app()
    try:
        step_event = StepStatusEvent.parse(event)
    except MalformedEvent as error:
        logger.error("Malformed event", extra={"problem": str(error)})
        raise
    tracer.put_annotation(key="automation_execution_id", value=step_event.automation_execution_id)
    try:
        # Raises StepNotTerminalYet (logged and counted) for an event ahead of SSM's reads:
        # Lambda retries it, then the dead-letter queue keeps it.
        decision = app.receiver.decision_for(step_event)
    except UnexpectedEvent as error:
        logger.error("Unexpected event", extra={"problem": str(error)})
        raise
    if decision is None:
        return {"status": "IGNORED", "automation_execution_id": step_event.automation_execution_id}
    tracer.put_annotation(key="approval_id", value=decision.approval_id)
    # Raises DeliveryLeaseHeld while another attempt is calling back: Lambda retries later.
    return app.receiver.deliver(decision).to_dict()
