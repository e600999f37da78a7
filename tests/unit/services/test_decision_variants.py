"""The decision table: receive_result delivers the right outcome, with the right approvers,
under EVERY combination of the SSM behaviours AWS does not document
(docs/aws-behaviour.md#undocumented-rejection-status, #undocumented-approval-status,
#undocumented-failed-step-outputs, #undocumented-approver-decisions,
#undocumented-reject-under-quorum):

    rejection_status (4) x approval_status (3) x failed_step_outputs (2)
    x decision_values (2) x decisions_serialization (2) = 96 variants

for each flow: approve, reject, 2 of 3 with one reject (under both reject_under_quorum
variants), expiry (after one of two approvals), a reject that did not end the step followed
by expiry, stop. SSM is played by `play()` below, a small
model of what GetAutomationExecution shows under a variant (the local AWS plays the same
settings); what the workflow must get is written out by hand in `EXPECTED`, never computed by
the gate's own code. The delivery runs through the real ReceiveResult with in-memory records
and callbacks.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from approval_core.records import ApprovalRecord, ApprovalStatus, CallbackStatus
from receive_result.automation_supervisor import AutomationSupervisor
from receive_result.logic.receive_result import ReceiveResult
from receive_result.models import StepStatusEvent
from receive_result.settings import Settings
from tests.support.aws_env import DOCUMENT_NAME, TABLE_NAME

APPROVAL_ID = "0f8c2a9e-5b1d-4c3a-9e7f-1a2b3c4d5e6f"
AUTOMATION_ID = "a1b2c3d4-0000-4000-8000-00000000aaaa"
ALICE, BOB, CAROL = (f"arn:aws:iam::123456789012:user/{name}" for name in ("alice", "bob", "carol"))

VARIANT_VALUES: dict[str, tuple[str, ...]] = {
    "rejection_status": ("Failed", "Success", "Rejected", "CompletedWithFailure"),
    "approval_status": ("Success", "Approved", "CompletedWithSuccess"),
    "failed_step_outputs": ("kept", "dropped"),
    "decision_values": ("verb", "past"),
    "decisions_serialization": ("string_per_map", "json_array"),
}
# A step that ends in one of these always shows its outputs; failed_step_outputs decides
# for every other status.
OUTPUTS_ALWAYS_SHOWN = frozenset({"Success", "Approved", "CompletedWithSuccess"})


@dataclass(frozen=True)
class SsmBehaviour:
    rejection_status: str
    approval_status: str
    failed_step_outputs: str
    decision_values: str
    decisions_serialization: str

    def __str__(self) -> str:
        return "-".join(
            (
                f"rej={self.rejection_status}",
                f"appr={self.approval_status}",
                f"outputs={self.failed_step_outputs}",
                self.decision_values,
                self.decisions_serialization,
            )
        )


VARIANTS = [SsmBehaviour(*values) for values in itertools.product(*VARIANT_VALUES.values())]


@dataclass(frozen=True)
class ApproverActions:
    """What the approvers do, and how the step ends when they do not decide it."""

    name: str
    approvers: tuple[str, ...]
    min_required: int
    signals: tuple[tuple[str, str], ...]
    undecided_end: str | None = None  # "TimedOut" (expiry) or "Cancelled" (stop)
    reject_under_quorum: str = "rejects_at_once"


FLOWS = [
    ApproverActions("approve", (ALICE,), 1, ((ALICE, "Approve"),)),
    ApproverActions("reject", (ALICE,), 1, ((ALICE, "Reject"),)),
    ApproverActions(
        "2of3-one-reject-rejects_at_once",
        (ALICE, BOB, CAROL),
        2,
        ((ALICE, "Approve"), (BOB, "Reject"), (CAROL, "Approve")),
        reject_under_quorum="rejects_at_once",
    ),
    ApproverActions(
        "2of3-one-reject-rejects_when_quorum_unreachable",
        (ALICE, BOB, CAROL),
        2,
        ((ALICE, "Approve"), (BOB, "Reject"), (CAROL, "Approve")),
        reject_under_quorum="rejects_when_quorum_unreachable",
    ),
    ApproverActions("expiry", (ALICE, BOB), 2, ((ALICE, "Approve"),), undecided_end="TimedOut"),
    # One Reject that does not end the step, then the step times out: an approver said no.
    ApproverActions(
        "2of3-one-reject-then-expiry-rejects_when_quorum_unreachable",
        (ALICE, BOB, CAROL),
        2,
        ((ALICE, "Approve"), (BOB, "Reject")),
        undecided_end="TimedOut",
        reject_under_quorum="rejects_when_quorum_unreachable",
    ),
    ApproverActions("stop", (ALICE,), 1, (), undecided_end="Cancelled"),
]


# --- SSM, played --------------------------------------------------------------------------


@dataclass
class PlayedStep:
    status: str
    approval_status: str
    decisions: list[tuple[str, str]] = field(default_factory=list)


def play(flow: ApproverActions, variant: SsmBehaviour) -> PlayedStep:
    """The aws:approve step after the flow's signals, as SSM ends it under the variant."""
    step = PlayedStep(status="Waiting", approval_status="Waiting")
    approvals = rejections = 0
    for approver, signal in flow.signals:
        step.decisions.append((approver, signal))
        approvals += signal == "Approve"
        rejections += signal == "Reject"
        if approvals >= flow.min_required:
            step.status, step.approval_status = variant.approval_status, "Approved"
            return step
        quorum_unreachable = len(flow.approvers) - rejections < flow.min_required
        if signal == "Reject" and (
            flow.reject_under_quorum == "rejects_at_once" or quorum_unreachable
        ):
            step.status, step.approval_status = variant.rejection_status, "Rejected"
            return step
    assert flow.undecided_end, f"flow {flow.name} leaves the step waiting"
    step.status = flow.undecided_end
    return step


