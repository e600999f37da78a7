"""The gate's four logic classes wired as the handlers wire them, on the in-memory fakes of
tests/support/fakes.py instead of boto3 clients, with one clock: the unit layer's gate. (The
gate in moto is tests/support/in_process_gate.py; the one deployed by Terraform into the
local AWS, scripts/local_gate.py.)"""

from __future__ import annotations

from collections.abc import Callable

from approval_core.records import ApprovalRecord
from receive_result.logic.close_approvals import CloseApprovals
from receive_result.logic.escalation import Escalation
from receive_result.logic.next_stage import NextStage
from receive_result.logic.receive_result import ReceiveResult
from receive_result.logic.sweep_approvals import SweepApprovals
from receive_result.models import (
    APPROVE_ACTION,
    ApproverDecision,
    StepStatusEvent,
)
from receive_result.reminders import Reminder
from receive_result.settings import Settings as ReceiveSettings
from receive_result.workflow_end import WorkflowEndedEvent
from start_approval.logic.start_approval import StartApproval
from start_approval.models import ApprovalRequest, StartedApproval, TaskInvocation
from start_approval.settings import Settings as StartSettings
from tests.support.aws_env import ACCOUNT_ID, DOCUMENT_NAME, REGION, TABLE_NAME, TOPIC_NAME
from tests.support.fakes import (
    FakeApprovalRecords,
    FakeAutomation,
    FakeAutomationLauncher,
    FakeAutomationSupervisor,
    FakeClock,
    FakeWorkflowCallbacks,
)

ALICE = f"arn:aws:iam::{ACCOUNT_ID}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT_ID}:user/bob"
EXECUTIONS = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:Flow:"
STATE_MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:Flow"
REQUEST = ApprovalRequest(message="Ship it?", approvers=(ALICE,), min_required_approvals=1)
APPROVAL_TIMEOUT_SECONDS = 3600
RETENTION_DAYS = 30
START_SETTINGS = StartSettings(
    table_name=TABLE_NAME,
    document_name=DOCUMENT_NAME,
    document_version="$DEFAULT",
    notification_topic_arn=f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{TOPIC_NAME}",
    automation_assume_role_arn="",
    default_approvers=(),
    default_min_required_approvals=1,
    approval_timeout_seconds=APPROVAL_TIMEOUT_SECONDS,
    record_retention_days=RETENTION_DAYS,
)
MAX_QUEUED_SECONDS = 600


class InMemoryGate:
    def __init__(self) -> None:
        self.journal: list[str] = []  # every adapter call, in order
        self.clock = FakeClock()
        self.automations: dict[str, FakeAutomation] = {}  # SSM, shared by both adapters
        self.records = FakeApprovalRecords(self.journal)
        self.launcher = FakeAutomationLauncher(self.automations, self.journal)
        self.supervisor = FakeAutomationSupervisor(self.automations, self.journal)
        self.callbacks = FakeWorkflowCallbacks(self.journal)
        self.sleeps: list[float] = []  # the pauses before SSM is read again
        self.reminders: list[Reminder] = []  # what the sweep published to the approvers
        self.starter = StartApproval(
            records=self.records,
            automation=self.launcher,
            settings=START_SETTINGS,
            clock=self.clock,
        )
        self.receiver = ReceiveResult(
            automation=self.supervisor,
            records=self.records,
            callbacks=self.callbacks,
            settings=ReceiveSettings(TABLE_NAME, DOCUMENT_NAME, MAX_QUEUED_SECONDS),
            clock=self.clock,
            sleep=self.sleeps.append,
            next_stage=NextStage(self.records, self.launcher, clock=self.clock),
        )
        self.deliver = self.receiver.deliver  # as the handlers call it
        self.closer = CloseApprovals(
            self.records,
            self.supervisor,
            clock=self.clock,
        )

    def sweeper(
        self,
        max_queued_seconds: int = MAX_QUEUED_SECONDS,
        remind: Callable[[Reminder], None] | None = None,
        grace_seconds: int = 0,
    ) -> SweepApprovals:
        """sweep_approvals as its handler wires it: through the event path's delivery;
        reminders go to `self.reminders` unless `remind` is given; no grace for events on
        their way unless a test is about it."""
        return SweepApprovals(
            self.records,
            self.supervisor,
            self.receiver,
            max_queued_seconds=max_queued_seconds,
            clock=self.clock,
            remind=remind or self.reminders.append,
            grace_seconds=grace_seconds,
            escalation=Escalation(self.records, self.launcher, clock=self.clock),
        )

    def invocation(
        self, run: str = "run-1", token: str = "token-1", request: ApprovalRequest = REQUEST
    ) -> TaskInvocation:
        """What the Task state of execution `run` sends (the approval id follows from it)."""
        return TaskInvocation(
            task_token=token,
            execution_arn=EXECUTIONS + run,
            state_name="Approve",
            state_entered_time="2026-11-28T10:00:00.000Z",
            request=request,
        )

    def start(
        self, run: str = "run-1", token: str = "token-1", request: ApprovalRequest = REQUEST
    ) -> StartedApproval:
        """A workflow waits on `token` and start_approval asks for its approval."""
        self.callbacks.wait(token)
        return self.starter.start(self.invocation(run, token, request))

    def decide(
        self,
        automation_execution_id: str,
        approval_status: str | None,
        *decisions: ApproverDecision,
        status: str = "Success",
    ) -> None:
        """SSM ends the approve step: its status and outputs."""
        automation = self.automations[automation_execution_id]
        automation.status = status
        automation.approval_status = approval_status
        automation.decisions = decisions
        automation.ended_at = self.clock()

    def event(self, automation_execution_id: str, status: str = "Success") -> StepStatusEvent:
        """SSM's step status-change event for the gate's approve step."""
        return StepStatusEvent(
            automation_execution_id=automation_execution_id,
            document_name=DOCUMENT_NAME,
            step_name="Approve",
            action=APPROVE_ACTION,
            status=status,
        )

    def ended(self, run: str = "run-1", status: str = "ABORTED") -> WorkflowEndedEvent:
        """Step Functions' event: execution `run` ended with `status`."""
        return WorkflowEndedEvent(EXECUTIONS + run, STATE_MACHINE_ARN, status)

    def record(self, approval_id: str) -> ApprovalRecord:
        """The record as the table holds it (not an adapter call: not journaled)."""
        return self.records.stored(approval_id)
