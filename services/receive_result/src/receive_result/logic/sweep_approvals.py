"""The sweep_approvals function's logic, run on a schedule: SSM's events are best effort,
so every interval the pending approvals whose automation has finished are delivered as their
event would have been (docs/aws-behaviour.md#eventbridge-ssm-events); one that finished less
than a grace period ago is left to its event, most likely still on its way. It also watches the
automations SSM keeps queued past the account's concurrent-automation quota: they are
counted, and one queued too long is cancelled and its workflow told (Approval.NotStarted).
And it reminds the approvers of an approval still undecided when its request asked for
reminders (remind_after_seconds, max_reminders): one reminder per interval, each claimed on
the record before it is sent, so overlapping sweeps never send one twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from aws_lambda_powertools.metrics import MetricUnit

from approval_core.automations import NON_TERMINAL_STATUSES, QUEUED_STATUS, is_terminal
from approval_core.clock import utc_now
from approval_core.errors import ApprovalConcurrencyLimitExceeded, ApprovalStartThrottled
from approval_core.pacing import SsmRateExceeded
from approval_core.records import (
    MIN_REMIND_AFTER_SECONDS,
    ApprovalRecord,
    ApprovalRecords,
    ApprovalStatus,
    DeliveryLeaseHeld,
    PendingApproval,
)
from approval_core.stages import Stage
from receive_result.automation_supervisor import AutomationState, AutomationSupervisor
from receive_result.logic.escalation import Escalation
from receive_result.logic.next_stage import NEXT_STAGE
from receive_result.logic.receive_result import ReceiveResult
from receive_result.models import Decision, Delivery, Outcome
from receive_result.observability import logger, metrics
from receive_result.reminders import Reminder, ReminderNotSent
from receive_result.sweep_report import SweepReport

# A delivery result that this sweep made itself (not a duplicate of the event path's): the
# workflow answered, or the next stage of its approval asked.
_ANSWERED = ("DELIVERED", "REFUSED", NEXT_STAGE)
# An automation in one of these asks (or is about to ask) its approvers: reminders are for it.
_ASKING = NON_TERMINAL_STATUSES - {QUEUED_STATUS}


class SweepApprovals:
    """Delivers through the event path's own delivery (`receiver.deliver`, the record's
    conditional claim and its lease), so a decision delivered both by its event and by the
    sweep reaches the workflow once.

    The `pending` index it starts from is eventually consistent
    (docs/aws-behaviour.md#dynamodb-gsi-eventual-consistency): every approval it lists is
    re-read from the table (GetItem, consistent) before anything is done for it, so an
    entry that no longer waits costs no SSM read and calls nobody back; an approval the
    index does not show yet is found by the next sweep.

    `remind` sends a reminder (None: this deployment sends none). Only an approval whose
    automation asks its approvers and whose request is at least MIN_REMIND_AFTER_SECONDS
    old (the index gives its age) is re-read to see whether a reminder is due."""

    def __init__(
        self,
        records: ApprovalRecords,
        automation: AutomationSupervisor,
        receiver: ReceiveResult,
        max_queued_seconds: int,
        clock: Callable[[], datetime] = utc_now,
        remind: Callable[[Reminder], None] | None = None,
        grace_seconds: int = 0,
        escalation: Escalation | None = None,
    ):
        self._records = records
        self._automation = automation
        self._receiver = receiver
        self._max_queued_seconds = max_queued_seconds
        self._grace = timedelta(seconds=grace_seconds)
        self._escalation = escalation
        self._clock = clock
        self._remind = remind

    def run(
        self, has_time: Callable[[], bool] = lambda: True, now: datetime | None = None
    ) -> SweepReport:
        """Sweeps until done or until `has_time()` is False (the function's remaining time);
        what is left is counted and picked up by the next interval. `now`: the time the sweep
        was scheduled for (its event's), else the clock's."""
        now = now or self._clock()
        pending = list(self._records.pending())
        started = {p.automation_execution_id: p for p in pending if p.automation_execution_id}
        try:
            states = self._automation.states_of(list(started)) if started else {}
        except SsmRateExceeded as busy:
            _rate_taken(busy.action, unchecked=len(started))
            return SweepReport(pending=len(pending), finished=0, unchecked=len(started))
        statuses = {i: state.status for i, state in states.items()}
        # Any final status, not a list of them: which one an approval ends in is not
        # documented (docs/aws-behaviour.md#undocumented-rejection-status).
        ended = [i for i in started if is_terminal(statuses.get(i))]
        finished = [started[i] for i in ended if self._past_grace(states[i], now)]
        queued = [p for i, p in started.items() if statuses.get(i) == QUEUED_STATUS]
        metrics.add_metric(name="ApprovalsQueued", unit=MetricUnit.Count, value=len(queued))
        overdue = [p for p in queued if self._queued_too_long(p, now)]
        asking = [p for i, p in started.items() if statuses.get(i) in _ASKING]
        may_need_attention = [p for p in asking if self._attention_may_be_due(p, now)]
        delivered: list[str] = []
        not_started: list[str] = []
        reminded: list[str] = []
        expired: list[str] = []
        escalated: list[str] = []

        def attend(approval: PendingApproval, now: datetime) -> bool:
            done = self._attend_asking(approval, now)
            lists = {"reminded": reminded, "expired": expired, "escalated": escalated}
            lists.get(done or "", delivered).append(approval.approval_id) if done else None
            return False  # listed above

        work = (
            [(p, self._deliver_finished, delivered) for p in finished]
            + [(p, self._give_up_queued, not_started) for p in overdue]
            + [(p, attend, []) for p in may_need_attention]
        )
        unchecked = 0
        for index, (approval, act, done) in enumerate(work):
            if not has_time():
                unchecked = len(work) - index
                logger.warning(
                    "Sweep stopped for lack of time; the next one continues",
                    extra={"unchecked": unchecked},
                )
                break
            try:
                acted = act(approval, now)
            except SsmRateExceeded as busy:
                unchecked = len(work) - index
                _rate_taken(busy.action, unchecked)
                break
            except (ApprovalStartThrottled, ApprovalConcurrencyLimitExceeded):
                # A next stage or an escalation could not start now: the rest waits too.
                unchecked = len(work) - index
                _rate_taken("StartAutomationExecution", unchecked)
                break
            if acted:
                done.append(approval.approval_id)
        else:
            logger.info(
                "Sweep done",
                extra={
                    "pending": len(pending),
                    "finished": len(finished),
                    "left_to_their_event": len(ended) - len(finished),
                    "delivered": len(delivered),
                    "queued": len(queued),
                    "not_started": len(not_started),
                    "reminded": len(reminded),
                    "stages_expired": len(expired),
                    "stages_escalated": len(escalated),
                },
            )
        return SweepReport(
            pending=len(pending),
            finished=len(finished),
            delivered=tuple(delivered),
            unchecked=unchecked,
            queued=len(queued),
            not_started=tuple(not_started),
        )

    def _deliver_finished(self, approval: PendingApproval, now: datetime) -> bool:
        """True when this sweep delivered the decision (its event never came, or has not
        come yet)."""
        if self._still_waiting(approval) is None:
            return False
        decision = self._receiver.decision_of(approval.automation_execution_id or "")
        if decision is None:
            return False
        delivery = _made_by_this_sweep(self._deliver_once(decision))
        if delivery is None:
            return False  # the event path delivered it: its result came back as it was
        metrics.add_metric(name="DecisionsRecoveredBySweep", unit=MetricUnit.Count, value=1)
        logger.warning(
            "Sweep delivered a decision its event had not delivered",
            extra={
                "approval_id": decision.approval_id,
                "automation_execution_id": decision.automation_execution_id,
                "callback": delivery.callback,
            },
        )
        return True

    def _past_grace(self, state: AutomationState, now: datetime) -> bool:
        """Ended at least the grace period before `now` (an end SSM does not give: yes)."""
        return state.ended_at is None or state.ended_at <= now - self._grace

    def _queued_too_long(self, approval: PendingApproval, now: datetime) -> bool:
        return bool(self._max_queued_seconds) and (
            _seconds_since(approval.requested_epoch, now) > self._max_queued_seconds
        )

    def _give_up_queued(self, approval: PendingApproval, now: datetime) -> bool:
        """An automation SSM has kept queued (Pending, no step run, nobody asked) longer
        than MAX_QUEUED_SECONDS: cancelled, then its workflow fails with
        Approval.NotStarted through the same idempotent delivery as every decision, so it
        is told once (docs/aws-behaviour.md#ssm-automation-concurrency-queue). True when
        this sweep told it."""
        record = self._still_waiting(approval)
        if record is None or record.status is not ApprovalStatus.PENDING:
            return False
        # A later stage's automation is queued since its stage started.
        queued_seconds = _seconds_since(record.stage_started_epoch or record.requested_epoch, now)
        if queued_seconds <= self._max_queued_seconds:
            return False
        if not self._automation.cancel(record.automation_execution_id or ""):
            logger.info(
                "Not given up: the queued automation ended meanwhile; its result is delivered "
                "as any other",
                extra={"approval_id": record.approval_id},
            )
            return False
        decision = Decision(
            approval_id=record.approval_id,
            automation_execution_id=record.automation_execution_id or "",
            outcome=Outcome.NOT_STARTED,
            step_status=QUEUED_STATUS,
            queued_seconds=queued_seconds,
            max_queued_seconds=self._max_queued_seconds,
            stage_number=(record.stage_index or 0) + 1,
            stage_count=len(record.stages or []) or 1,
        )
        delivery = _made_by_this_sweep(self._deliver_once(decision))
        if delivery is None:
            return False
        metrics.add_metric(name="ApprovalsNotStarted", unit=MetricUnit.Count, value=1)
        logger.warning(
            "Approval not started: SSM kept its automation queued too long; cancelled, and "
            "the workflow told (Approval.NotStarted)",
            extra={
                "approval_id": record.approval_id,
                "automation_execution_id": record.automation_execution_id,
                "queued_seconds": queued_seconds,
                "max_queued_seconds": self._max_queued_seconds,
                "callback": delivery.callback,
            },
        )
        return True

    def _attention_may_be_due(self, approval: PendingApproval, now: datetime) -> bool:
        """Only an approval with reminders or a stage timeout of its own (the index says
        which) is read while it waits, and not before MIN_REMIND_AFTER_SECONDS: no request
        may ask for a reminder, nor time a stage out, sooner."""
        return approval.needs_attention and (
            _seconds_since(approval.requested_epoch, now) >= MIN_REMIND_AFTER_SECONDS
        )

    def _attend_asking(self, approval: PendingApproval, now: datetime) -> str | None:
        """An approval whose automation asks its approvers, read once: its stage timed out
        ("expired"), or a reminder due ("reminded"), or nothing (None)."""
        record = self._still_waiting(approval)
        if record is None or record.status is not ApprovalStatus.PENDING:
            return None
        stage = _waiting_stage(record)
        waited = _seconds_since(record.stage_started_epoch or record.requested_epoch, now)
        if stage is not None and stage.timeout_seconds and waited >= stage.timeout_seconds:
            return "expired" if self._expire_stage(record, stage, waited) else None
        if record.escalation_automation_execution_id:
            if self._deliver_escalation_decision(record):
                return "delivered"
        elif (
            self._escalation is not None
            and stage is not None
            and stage.escalates
            and waited >= (stage.escalate_after_seconds or 0)
        ):
            return "escalated" if self._escalation.escalate(record, waited) else None
        return "reminded" if self._send_reminder(record, waited) else None

    def _deliver_escalation_decision(self, record: ApprovalRecord) -> bool:
        """The stage's escalation decided while its first automation still waits: delivered
        as its event would have (one read of the escalation per sweep while it waits)."""
        escalation = record.escalation_automation_execution_id or ""
        decision = self._receiver.decision_of(escalation)
        if decision is None or not decision.is_decided_by_approvers:
            return False
        delivery = _made_by_this_sweep(self._deliver_once(decision))
        if delivery is None:
            return False
        metrics.add_metric(name="DecisionsRecoveredBySweep", unit=MetricUnit.Count, value=1)
        logger.warning(
            "Sweep delivered an escalation's decision its event had not delivered",
            extra={"approval_id": record.approval_id, "automation_execution_id": escalation},
        )
        return True

    def _expire_stage(self, record: ApprovalRecord, stage: Stage, waited: int) -> bool:
        """A stage whose own timeout_seconds (shorter than SSM's step timeout) has passed:
        the approval ends Expired through the same idempotent delivery as every outcome
        (the claim is the point of no return), then its automation is cancelled so nobody
        is asked any more. True when this sweep delivered it."""
        index = record.stage_index or 0
        decision = Decision(
            approval_id=record.approval_id,
            automation_execution_id=record.automation_execution_id or "",
            outcome=Outcome.EXPIRED,
            step_status="TimedOut",
            failure_message=(
                f"the stage's timeout_seconds ({stage.timeout_seconds}) passed after "
                f"{waited} s without a decision; the gate cancelled its automation"
            ),
            stage_number=index + 1,
            stage_count=len(record.stages or []) or 1,
        )
        delivery = self._deliver_once(decision)
        self._automation.cancel(record.automation_execution_id or "")
        if _made_by_this_sweep(delivery) is None:
            return False
        metrics.add_metric(name="StagesExpired", unit=MetricUnit.Count, value=1)
        logger.warning(
            "Stage expired: its timeout_seconds passed; the workflow told Approval.Expired",
            extra={
                "approval_id": record.approval_id,
                "stage": stage.name,
                "timeout_seconds": stage.timeout_seconds,
                "waited_seconds": waited,
            },
        )
        return True

    def _send_reminder(self, record: ApprovalRecord, waited: int) -> bool:
        """Reminder n (reminders_sent + 1) once its time has come (n intervals after the
        request, or after its stage started), up to max_reminders: claimed on the record
        first (only while PENDING and only from n - 1), then published. True when this sweep
        sent it."""
        if self._remind is None:
            return False
        if not _reminder_due(record, waited):
            return False
        sent = record.reminders_sent or 0
        if self._records.claim_reminder(record.approval_id, sent) is None:
            logger.info(
                "Reminder not sent: decided meanwhile, or another sweep claimed it",
                extra={"approval_id": record.approval_id, "reminder": sent + 1},
            )
            return False
        reminder = Reminder(
            approval_id=record.approval_id,
            number=sent + 1,
            of=record.max_reminders or 0,
            waited_seconds=waited,
            message=record.message or "",
            requested_by=record.requested_by,
        )
        try:
            self._remind(reminder)
        except ReminderNotSent as error:
            # Claimed, so counted: a reminder is sent at most once, never twice.
            logger.warning(
                "Reminder claimed but not sent (SNS refused it); the next one is sent on time",
                extra={
                    "approval_id": record.approval_id,
                    "reminder": sent + 1,
                    "error": str(error),
                },
            )
            return False
        metrics.add_metric(name="RemindersSent", unit=MetricUnit.Count, value=1)
        logger.info(
            "Reminder sent",
            extra={
                "approval_id": record.approval_id,
                "reminder": reminder.number,
                "max_reminders": reminder.of,
                "waited_seconds": waited,
            },
        )
        return True

    def _still_waiting(self, approval: PendingApproval) -> ApprovalRecord | None:
        """The approval's record as the table has it now, when it still waits for its
        decision or for its callback to finish; None for an index entry that is stale."""
        record = self._records.get(approval.approval_id)
        if (
            record is None
            or not record.awaits_delivery
            or record.automation_execution_id != approval.automation_execution_id
        ):
            logger.info(
                "Skipped: the pending index listed an approval that no longer waits",
                extra={
                    "approval_id": approval.approval_id,
                    "status": record.status if record else None,
                    "callback": record.callback if record else None,
                },
            )
            return None
        return record

    def _deliver_once(self, decision: Decision) -> Delivery | None:
        try:
            return self._receiver.deliver(decision, via="sweep")
        except DeliveryLeaseHeld:
            logger.info(
                "Skipped: the decision is being delivered right now (its event, most likely)",
                extra={"approval_id": decision.approval_id},
            )
            return None


def _made_by_this_sweep(delivery: Delivery | None) -> Delivery | None:
    """The delivery when this sweep made it itself: None for a duplicate (the event path
    delivered it first), or one it stepped aside from."""
    if delivery is not None and delivery.via == "sweep" and delivery.callback in _ANSWERED:
        return delivery
    return None


def _rate_taken(action: str, unchecked: int) -> None:
    """The slots of SSM's rate are taken (events are being delivered), or SSM will not start
    an automation now: this sweep leaves the rest to the next, and holds no slot meanwhile."""
    metrics.add_metric(name="SweepsDeferredByRate", unit=MetricUnit.Count, value=1)
    logger.warning(
        "Sweep stopped: SSM's rate is taken by deliveries under way; the next one continues",
        extra={"unchecked": unchecked, "action": action},
    )


def _waiting_stage(record: ApprovalRecord) -> Stage | None:
    """The stage that waits, for an approval of stages (None: one stage, no timeout of its
    own)."""
    if not record.stages:
        return None
    return Stage.from_record(record.stages[record.stage_index or 0])


def _reminder_due(record: ApprovalRecord, waited: int) -> bool:
    sent, interval = record.reminders_sent, record.remind_after_seconds
    if sent is None or not interval or sent >= (record.max_reminders or 0):
        return False
    return waited >= interval * (sent + 1)


def _seconds_since(epoch: int, now: datetime) -> int:
    return max(0, int(now.timestamp()) - epoch)
