"""The receive_result function's logic: read the decision from SSM, deliver it to the
workflow exactly once. sweep_approvals delivers through it too."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import NoReturn

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from approval_core.clock import utc_now
from approval_core.records import (
    ApprovalRecord,
    ApprovalRecords,
    ApprovalStatus,
    CallbackAlreadyFinished,
    CallbackStatus,
    DeliveryLeaseHeld,
    RecordNotPending,
)
from approval_core.stages import Stage, named_results
from receive_result.automation_supervisor import AutomationSupervisor
from receive_result.callbacks import CallbackRefused, WorkflowCallbacks
from receive_result.errors import StepNotTerminalYet, UnexpectedEvent
from receive_result.logic.next_stage import NextStage
from receive_result.models import (
    APPROVE_ACTION,
    ApprovalStep,
    Decision,
    Delivery,
    Outcome,
    StepStatusEvent,
)
from receive_result.observability import logger, metrics
from receive_result.settings import Settings

# Pauses before each re-read of an automation whose event says its step ended while SSM
# still shows it running: short, so the function answers in seconds either way.
REREAD_DELAYS_SECONDS: tuple[float, ...] = (0.5, 1.5)
_OUTCOMES = frozenset(outcome.value for outcome in Outcome)
# The function that claims a decision, by the path it came by (the record's delivered_by).
_DELIVERING_FUNCTION = {"event": "receive_result", "sweep": "sweep_approvals"}
# Added to every lease: the clocks of two functions' hosts may differ by this much (AWS
# documents no bound: docs/aws-behaviour.md#lambda-timeout).
LEASE_CLOCK_MARGIN_SECONDS = 10


class ReceiveResult:
    def __init__(
        self,
        automation: AutomationSupervisor,
        records: ApprovalRecords,
        callbacks: WorkflowCallbacks,
        settings: Settings,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        next_stage: NextStage | None = None,
    ):
        """`next_stage`: asks the stage after one that approved (None: this function cannot
        start automations, so an approval of several stages cannot go on here)."""
        self._automation = automation
        self._records = records
        self._callbacks = callbacks
        self._settings = settings
        self._clock = clock
        self._sleep = sleep
        self._next_stage = next_stage

    def decision_for(self, event: StepStatusEvent) -> Decision | None:
        """The decision SSM holds for the event's automation, or None when there is
        nothing to deliver (not this gate's automation, or an event that does not say the
        step ended). Raises StepNotTerminalYet when the event says the step ended and SSM
        still shows it running after a few re-reads."""
        if event.document_name != self._settings.document_name or event.action != APPROVE_ACTION:
            raise UnexpectedEvent(
                f"event for document {event.document_name!r}, action {event.action!r}: this "
                f"function handles {APPROVE_ACTION} steps of {self._settings.document_name!r} "
                "only; fix the EventBridge rule's pattern"
            )
        step = self._gate_step(event.automation_execution_id)
        if step is None:
            return None
        decision = step.decision()
        if decision is None and event.says_terminal:
            # The event may arrive before SSM's reads show what it reports
            # (docs/aws-behaviour.md#undocumented-read-after-event): read again a few
            # times before handing the event back to Lambda's retries.
            for delay in REREAD_DELAYS_SECONDS:
                self._sleep(delay)
                step = self._gate_step(event.automation_execution_id) or step
                decision = step.decision()
                if decision is not None:
                    break
            else:
                self._step_not_terminal(step, event.status)
        if decision is None:
            logger.info(
                "Ignored: the event does not say the approval step ended",
                extra={"approval_id": step.approval_id, "event_status": event.status},
            )
        return decision

    def decision_of(self, automation_execution_id: str) -> Decision | None:
        """The decision SSM holds for one automation, or None (not this gate's, or the
        approval step has not finished)."""
        step = self._gate_step(automation_execution_id)
        if step is None:
            return None
        decision = step.decision()
        if decision is None:
            logger.info(
                "Skipped: SSM does not show the approval step finished yet",
                extra={"approval_id": step.approval_id, "step_status": step.step_status},
            )
        return decision

    def _gate_step(self, automation_execution_id: str) -> ApprovalStep | None:
        step = self._automation.read(automation_execution_id)
        if step is None or step.approval_id is None:
            logger.warning(
                "Ignored: the automation does not exist or was not started by this gate",
                extra={"automation_execution_id": automation_execution_id},
            )
            return None
        logger.set_correlation_id(step.approval_id)
        return step

    def _step_not_terminal(self, step: ApprovalStep, event_status: str) -> NoReturn:
        """Raises StepNotTerminalYet: an event that says the step ended, about a step SSM
        shows running, is retried and never dropped (a forged one ends in the dead-letter
        queue, where it is seen)."""
        metrics.add_metric(name="ResultEventsNotYetReadable", unit=MetricUnit.Count, value=1)
        logger.warning(
            "SSM does not show the approval step ended yet, although the event says so: "
            "raising for a retry",
            extra={
                "approval_id": step.approval_id,
                "automation_execution_id": step.automation_execution_id,
                "event_status": event_status,
                "step_status": step.step_status,
            },
        )
        raise StepNotTerminalYet(
            f"automation {step.automation_execution_id} (approval {step.approval_id}): the "
            f"event says the approval step is {event_status}, SSM still shows it "
            f"{step.step_status or 'without a status'} after {len(REREAD_DELAYS_SECONDS) + 1} "
            "reads. Lambda retries the event, then keeps it in the dead-letter queue (redrive "
            "it with `approvals redrive`); the sweep delivers the decision once SSM shows it."
        )

    def _withdraw_the_other(self, decision: Decision, record: ApprovalRecord) -> None:
        """An escalated stage settled by one of its two automations: the other request is
        withdrawn (cancelled), so nobody is asked any more."""
        other = _other_automation(decision, record)
        if other and self._automation.cancel(other):
            logger.info("The stage's other request withdrawn", extra={"withdrawn": other})

    def deliver(self, decision: Decision, via: str = "event") -> Delivery:
        """Delivers the decision once, whoever else delivers it (duplicate events, retries,
        the sweep): the record's conditional writes decide, with no store of their own.
        `via` (event, sweep): the path, kept with the result. The attempt that claims the
        callback holds it for its function's timeout (settings.delivery_lease_seconds): no
        other calls back meanwhile (DeliveryLeaseHeld)."""
        return self._deliver(decision, via)._replace(via=via)

    def _deliver(self, decision: Decision, via: str) -> Delivery:
        """Claims the decision on the record (PENDING -> DECIDED, once) and answers the
        workflow. A claim left SENDING by an attempt that stopped half-way is taken over once
        its lease has run out, and finished; Step Functions refuses a second answer to one
        task, so the workflow sees one. A stage before the last that approved asks the next
        stage instead (logic/next_stage.py)."""
        if decision.escalated and not decision.is_decided_by_approvers:
            # The escalation expired or was stopped: the stage still waits on its approvers.
            logger.info(
                "Ignored: the stage's escalation ended without a decision",
                extra={"outcome": decision.outcome.value, "stage": decision.stage_number},
            )
            return Delivery(decision.approval_id, decision.outcome.value, "IGNORED")
        if decision.approves_a_stage_before_the_last:
            if self._next_stage is None:
                raise UnexpectedEvent(
                    f"approval {decision.approval_id}: stage {decision.stage_number} of "
                    f"{decision.stage_count} approved, and this function cannot start the "
                    "next stage (NOTIFICATION_TOPIC_ARN is not set): deploy it with the "
                    "approval_gate module's settings"
                )
            advanced = self._next_stage.advance(decision)
            if isinstance(advanced, Delivery):
                return advanced
            decision = advanced  # the approval ends at this stage
        now = self._clock()
        lease = self._settings.delivery_lease_seconds + LEASE_CLOCK_MARGIN_SECONDS
        lease_until = int(now.timestamp()) + lease
        delivered_by = _DELIVERING_FUNCTION.get(via, via)
        try:
            record = self._records.claim_decision(
                decision.approval_id,
                decision.outcome.value,
                now.isoformat(),
                decided_by=[d.to_output() for d in decision.decided_by],
                delivered_by=delivered_by,
                # One stage: its result is the decision itself (decided_by), not stored twice:
                # a record past 1 KB costs 2 write units per write.
                stage_result=decision.stage_result() if decision.stage_count > 1 else None,
                automation_execution_id=decision.automation_execution_id,
                lease_until=lease_until,
            )
            _count_decision(decision, seconds=int(now.timestamp()) - record.requested_epoch)
        except RecordNotPending as claimed:
            record = claimed.record
            if record.status is ApprovalStatus.PENDING:
                # The approval waits on another automation now: this one's stage was
                # passed (or withdrawn), and its late event decides nothing.
                logger.info(
                    "Ignored: an event of a stage the approval has passed",
                    extra={"waiting_on": record.automation_execution_id},
                )
                return Delivery(decision.approval_id, decision.outcome.value, "DUPLICATE")
            if record.status is ApprovalStatus.CLOSED:
                logger.info(
                    "Ignored: the workflow ended before the decision",
                    extra={"closed_reason": record.closed_reason},
                )
                return Delivery(decision.approval_id, decision.outcome.value, "CLOSED")
            if record.callback is not CallbackStatus.SENDING:
                logger.info("Duplicate: the decision was delivered before")
                return Delivery(decision.approval_id, record.outcome or "", "DUPLICATE")
            taken = self._take_over(record, int(now.timestamp()), lease_until, delivered_by)
            if taken is None:
                return Delivery(decision.approval_id, record.outcome or "", "DUPLICATE")
            record = taken
            if record.outcome in _OUTCOMES and record.outcome != decision.outcome.value:
                # The claimed outcome stands: a NotStarted given up by the sweep reads as
                # Cancelled in SSM afterwards (the sweep cancelled the queued automation).
                decision = decision._replace(outcome=Outcome(record.outcome))
        except LookupError:
            logger.warning("Ignored: no approval record for this approval id")
            return Delivery(decision.approval_id, decision.outcome.value, "NO_RECORD")
        try:
            return self._call_back(decision, record, now)
        except Exception:
            # An attempt that fails gives its lease back, so that Lambda's retry (or the
            # next sweep) finishes the delivery at once, not after the lease runs out.
            self._records.release_delivery(decision.approval_id, lease_until)
            raise

    def _take_over(
        self, record: ApprovalRecord, now_epoch: int, lease_until: int, delivered_by: str
    ) -> ApprovalRecord | None:
        """A delivery that stopped half-way (callback SENDING) taken over, once its holder's
        lease has run out; None when it finished meanwhile. Raises DeliveryLeaseHeld while
        another attempt holds it: the event path's Lambda retries later, the sweep skips it."""
        try:
            record = self._records.take_over_delivery(
                record.approval_id, now_epoch, lease_until, delivered_by
            )
        except DeliveryLeaseHeld as held:
            logger.info(
                "Stepped aside: another attempt is delivering this decision",
                extra={
                    "delivered_by": held.record.delivered_by,
                    "lease_until": held.record.delivery_lease_until,
                },
            )
            raise
        except CallbackAlreadyFinished:
            logger.info("Duplicate: the decision was delivered meanwhile")
            return None
        logger.warning("Resuming a delivery that stopped before it was recorded")
        return record

    def _call_back(self, decision: Decision, record: ApprovalRecord, now: datetime) -> Delivery:
        """Answers the workflow of a claimed decision and records how it went."""
        try:
            stages = _stages_of(record, decision)
            if decision.is_decided_by_approvers:
                self._callbacks.succeed(record.task_token, decision.task_output(stages))
            else:
                error, cause = decision.task_failure(str(stages[-1]["name"]) if stages else None)
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
        self._withdraw_the_other(decision, record)
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


def _other_automation(decision: Decision, record: ApprovalRecord) -> str | None:
    """Of an escalated stage's two automations, the one that did not decide."""
    pair = {record.automation_execution_id, record.escalation_automation_execution_id}
    if (
        record.escalation_automation_execution_id is None
        or decision.automation_execution_id not in pair
    ):
        return None
    (other,) = pair - {decision.automation_execution_id}
    return other


def _stages_of(record: ApprovalRecord, decision: Decision) -> list[dict[str, object]]:
    """Each ended stage's result with its name, in order, the deciding one last (a one-stage
    approval's is not stored: the decision itself)."""
    stages = [Stage.from_record(s) for s in record.stages or []]
    results = list(record.stage_results or [])
    if not any(r.get("stage") == decision.stage_number for r in results):
        results.append(decision.stage_result())
    return named_results(stages, results)


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
