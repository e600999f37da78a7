"""Lambda entry points: observability, parse, act. The logic is beside them.

- lambda_handler: an SSM step status-change event -> its decision delivered (service.py).
- sweep_handler: a scheduled event -> decisions whose event was lost delivered, approvals
  SSM keeps queued counted (and given up past MAX_QUEUED_SECONDS) (sweep.py).
- workflow_ended_handler: a Step Functions execution status-change event -> the approvals
  of the ended execution closed, their automations cancelled (closing.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
from aws_lambda_powertools.utilities.typing import LambdaContext

from approval_core.clients import client
from approval_core.idempotency import idempotent
from approval_core.records import ApprovalRecords
from receive_result.automation import ApprovalAutomation
from receive_result.callbacks import WorkflowCallbacks
from receive_result.closing import WorkflowCloser
from receive_result.errors import MalformedEvent, UnexpectedEvent
from receive_result.models import Delivery, StepStatusEvent, WorkflowEndedEvent
from receive_result.observability import logger, metrics, tracer
from receive_result.service import ResultReceiver
from receive_result.settings import Settings
from receive_result.sweep import PendingSweep

# Created during initialisation, reused by every invocation of this environment.
_ssm = client("ssm")
_dynamodb = client("dynamodb")
_stepfunctions = client("stepfunctions")

# Every delivery of one approval's decision (duplicate events, retries, other events of
# the same automation) shares one idempotency key: the approval id.
_idempotency_config = IdempotencyConfig(
    event_key_jmespath="approval_id", expires_after_seconds=86400
)


@dataclass(frozen=True)
class _App:
    settings: Settings
    records: ApprovalRecords
    automation: ApprovalAutomation
    receiver: ResultReceiver
    deliver: Callable[..., Delivery]
    sweep: PendingSweep
    closer: WorkflowCloser


@cache
def _app() -> _App:
    settings = Settings.from_environment()
    records = ApprovalRecords(_dynamodb, settings.table_name)
    automation = ApprovalAutomation(_ssm)
    receiver = ResultReceiver(
        automation=automation,
        records=records,
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
        # One prefix for the three functions of this code: an event's delivery and the
        # sweep's of the same decision share one idempotency record.
        key_prefix="receive_result.deliver",
    )
    return _App(
        settings=settings,
        records=records,
        automation=automation,
        receiver=receiver,
        deliver=deliver,
        sweep=PendingSweep(
            records,
            automation,
            receiver,
            lambda d: deliver(decision=d, via="sweep"),
            max_queued_seconds=settings.max_queued_seconds,
        ),
        closer=WorkflowCloser(records, automation),
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
    _idempotency_config.register_lambda_context(context)
    return app.deliver(decision=decision).to_dict()


# Time kept back from a sweep for the last delivery to finish and the metrics to flush
# (short, so that a short function timeout still sweeps; a delivery cut off by the timeout
# is finished by the next sweep).
_SWEEP_RESERVE_MS = 3_000


@logger.inject_lambda_context(log_event=True)  # a scheduled event carries nothing secret
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def sweep_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Any event starts a sweep (the schedule's, or an operator's `{}`)."""
    _idempotency_config.register_lambda_context(context)
    report = _app().sweep.run(
        has_time=lambda: context.get_remaining_time_in_millis() > _SWEEP_RESERVE_MS
    )
    return report.to_dict()


@logger.inject_lambda_context(log_event=False)  # the event holds the workflow's input/output
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def workflow_ended_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        ended = WorkflowEndedEvent.parse(event)
    except MalformedEvent as error:
        logger.error("Malformed event", extra={"problem": str(error)})
        raise
    tracer.put_annotation(key="execution_arn", value=ended.execution_arn)
    if not ended.has_ended:
        logger.info("Ignored: the execution has not ended", extra={"status": ended.status})
        return {"execution_arn": ended.execution_arn, "status": ended.status, "closed": []}
    return _app().closer.close(ended).to_dict()