FAILURE_MESSAGES = {
    "TimedOut": "Step timed out while step is verifying approvals.",
    "Cancelled": "Execution is cancelled.",
}


def get_automation_execution(step: PlayedStep, variant: SsmBehaviour) -> dict[str, Any]:
    """GetAutomationExecution's answer for the played step."""
    spelled = (
        {"Approve": "Approved", "Reject": "Rejected"} if variant.decision_values == "past" else {}
    )
    maps = [
        {
            "Approver": approver,
            "Decision": spelled.get(signal, signal),
            "ApprovalDecisionTime": f"2026-11-28T10:0{n}:00.000Z",
            "Comment": f"{signal.lower()} from {approver.rsplit('/', 1)[-1]}",
        }
        for n, (approver, signal) in enumerate(step.decisions)
    ]
    serialized = (
        [json.dumps(m) for m in maps]
        if variant.decisions_serialization == "string_per_map"
        else [json.dumps(maps)]
    )
    approve_step: dict[str, Any] = {
        "StepName": "Approve",
        "Action": "aws:approve",
        "StepStatus": step.status,
    }
    if step.status in OUTPUTS_ALWAYS_SHOWN or variant.failed_step_outputs == "kept":
        approve_step["Outputs"] = {
            "ApprovalStatus": [step.approval_status],
            "ApproverDecisions": serialized,
        }
    if step.status not in OUTPUTS_ALWAYS_SHOWN:
        approve_step["FailureMessage"] = FAILURE_MESSAGES.get(
            step.status, f"Step ended {step.status} after the approvers' decision."
        )
    return {
        "AutomationExecution": {
            "AutomationExecutionId": AUTOMATION_ID,
            "AutomationExecutionStatus": step.status,
            "Parameters": {"ApprovalId": [APPROVAL_ID]},
            "StepExecutions": [approve_step],
        }
    }


class PlayedSsm:
    def __init__(self, answer: dict[str, Any]):
        self.answer = answer

    def get_automation_execution(self, AutomationExecutionId: str) -> dict[str, Any]:
        assert AutomationExecutionId == AUTOMATION_ID
        return self.answer


# --- the records and the workflow, in memory -------------------------------------------------


