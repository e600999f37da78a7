"""receive_result's logic (ReceiveResult) on in-memory fakes: the decision SSM shows becomes
the workflow's answer, events that are not about a finished approval are ignored or refused,
and the record moves PENDING -> DECIDED (callback SENDING) -> DELIVERED or REFUSED, once.
(Every combination of SSM's undocumented behaviours: test_decision_variants.py.)"""

import pytest

from approval_core.records import ApprovalStatus, CallbackStatus
from receive_result.errors import StepNotTerminalYet, UnexpectedEvent
from receive_result.logic.receive_result import REREAD_DELAYS_SECONDS
from receive_result.models import ApproverDecision, Delivery
from tests.support.fakes import FakeAutomation
from tests.support.in_memory_gate import ALICE, BOB, InMemoryGate

APPROVE = ApproverDecision(ALICE, "Approve", "fine", "2026-11-28T10:05:00Z")
REJECT = ApproverDecision(BOB, "Reject", "not today", "2026-11-28T10:06:00Z")


def receive(gate: InMemoryGate, automation_execution_id: str, status: str = "Success"):
    """The event path: the decision for SSM's event, delivered (None when ignored)."""
    decision = gate.receiver.decision_for(gate.event(automation_execution_id, status))
    return None if decision is None else gate.receiver.deliver(decision)


@pytest.mark.parametrize(
    ("approval_status", "decisions", "status", "decision", "decided_by"),
    [
        ("Approved", (APPROVE,), "Success", "Approved", [ALICE]),
        ("Rejected", (REJECT,), "Failed", "Rejected", [BOB]),
        (None, (APPROVE, REJECT), "Failed", "Rejected", [ALICE, BOB]),  # a decision says Reject
        (None, (), "Rejected", "Rejected", []),  # outputs dropped, the status says it
    ],
)
def test_a_decision_of_the_approvers_resumes_the_workflow_with_it(
    gate: InMemoryGate, approval_status, decisions, status, decision, decided_by
):
    started = gate.start()
    gate.decide(started.automation_execution_id, approval_status, *decisions, status=status)

    delivery = receive(gate, started.automation_execution_id, status)

    assert delivery == Delivery(started.approval_id, decision, "DELIVERED")
    [answer] = gate.callbacks.answers
    assert answer.task_token == "token-1"
    deciders = [d._asdict() for d in decisions if d.approver in decided_by]
    assert answer.output == {
        "approval_id": started.approval_id,
        "decision": decision,
        "is_approved": decision == "Approved",
        "decided_by": deciders,
        "automation_execution_id": started.automation_execution_id,
        "stages": [
            {
                "name": "approval",
                "outcome": decision,
                "decided_by": deciders,
                "automation_execution_id": started.automation_execution_id,
                "escalated": False,
            }
        ],
    }


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        ("TimedOut", "Approval.Expired", "timed out"),
        ("Cancelled", "Approval.Cancelled", "stopped"),
        ("Failed", "Approval.Failed", "status Failed"),
        ("CompletedWithFailure", "Approval.Failed", "status CompletedWithFailure"),
    ],
)
def test_a_step_that_ended_without_a_decision_fails_the_task_by_name(
    gate: InMemoryGate, status, error, words
):
    started = gate.start()
    gate.decide(started.automation_execution_id, None, status=status)
    gate.automations[started.automation_execution_id].failure_message = "SSM's own words"

    delivery = receive(gate, started.automation_execution_id, status)

    assert delivery is not None and delivery.callback == "DELIVERED"
    [answer] = gate.callbacks.answers
    assert answer.error == error
    assert words in answer.cause
    assert started.approval_id in answer.cause and started.automation_execution_id in answer.cause
    assert answer.cause.endswith("SSM says: SSM's own words")


def test_the_record_is_claimed_before_the_callback_and_finished_after_it(gate: InMemoryGate):
    started = gate.start()
    gate.decide(started.automation_execution_id, "Approved", APPROVE)
    seen_during_the_callback = []
    gate.callbacks.during_next_call = lambda: seen_during_the_callback.append(
        gate.record(started.approval_id)
    )

    receive(gate, started.automation_execution_id)

    [during] = seen_during_the_callback
    assert (during.status, during.outcome, during.callback) == (
        ApprovalStatus.DECIDED,
        "Approved",
        CallbackStatus.SENDING,
    )
    after = gate.record(started.approval_id)
    assert (after.status, after.callback) == (ApprovalStatus.DECIDED, CallbackStatus.DELIVERED)
    assert after.decided_at == gate.clock.now.isoformat()
    assert list(gate.records.pending()) == []


def test_a_second_event_of_a_delivered_decision_calls_nobody_back(gate: InMemoryGate):
    started = gate.start()
    gate.decide(started.automation_execution_id, "Approved", APPROVE)
    receive(gate, started.automation_execution_id)

    again = receive(gate, started.automation_execution_id)

    assert again == Delivery(started.approval_id, "Approved", "DUPLICATE")
    assert len(gate.callbacks.answers) == 1


def test_an_approval_whose_workflow_ended_first_calls_nobody_back(gate: InMemoryGate):
    started = gate.start()
    gate.closer.close(gate.ended("run-1", "ABORTED"))  # cancels the automation

    delivery = receive(gate, started.automation_execution_id, "Cancelled")

    assert delivery == Delivery(started.approval_id, "Cancelled", "CLOSED")
    assert gate.callbacks.answers == []
    assert gate.record(started.approval_id).status is ApprovalStatus.CLOSED


def test_a_decision_without_a_record_is_ignored(gate: InMemoryGate):
    gate.supervisor.add(FakeAutomation("automation-x", "approval-x", "Success", "Approved"))

    assert receive(gate, "automation-x") == Delivery("approval-x", "Approved", "NO_RECORD")
    assert gate.callbacks.answers == []


