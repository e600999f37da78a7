"""The logic of receive_result: read the decision from SSM, deliver it to the workflow
exactly once."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from approval_core.clock import utc_now
from approval_core.records import (
    ApprovalRecords,
    ApprovalStatus,
    CallbackAlreadyFinished,
    CallbackStatus,
    RecordNotPending,
)
from receive_result.automation import ApprovalAutomation
from receive_result.callbacks import CallbackRefused, WorkflowCallbacks
from receive_result.errors import UnexpectedEvent
from receive_result.models import APPROVE_ACTION, Decision, Delivery, StepStatusEvent
from receive_result.observability import logger, metrics
from receive_result.settings import Settings


class ResultReceiver:
    def __init__(
        self,
        automation: ApprovalAutomation,
        records: ApprovalRecords,
        callbacks: WorkflowCallbacks,
        settings: Settings,
        clock: Callable[[], datetime] = utc_now,
    ):
        self._automation = automation
        self._records = records
        self._callbacks = callbacks
        self._settings = settings
        self._clock = clock

    def decision_for(self, event: StepStatusEvent) -> Decision | None:
        """The decision SSM holds for the event's automation, or None when there is
        nothing to deliver (the event is early, forged, or not from this gate)."""
        if event.document_name != self._settings.document_name or event.action != APPROVE_ACTION:
            raise UnexpectedEvent(
                f"event for document {event.document_name!r}, action {event.action!r}: this "
                f"function handles {APPROVE_ACTION} steps of {self._settings.document_name!r} "
                "only; fix the EventBridge rule's pattern"
            )
        return self.decision_of(event.automation_execution_id, event_status=event.status)

    def decision_of(
        self, automation_execution_id: str, event_status: str | None = None
    ) -> Decision | None:
        """The decision SSM holds for one automation, or None (not this gate's, or the
        approval step has not finished)."""
        step = self._automation.read(automation_execution_id)
        if step is None or step.approval_id is None:
            logger.warning(
                "Ignored: the automation does not exist or was not started by this gate",
                extra={"automation_execution_id": automation_execution_id},
            )
            return None
        logger.set_correlation_id(step.approval_id)
        decision = step.decision()
        if decision is None:
            logger.warning(
                "Ignored: SSM has not finished the approval step, whatever the event says",
                extra={
                    "approval_id": step.approval_id,
                    "event_status": event_status,
                    "step_status": step.step_status,
                },
            )
        return decision

    def deliver(self, decision: Decision, via: str = "event") -> Delivery:
        """`via` (event, sweep) is kept with the result: a repeat answered from the
        idempotency store tells which path really delivered."""
        return dataclasses.replace(self._deliver(decision), via=via)

    def _deliver(self, decision: Decision) -> Delivery:
        """Claims the decision on the record (PENDING -> DECIDED, once) and answers the
        workflow. A claim left SENDING by an attempt that stopped half-way is finished;
        Step Functions refuses a second answer to one task, so the workflow sees one."""
        now = self._clock()
        try:
            record = self._records.claim_decision(
                decision.approval_id, decision.outcome.value, now.isoformat()
            )
            _count_decision(decision, seconds=int(now.timestamp()) - record.requested_epoch)
        except RecordNotPending as claimed:
            record = claimed.record
            if record.status is ApprovalStatus.CLOSED:
                logger.info(
                    "Ignored: the workflow ended before the decision",
                    extra={"closed_reason": record.closed_reason},
                )
                return Delivery(decision.approval_id, decision.outcome.value, "CLOSED")
            if record.callback is not CallbackStatus.SENDING:
                logger.info("Duplicate: the decision was delivered before")
                return Delivery(decision.approval_id, record.outcome or "", "DUPLICATE")
            logger.warning("Resuming a delivery that stopped before it was recorded")
        except LookupError:
            logger.warning("Ignored: no approval record for this approval id")
            return Delivery(decision.approval_id, decision.outcome.value, "NO_RECORD")

        try:
            if decision.is_decided_by_approvers:
                self._callbacks.succeed(record.task_token, decision.task_output())
            else:
                error, cause = decision.task_failure()
                self._callbacks.fail(record.task_token, error, cause)
        except CallbackRefused as refused:
            try:
                self._records.finish_callback(
                    decision.approval_id, CallbackStatus.REFUSED, now.isoformat(), refused.code
                )
            except CallbackAlreadyFinished as finished:
                # A concurrent attempt answered the workflow: ours came second.
                return _finished_elsewhere(decision, finished)
            metrics.add_metric(name="CallbacksRefused", unit=MetricUnit.Count, value=1)
            logger.warning(
                "Callback refused: the workflow no longer waits for this approval",
                extra={"approval_id": decision.approval_id, "refusal": refused.code},
            )
            return Delivery(decision.approval_id, decision.outcome.value, "REFUSED", refused.code)

        try:
            self._records.finish_callback(
                decision.approval_id, CallbackStatus.DELIVERED, now.isoformat()
            )
        except CallbackAlreadyFinished as finished:
            return _finished_elsewhere(decision, finished)
        logger.info(
            "Decision delivered",
            extra={
                "approval_id": decision.approval_id,
                "outcome": decision.outcome.value,
                "decided_by": [d.approver for d in decision.decided_by],
                "automation_execution_id": decision.automation_execution_id,
                "execution_arn": record.execution_arn,
            },
        )
        return Delivery(decision.approval_id, decision.outcome.value, "DELIVERED")


def _finished_elsewhere(decision: Decision, finished: CallbackAlreadyFinished) -> Delivery:
    logger.info(
        "Duplicate: another attempt delivered the decision at the same time",
        extra={"approval_id": decision.approval_id, "callback": finished.record.callback},
    )
    return Delivery(decision.approval_id, finished.record.outcome or "", "DUPLICATE")


def _count_decision(decision: Decision, seconds: int) -> None:
    """Once per approval, when its decision is claimed: decisions by outcome (a metric
    with its own `outcome` dimension) and the time from request to decision."""
    with single_metric(
        name="ApprovalDecisions",
        unit=MetricUnit.Count,
        value=1,
        namespace=metrics.namespace,
        default_dimensions={"service": metrics.service},
    ) as metric:
        metric.add_dimension(name="outcome", value=decision.outcome.value)
    metrics.add_metric(name="TimeToDecision", unit=MetricUnit.Seconds, value=max(0, seconds))
