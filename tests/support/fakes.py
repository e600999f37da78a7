"""In-memory fakes of the services' adapters, for the unit layer (tests/unit): one per
adapter, each keeping state and refusing what the real adapter refuses, so the logic classes
meet the same rules as against AWS.

- FakeApprovalRecords: approval_core.records.ApprovalRecords (conditional writes: a claim
  or a close of a record that is not PENDING raises RecordNotPending, a second callback
  result CallbackAlreadyFinished, a take-over of a callback whose lease runs
  DeliveryLeaseHeld, a write to a missing record LookupError; a reminder's claim from a
  count the record no longer holds, or off PENDING, returns None).
- FakeAutomationLauncher: start_approval's AutomationLauncher (one automation per approval
  id: the ClientToken and the approval tag give a retry the first automation back).
- FakeAutomationSupervisor: receive_result's AutomationSupervisor (what SSM shows of an
  automation, optionally a few reads behind; a cancel of an ended automation is a no-op).
- FakeWorkflowCallbacks: receive_result's WorkflowCallbacks (a task token is answered once;
  an answer to a token nobody waits on is refused with Step Functions' error code).

The two automation fakes share one `automations` map, as both adapters share SSM. A
`journal` list shared by fakes records every call, in order ("records.claim_decision", ...).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from approval_core.automations import NON_TERMINAL_STATUSES
from approval_core.launcher import StageLaunch
from approval_core.records import (
    ApprovalRecord,
    ApprovalStatus,
    CallbackAlreadyFinished,
    CallbackStatus,
    DeliveryLeaseHeld,
    PendingApproval,
    RecordNotPending,
    StageAdvance,
)
from approval_core.stages import stage_label
from receive_result.automation_supervisor import AutomationState
from receive_result.callbacks import CallbackRefused
from receive_result.models import ApprovalStep, ApproverDecision


class FakeClock:
    """The logic classes' `clock`: a fixed moment that a test moves on."""

    def __init__(self, now: datetime = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class _Journaled:
    _name = ""

    def __init__(self, journal: list[str] | None = None):
        self.journal: list[str] = journal if journal is not None else []

    def _note(self, operation: str) -> None:
        self.journal.append(f"{self._name}.{operation}")


class FakeApprovalRecords(_Journaled):
    _name = "records"

    def __init__(self, journal: list[str] | None = None):
        super().__init__(journal)
        self._records: dict[str, ApprovalRecord] = {}

    def stored(self, approval_id: str) -> ApprovalRecord:
        """The record as the table holds it, for a test to look at (not journaled)."""
        return self._records[approval_id]

    def get(self, approval_id: str) -> ApprovalRecord | None:
        self._note("get")
        record = self._records.get(approval_id)
        return record

    def create_or_refresh(self, record: ApprovalRecord) -> ApprovalRecord:
        self._note("create_or_refresh")
        if record.approval_id not in self._records:
            self._records[record.approval_id] = record
            return record  # the real adapter returns the record it was given when it is new
        return self._update(
            record.approval_id,
            ApprovalStatus.PENDING,
            task_token=record.task_token,
            updated_at=record.requested_at,
        )

    def set_automation(
        self, approval_id: str, automation_execution_id: str, now: str
    ) -> ApprovalRecord:
        self._note("set_automation")
        return self._update(
            approval_id, None, automation_execution_id=automation_execution_id, updated_at=now
        )

    def claim_decision(
        self,
        approval_id: str,
        outcome: str,
        now: str,
        decided_by: list[dict[str, str | None]] | None = None,
        delivered_by: str = "",
        stage_result: dict[str, object] | None = None,
        automation_execution_id: str | None = None,
        lease_until: int = 0,
    ) -> ApprovalRecord:
        self._note("claim_decision")
        record = self._records.get(approval_id)
        if (
            record is not None
            and automation_execution_id
            and record.automation_execution_id
            and automation_execution_id
            not in (record.automation_execution_id, record.escalation_automation_execution_id)
        ):
            raise RecordNotPending(record)
        results = list(record.stage_results or []) if record else []
        if stage_result is not None:
            results.append(stage_result)
        return self._update(
            approval_id,
            ApprovalStatus.PENDING,
            status=ApprovalStatus.DECIDED,
            outcome=outcome,
            decided_at=now,
            updated_at=now,
            callback=CallbackStatus.SENDING,
            decided_by=list(decided_by or []),
            delivered_by=delivered_by,
            stage_results=results or None,
            delivery_lease_until=lease_until,
        )

    def advance_stage(self, approval_id: str, advance: StageAdvance) -> ApprovalRecord:
        self._note("advance_stage")
        record = self._records.get(approval_id)
        if record is None:
            raise LookupError(f"no approval record for approval id {approval_id}")
        if (
            record.status is not ApprovalStatus.PENDING
            or record.stage_index != advance.from_index
            or record.automation_execution_id != advance.from_automation_execution_id
        ):
            raise RecordNotPending(record)
        changes: dict[str, Any] = {
            "stage_index": advance.from_index + 1,
            "automation_execution_id": advance.automation_execution_id,
            "stage_results": [*(record.stage_results or []), advance.result],
            "approvers": list(advance.approvers),
            "min_required_approvals": advance.min_required_approvals,
            "stage_started_epoch": advance.started_epoch,
            "updated_at": advance.now,
        }
        changes["escalation_automation_execution_id"] = None
        if advance.reminds:
            changes["reminders_sent"] = 0
        return self._update(approval_id, None, **changes)

    def set_escalation(
        self,
        approval_id: str,
        stage_index: int,
        automation_execution_id: str,
        escalation: str,
        now: str,
    ) -> ApprovalRecord:
        self._note("set_escalation")
        record = self._records.get(approval_id)
        if record is None:
            raise LookupError(f"no approval record for approval id {approval_id}")
        if (
            record.status is not ApprovalStatus.PENDING
            or (record.stage_index or 0) != stage_index
            or record.automation_execution_id != automation_execution_id
            or record.escalation_automation_execution_id is not None
        ):
            raise RecordNotPending(record)
        return self._update(
            approval_id, None, escalation_automation_execution_id=escalation, updated_at=now
        )

    def claim_reminder(self, approval_id: str, sent: int) -> ApprovalRecord | None:
        self._note("claim_reminder")
        record = self._records.get(approval_id)
        if record is None:
            raise LookupError(f"no approval record for approval id {approval_id}")
        if record.status is not ApprovalStatus.PENDING or record.reminders_sent != sent:
            return None
        return self._update(approval_id, None, reminders_sent=sent + 1)

    def close(self, approval_id: str, reason: str, now: str) -> ApprovalRecord:
        self._note("close")
        return self._update(
            approval_id,
            ApprovalStatus.PENDING,
            status=ApprovalStatus.CLOSED,
            closed_reason=reason,
            updated_at=now,
        )

    def finish_callback(
        self, approval_id: str, callback: CallbackStatus, now: str, error: str | None = None
    ) -> ApprovalRecord:
        self._note("finish_callback")
        self._sending(approval_id)
        changes: dict[str, Any] = {
            "callback": callback,
            "updated_at": now,
            "delivery_lease_until": None,
        }
        if error:
            changes["callback_error"] = error
        return self._update(approval_id, None, **changes)

    def take_over_delivery(
        self, approval_id: str, now_epoch: int, lease_until: int, delivered_by: str
    ) -> ApprovalRecord:
        self._note("take_over_delivery")
        record = self._sending(approval_id)
        if (record.delivery_lease_until or 0) >= now_epoch:
            raise DeliveryLeaseHeld(record)
        return self._update(
            approval_id, None, delivery_lease_until=lease_until, delivered_by=delivered_by
        )

    def release_delivery(self, approval_id: str, lease_until: int) -> None:
        self._note("release_delivery")
        record = self._records.get(approval_id)
        if (
            record is not None
            and record.callback is CallbackStatus.SENDING
            and record.delivery_lease_until == lease_until
        ):
            self._update(approval_id, None, delivery_lease_until=None)

    def _sending(self, approval_id: str) -> ApprovalRecord:
        """The record while its callback is SENDING; the real adapter's condition errors
        otherwise."""
        record = self._records.get(approval_id)
        if record is None:
            raise LookupError(f"no approval record for approval id {approval_id}")
        if record.callback is not CallbackStatus.SENDING:
            raise CallbackAlreadyFinished(record)
        return record

    def of_execution(self, execution_arn: str) -> list[ApprovalRecord]:
        self._note("of_execution")
        return [r for r in self._records.values() if r.execution_arn == execution_arn]

    def pending(self) -> Iterator[PendingApproval]:
        """The `pending` index: records that await a decision or its callback, oldest first."""
        self._note("pending")
        waiting = sorted(
            (r for r in self._records.values() if r.awaits_delivery),
            key=lambda r: r.requested_epoch,
        )
        for record in waiting:
            yield PendingApproval(
                record.approval_id,
                record.requested_epoch,
                record.automation_execution_id,
                record.needs_attention,
            )

    def _update(
        self, approval_id: str, require_status: ApprovalStatus | None, **changes: Any
    ) -> ApprovalRecord:
        record = self._records.get(approval_id)
        if record is None:
            raise LookupError(f"no approval record for approval id {approval_id}")
        if require_status is not None and record.status is not require_status:
            raise RecordNotPending(record)
        record = record._replace(**changes)
        self._records[approval_id] = record
        return record


@dataclass
class FakeAutomation:
    """One automation as SSM holds it. `status` is the automation's and its approve step's
    (a queued automation, Pending, has no step: its own status stands in)."""

    automation_execution_id: str
    approval_id: str | None  # its ApprovalId parameter; None: not started by the gate
    status: str = "Waiting"
    approval_status: str | None = None  # the step's ApprovalStatus output
    decisions: tuple[ApproverDecision, ...] = ()  # its ApproverDecisions output
    failure_message: str | None = None
    launch: StageLaunch | None = None  # the stage it asks
    ended_at: datetime | None = None  # its ExecutionEndTime once it has ended

    def step(self) -> ApprovalStep:
        return ApprovalStep(
            automation_execution_id=self.automation_execution_id,
            approval_id=self.approval_id,
            step_status=self.status,
            approval_status=self.approval_status,
            decisions=self.decisions,
            failure_message=self.failure_message,
            stage=stage_label(self.launch.number, self.launch.stage_count, self.launch.escalation)
            if self.launch
            else None,
        )


class _FakeSsm(_Journaled):
    """What both automation adapters share: SSM's automations, and cancelling one."""

    def __init__(
        self,
        automations: dict[str, FakeAutomation] | None = None,
        journal: list[str] | None = None,
    ):
        super().__init__(journal)
        self.automations = automations if automations is not None else {}

    def cancel(self, automation_execution_id: str) -> bool:
        """StopAutomationExecution (Cancel): False for an automation that has ended or that
        SSM does not know, as approval_core.automations.cancel_automation."""
        self._note("cancel")
        automation = self.automations.get(automation_execution_id)
        if automation is None or automation.status not in NON_TERMINAL_STATUSES:
            return False
        automation.status = "Cancelled"
        return True


class FakeAutomationLauncher(_FakeSsm):
    _name = "launcher"

    def __init__(
        self,
        automations: dict[str, FakeAutomation] | None = None,
        journal: list[str] | None = None,
    ):
        super().__init__(automations, journal)
        self._failures: list[Exception] = []

    def fail_next(self, *errors: Exception) -> None:
        """The next starts raise these (the errors the real launcher maps SSM's to)."""
        self._failures.extend(errors)

    def start(self, approval_id: str, launch: StageLaunch) -> str:
        self._note("start")
        if self._failures:
            raise self._failures.pop(0)
        found = self.find(approval_id, launch.number, launch.escalation)
        if found is not None:
            return found
        automation_id = f"automation-{len(self.automations) + 1}"
        self.automations[automation_id] = FakeAutomation(automation_id, approval_id, launch=launch)
        return automation_id

    def find(self, approval_id: str, number: int = 1, escalation: bool = False) -> str | None:
        """The automation this approval started for stage `number`, or its escalation (its
        ClientToken)."""
        started = (
            a
            for a in self.automations.values()
            if a.approval_id == approval_id
            and (a.launch.number if a.launch else 1) == number
            and (a.launch.escalation if a.launch else False) == escalation
        )
        return next((a.automation_execution_id for a in started), None)


class FakeAutomationSupervisor(_FakeSsm):
    _name = "supervisor"

    def __init__(
        self,
        automations: dict[str, FakeAutomation] | None = None,
        journal: list[str] | None = None,
    ):
        super().__init__(automations, journal)
        self.reads: list[str] = []  # automation ids read, in order
        self._behind: dict[str, tuple[int, FakeAutomation]] = {}
        self._cancel_failures: list[Exception] = []

    def add(self, automation: FakeAutomation) -> FakeAutomation:
        self.automations[automation.automation_execution_id] = automation
        return automation

    def lag(self, automation_execution_id: str, reads: int) -> None:
        """The next `reads` reads show the automation as it is now, whatever changes next
        (docs/aws-behaviour.md#undocumented-read-after-event)."""
        snapshot = dataclasses.replace(self.automations[automation_execution_id])
        self._behind[automation_execution_id] = (reads, snapshot)

    def fail_next_cancel(self, *errors: Exception) -> None:
        self._cancel_failures.extend(errors)

    def read(self, automation_execution_id: str) -> ApprovalStep | None:
        self._note("read")
        self.reads.append(automation_execution_id)
        behind, snapshot = self._behind.get(automation_execution_id, (0, None))
        if behind and snapshot is not None:
            self._behind[automation_execution_id] = (behind - 1, snapshot)
            return snapshot.step()
        automation = self.automations.get(automation_execution_id)
        return automation.step() if automation else None

    def states_of(self, automation_execution_ids: list[str]) -> dict[str, AutomationState]:
        self._note("states_of")
        return {
            i: AutomationState(self.automations[i].status, self.automations[i].ended_at)
            for i in automation_execution_ids
            if i in self.automations
        }

    def cancel(self, automation_execution_id: str) -> bool:
        if self._cancel_failures:
            self._note("cancel")
            raise self._cancel_failures.pop(0)
        return super().cancel(automation_execution_id)


@dataclass(frozen=True)
class Answer:
    """What one task token got: SendTaskSuccess's output, or SendTaskFailure's error and
    cause."""

    task_token: str
    output: dict[str, Any] | None = None
    error: str | None = None
    cause: str | None = None


class FakeWorkflowCallbacks(_Journaled):
    _name = "callbacks"

    def __init__(self, journal: list[str] | None = None):
        super().__init__(journal)
        self.answers: list[Answer] = []
        self._waiting: set[str] = set()
        self._gone: dict[str, str] = {}  # token -> the error code Step Functions answers
        self._failures: list[BaseException] = []
        # Runs once, at the next call, before it is answered (a concurrent attempt, say).
        self.during_next_call: Callable[[], None] | None = None

    def wait(self, task_token: str) -> None:
        """A workflow's task waits for this token."""
        self._waiting.add(task_token)

    def end(self, task_token: str, code: str = "TaskTimedOut") -> None:
        """The workflow no longer waits (timed out, stopped): answers are refused."""
        self._waiting.discard(task_token)
        self._gone[task_token] = code

    def fail_next(self, *errors: BaseException) -> None:
        """The next calls raise these (throttling, a service error; a BaseException for an
        invocation killed by its timeout, which runs no more of its code): not a refusal."""
        self._failures.extend(errors)

    def succeed(self, task_token: str, output: dict[str, Any]) -> None:
        self._note("succeed")
        # As sent: the real adapter sends json.dumps(output).
        self._answer(Answer(task_token, output=json.loads(json.dumps(output))))

    def fail(self, task_token: str, error: str, cause: str) -> None:
        self._note("fail")
        self._answer(Answer(task_token, error=error, cause=cause))

    def _answer(self, answer: Answer) -> None:
        hook, self.during_next_call = self.during_next_call, None
        if hook is not None:
            hook()
        if self._failures:
            raise self._failures.pop(0)
        if answer.task_token not in self._waiting:
            raise CallbackRefused(self._gone.get(answer.task_token, "TaskDoesNotExist"))
        self._waiting.discard(answer.task_token)
        self._gone[answer.task_token] = "InvalidToken"  # a task is answered once
        self.answers.append(answer)