@pytest.mark.parametrize("code", ["TaskTimedOut", "TaskDoesNotExist"])
def test_a_callback_refused_because_the_workflow_is_gone_is_recorded_not_retried(
    gate: InMemoryGate, code
):
    started = gate.start()
    gate.callbacks.end("token-1", code)
    gate.decide(started.automation_execution_id, "Approved", APPROVE)

    delivery = receive(gate, started.automation_execution_id)

    assert delivery == Delivery(started.approval_id, "Approved", "REFUSED", code)
    record = gate.record(started.approval_id)
    assert (record.callback, record.callback_error) == (CallbackStatus.REFUSED, code)


def test_a_transient_callback_error_raises_and_the_retry_delivers_once(gate: InMemoryGate):
    started = gate.start()
    gate.decide(started.automation_execution_id, "Approved", APPROVE)
    gate.callbacks.fail_next(RuntimeError("ServiceUnavailable"))

    with pytest.raises(RuntimeError, match="ServiceUnavailable"):
        receive(gate, started.automation_execution_id)
    assert gate.record(started.approval_id).callback is CallbackStatus.SENDING
    assert [p.approval_id for p in gate.records.pending()] == [started.approval_id]

    assert receive(gate, started.automation_execution_id).callback == "DELIVERED"
    assert len(gate.callbacks.answers) == 1


def test_a_delivery_another_attempt_finished_first_is_a_duplicate_and_its_result_stands(
    gate: InMemoryGate,
):
    """Two attempts resume one SENDING claim at once: Step Functions answers the first and
    refuses the second, whose REFUSED must not overwrite DELIVERED."""
    started = gate.start()
    gate.decide(started.automation_execution_id, "Approved", APPROVE)
    gate.callbacks.fail_next(RuntimeError("the first attempt died after its claim"))
    with pytest.raises(RuntimeError):
        receive(gate, started.automation_execution_id)

    def the_other_attempt_delivers():
        gate.callbacks.succeed("token-1", {"decision": "Approved"})
        gate.records.finish_callback(started.approval_id, CallbackStatus.DELIVERED, "now")

    gate.callbacks.during_next_call = the_other_attempt_delivers

    delivery = receive(gate, started.automation_execution_id)

    assert delivery == Delivery(started.approval_id, "Approved", "DUPLICATE")
    assert gate.record(started.approval_id).callback is CallbackStatus.DELIVERED
    assert len(gate.callbacks.answers) == 1


def test_a_resumed_delivery_keeps_the_outcome_claimed_first(gate: InMemoryGate):
    """The sweep claimed NotStarted and cancelled the queued automation, then stopped: SSM
    now shows it Cancelled, but the workflow is told NotStarted."""
    started = gate.start()
    gate.records.claim_decision(started.approval_id, "NotStarted", "now")
    gate.decide(started.automation_execution_id, None, status="Cancelled")

    delivery = receive(gate, started.automation_execution_id, "Cancelled")

    assert delivery == Delivery(started.approval_id, "NotStarted", "DELIVERED")
    [answer] = gate.callbacks.answers
    assert answer.error == "Approval.NotStarted"


@pytest.mark.parametrize("status", ["Waiting", "InProgress", "Pending"])
def test_an_event_that_does_not_say_the_step_ended_is_ignored(gate: InMemoryGate, status):
    started = gate.start()

    assert gate.receiver.decision_for(gate.event(started.automation_execution_id, status)) is None
    assert gate.sleeps == []  # not read again: nothing is said to have ended
    assert gate.record(started.approval_id).status is ApprovalStatus.PENDING


def test_an_automation_the_gate_did_not_start_is_ignored(gate: InMemoryGate):
    gate.supervisor.add(FakeAutomation("someone-elses", approval_id=None, status="Success"))

    assert gate.receiver.decision_for(gate.event("someone-elses")) is None
    assert gate.receiver.decision_for(gate.event("unknown-to-ssm")) is None
    assert gate.sleeps == []


@pytest.mark.parametrize(
    "change", [{"document_name": "SomeoneElsesDocument"}, {"action": "aws:sleep"}]
)
def test_an_event_of_another_document_or_action_is_refused_unread(gate: InMemoryGate, change):
    started = gate.start()
    event = gate.event(started.automation_execution_id)._replace(**change)

    with pytest.raises(UnexpectedEvent, match="fix the EventBridge rule"):
        gate.receiver.decision_for(event)
    assert gate.supervisor.reads == []


def test_an_event_ahead_of_ssm_is_read_again_until_ssm_shows_it(gate: InMemoryGate):
    started = gate.start()
    gate.supervisor.lag(started.automation_execution_id, reads=2)
    gate.decide(started.automation_execution_id, "Approved", APPROVE)

    decision = gate.receiver.decision_for(gate.event(started.automation_execution_id))

    assert decision is not None and decision.outcome == "Approved"
    assert gate.sleeps == list(REREAD_DELAYS_SECONDS)
    assert len(gate.supervisor.reads) == 3


def test_an_event_ssm_never_confirms_raises_step_not_terminal_yet(gate: InMemoryGate):
    """Forged, or further ahead of SSM than the re-reads wait: retried by Lambda, never
    dropped, and nobody is called back."""
    started = gate.start()

    with pytest.raises(StepNotTerminalYet, match="SSM still shows it Waiting after 3 reads"):
        gate.receiver.decision_for(gate.event(started.automation_execution_id, "Success"))

    assert gate.sleeps == list(REREAD_DELAYS_SECONDS)
    assert gate.record(started.approval_id).status is ApprovalStatus.PENDING
    assert gate.callbacks.answers == []