class MemoryRecords:
    def __init__(self) -> None:
        self.record = ApprovalRecord(
            approval_id=APPROVAL_ID,
            task_token="token",
            execution_arn="arn:aws:states:us-east-1:123456789012:execution:ApproverActions:run",
            state_name="Approve",
            state_entered_time="2026-11-28T10:00:00Z",
            requested_at="2026-11-28T10:00:00+00:00",
            requested_epoch=1_795_860_000,
            expiration=1_800_000_000,
            automation_execution_id=AUTOMATION_ID,
        )

    def claim_decision(
        self,
        approval_id: str,
        outcome: str,
        now: str,
        decided_by=None,
        delivered_by="",
        stage_result=None,
        automation_execution_id=None,
        lease_until=0,
    ) -> ApprovalRecord:
        assert self.record.status is ApprovalStatus.PENDING, "claimed twice"
        self.record = self.record._replace(
            status=ApprovalStatus.DECIDED,
            outcome=outcome,
            decided_by=decided_by,
            delivered_by=delivered_by,
            stage_results=[stage_result] if stage_result else None,
            callback=CallbackStatus.SENDING,
        )
        return self.record

    def finish_callback(self, approval_id: str, callback: CallbackStatus, now: str, error=None):
        self.record = self.record._replace(callback=callback)
        return self.record


class WorkflowAnswers:
    def __init__(self) -> None:
        self.answers: list[tuple[str, Any]] = []

    def succeed(self, task_token: str, output: dict[str, Any]) -> None:
        self.answers.append(("success", json.loads(json.dumps(output))))

    def fail(self, task_token: str, error: str, cause: str) -> None:
        self.answers.append(("failure", (error, cause)))


# --- what the workflow must get, written out by hand -----------------------------------------


def decided(*pairs: tuple[str, str]) -> list[tuple[str, str]]:
    return list(pairs)


def rejected_or_failed(
    variant: SsmBehaviour, approvers: list[tuple[str, str]]
) -> tuple[str, list[tuple[str, str]]]:
    """A rejection: Rejected whenever SSM shows it (outputs, or the status Rejected); with
    the outputs dropped and a status that does not say rejected, nothing tells a rejection
    from a failure, so the workflow gets Approval.Failed naming the status."""
    if variant.rejection_status in OUTPUTS_ALWAYS_SHOWN or variant.failed_step_outputs == "kept":
        return "Rejected", approvers
    if variant.rejection_status == "Rejected":
        return "Rejected", []
    return "Approval.Failed", []


def expected(flow: ApproverActions, variant: SsmBehaviour) -> tuple[str, list[tuple[str, str]]]:
    """(outcome or failure error, decided_by as (approver, verb)) the workflow must get."""
    outputs_kept = variant.failed_step_outputs == "kept"
    match flow.name:
        case "approve":
            return "Approved", decided((ALICE, "Approve"))
        case "reject":
            return rejected_or_failed(variant, decided((ALICE, "Reject")))
        case "2of3-one-reject-rejects_at_once":
            return rejected_or_failed(variant, decided((ALICE, "Approve"), (BOB, "Reject")))
        case "2of3-one-reject-rejects_when_quorum_unreachable":
            return "Approved", decided((ALICE, "Approve"), (BOB, "Reject"), (CAROL, "Approve"))
        case "expiry":
            return "Approval.Expired", decided((ALICE, "Approve")) if outputs_kept else []
        case "2of3-one-reject-then-expiry-rejects_when_quorum_unreachable":
            if outputs_kept:  # a decision says Reject: the approval was rejected
                return "Rejected", decided((ALICE, "Approve"), (BOB, "Reject"))
            return "Approval.Expired", []
        case "stop":
            return "Approval.Cancelled", []
    raise AssertionError(flow.name)


# --- the table ----------------------------------------------------------------------------


