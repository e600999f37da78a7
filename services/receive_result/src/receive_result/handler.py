"""Lambda entry point: observability, parse, deliver. The logic is in service.py."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
from aws_lambda_powertools.utilities.typing import LambdaContext

from approval_core.clients import client
from approval_core.idempotency import idempotent
from approval_core.records import ApprovalRecords
from receive_result.automation import ApprovalAutomation
from receive_result.callbacks import WorkflowCallbacks
from receive_result.errors import MalformedEvent, UnexpectedEvent
from receive_result.models import Delivery, StepStatusEvent
from receive_result.observability import logger, metrics, tracer
from receive_result.service import ResultReceiver
from receive_result.settings import Settings

# Created during initialisation, reused by every invocation of this environment.
_ssm = client("ssm")
_dynamodb = client("dynamodb")
_stepfunctions = client("stepfunctions")

# Every delivery of one approval's decision (duplicate events, retries, other events of
# the same automation) shares one idempotency key: the approval id.
_idempotency_config = IdempotencyConfig(
    event_key_jmespath="approval_id", expires_after_seconds=86400
)


@cache
def _app() -> tuple[ResultReceiver, Callable[..., Delivery]]:
    settings = Settings.from_environment()
    receiver = ResultReceiver(
        automation=ApprovalAutomation(_ssm),
        records=ApprovalRecords(_dynamodb, settings.table_name),
        callbacks=WorkflowCallbacks(_stepfunctions),
        settings=settings,
    )
    deliver = idempotent(
        receiver.deliver,
        argument="decision",
        result_type=Delivery,
        table_name=settings.table_name,
        client=_dynamodb,
        config=_idempotency_config,
    )
    return receiver, deliver


@logger.inject_lambda_context(log_event=True)  # SSM events carry no secret
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    receiver, deliver = _app()
    try:
        step_event = StepStatusEvent.parse(event)
    except MalformedEvent as error:
        logger.error("Malformed event", extra={"problem": str(error)})
        raise
    tracer.put_annotation(key="automation_execution_id", value=step_event.automation_execution_id)
    try:
        decision = receiver.decision_for(step_event)
    except UnexpectedEvent as error:
        logger.error("Unexpected event", extra={"problem": str(error)})
        raise
    if decision is None:
        return {"status": "IGNORED", "automation_execution_id": step_event.automation_execution_id}
    tracer.put_annotation(key="approval_id", value=decision.approval_id)
    _idempotency_config.register_lambda_context(context)
    return deliver(decision=decision).to_dict()