@pytest.mark.parametrize("flow", FLOWS, ids=[f.name for f in FLOWS])
@pytest.mark.parametrize("variant", VARIANTS, ids=str)
def test_the_workflow_gets_the_right_outcome_and_approvers_under_every_variant(flow, variant):
    step = play(flow, variant)
    answer = get_automation_execution(step, variant)
    callbacks = WorkflowAnswers()
    receiver = ReceiveResult(
        automation=AutomationSupervisor(PlayedSsm(answer)),
        records=MemoryRecords(),  # type: ignore[arg-type]
        callbacks=callbacks,  # type: ignore[arg-type]
        settings=Settings(table_name=TABLE_NAME, document_name=DOCUMENT_NAME),
        clock=lambda: datetime(2026, 11, 28, 10, 5, tzinfo=UTC),
        sleep=lambda seconds: pytest.fail("a final step needs no re-read"),
    )
    event = StepStatusEvent(
        automation_execution_id=AUTOMATION_ID,
        document_name=DOCUMENT_NAME,
        step_name="Approve",
        action="aws:approve",
        status=step.status,  # the event says what SSM says: any final status
    )

    decision = receiver.decision_for(event)
    assert decision is not None
    delivery = receiver.deliver(decision)

    outcome, decided_by = expected(flow, variant)
    assert [(d.approver, d.decision) for d in decision.decided_by] == decided_by
    assert delivery.callback == "DELIVERED"
    [(kind, answered)] = callbacks.answers
    if outcome in ("Approved", "Rejected"):
        assert kind == "success"
        assert (answered["decision"], answered["is_approved"]) == (outcome, outcome == "Approved")
        assert [(d["approver"], d["decision"]) for d in answered["decided_by"]] == decided_by
        assert all(d["comment"] and d["decided_at"] for d in answered["decided_by"])
    else:
        assert kind == "failure"
        error, cause = answered
        assert error == outcome
        assert APPROVAL_ID in cause and AUTOMATION_ID in cause
        if outcome == "Approval.Failed":  # names SSM's status and its message
            assert f"status {step.status}" in cause
            assert (
                f"SSM says: {answer['AutomationExecution']['StepExecutions'][0]['FailureMessage']}"
                in cause
            )


def test_the_table_covers_every_combination_of_every_variant():
    assert len(VARIANTS) == 4 * 3 * 2 * 2 * 2
    for name, values in VARIANT_VALUES.items():
        assert {getattr(v, name) for v in VARIANTS} == set(values)
    assert {f.reject_under_quorum for f in FLOWS if f.name.startswith("2of3")} == {
        "rejects_at_once",
        "rejects_when_quorum_unreachable",
    }


@pytest.mark.parametrize("status", ["Success", "Approved", "CompletedWithSuccess"])
def test_a_successful_status_without_approval_status_approved_is_never_an_approval(status):
    """Approved only when ApprovalStatus says so: a status alone never approves."""
    answer = {
        "AutomationExecution": {
            "AutomationExecutionStatus": status,
            "Parameters": {"ApprovalId": [APPROVAL_ID]},
            "StepExecutions": [
                {"StepName": "Approve", "Action": "aws:approve", "StepStatus": status}
            ],
        }
    }
    step = AutomationSupervisor(PlayedSsm(answer)).read(AUTOMATION_ID)
    assert step is not None
    decision = step.decision()
    assert decision is not None
    assert decision.outcome.value == "Failed"
    assert decision.task_failure()[0] == "Approval.Failed"
    assert f"status {status}" in decision.task_failure()[1]


def test_outputs_keyed_by_step_name_are_read_too():
    """`<step>.ApproverDecisions`: SSM's spelling of step outputs in an automation's own
    Outputs (docs/aws-behaviour.md#undocumented-approver-decisions)."""
    maps = [{"Approver": ALICE, "Decision": "Rejected", "Comment": "no"}]
    answer = {
        "AutomationExecution": {
            "AutomationExecutionStatus": "Failed",
            "Parameters": {"ApprovalId": [APPROVAL_ID]},
            "StepExecutions": [
                {
                    "StepName": "Approve",
                    "Action": "aws:approve",
                    "StepStatus": "Failed",
                    "Outputs": {
                        "Approve.ApprovalStatus": ["Rejected"],
                        "Approve.ApproverDecisions": [json.dumps(maps)],
                    },
                }
            ],
        }
    }
    step = AutomationSupervisor(PlayedSsm(answer)).read(AUTOMATION_ID)
    assert step is not None
    decision = step.decision()
    assert decision is not None
    assert decision.outcome.value == "Rejected"
    assert [(d.approver, d.decision, d.comment) for d in decision.decided_by] == [
        (ALICE, "Reject", "no")
    ]
