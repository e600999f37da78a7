"""close_approvals' logic (CloseApprovals) on in-memory fakes: the approvals of a workflow
that ended are closed (PENDING -> CLOSED, by conditional write) and their automations
cancelled; decided approvals and other workflows' are left alone."""

import pytest

from approval_core.records import ApprovalStatus, CallbackStatus
from receive_result.models import ApproverDecision
from receive_result.workflow_end import ClosedApprovals
from start_approval.errors import ApprovalStartThrottled
from tests.support.in_memory_gate import ALICE, EXECUTIONS, InMemoryGate


@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"])
def test_an_ended_workflows_approval_is_closed_and_its_automation_cancelled(
    gate: InMemoryGate, status
):
    ended, other = gate.start("run-1", "token-1"), gate.start("run-2", "token-2")

    result = gate.closer.close(gate.ended("run-1", status))

    assert result == ClosedApprovals(
        EXECUTIONS + "run-1", status, (ended.approval_id,), (ended.automation_execution_id,)
    )
    record = gate.record(ended.approval_id)
    assert (record.status, record.closed_reason) == (ApprovalStatus.CLOSED, status)
    assert [p.approval_id for p in gate.records.pending()] == [other.approval_id]
    assert gate.automations[ended.automation_execution_id].status == "Cancelled"
    assert gate.automations[other.automation_execution_id].status == "Waiting"
    assert gate.record(other.approval_id).status is ApprovalStatus.PENDING


def test_the_record_is_closed_before_the_automation_is_cancelled(gate: InMemoryGate):
    """A decision landing in between finds the record closed and calls nobody back."""
    gate.start()
    gate.journal.clear()

    gate.closer.close(gate.ended())

    assert gate.journal == ["records.of_execution", "records.close", "supervisor.cancel"]


def test_closing_twice_closes_and_cancels_once(gate: InMemoryGate):
    gate.start()
    gate.closer.close(gate.ended())

    again = gate.closer.close(gate.ended())

    assert (again.closed, again.cancelled_automations) == ((), ())


def test_a_decided_approval_is_left_alone(gate: InMemoryGate):
    started = gate.start()
    gate.decide(started.automation_execution_id, "Approved", ApproverDecision(ALICE, "Approve"))
    gate.deliver(gate.receiver.decision_of(started.automation_execution_id))

    result = gate.closer.close(gate.ended("run-1", "SUCCEEDED"))

    assert (result.closed, result.cancelled_automations) == ((), ())
    record = gate.record(started.approval_id)
    assert (record.status, record.callback) == (ApprovalStatus.DECIDED, CallbackStatus.DELIVERED)


def test_a_throttled_cancel_raises_and_the_retry_cancels(gate: InMemoryGate):
    started = gate.start()
    gate.supervisor.fail_next_cancel(RuntimeError("ThrottlingException"))

    with pytest.raises(RuntimeError, match="ThrottlingException"):
        gate.closer.close(gate.ended())
    # Closed already, so no decision reaches the ended workflow; the automation still waits.
    assert gate.record(started.approval_id).status is ApprovalStatus.CLOSED
    assert gate.automations[started.automation_execution_id].status == "Waiting"

    retried = gate.closer.close(gate.ended())  # Lambda's retry of the event

    assert (retried.closed, retried.cancelled_automations) == (
        (),
        (started.automation_execution_id,),
    )
    assert gate.automations[started.automation_execution_id].status == "Cancelled"


def test_an_approval_whose_automation_has_not_started_is_closed_with_nothing_to_cancel(
    gate: InMemoryGate,
):
    gate.launcher.fail_next(ApprovalStartThrottled("retry with backoff"))
    with pytest.raises(ApprovalStartThrottled):
        gate.start()
    approval_id = gate.invocation().approval_id

    result = gate.closer.close(gate.ended())

    assert (result.closed, result.cancelled_automations) == ((approval_id,), ())
    assert gate.record(approval_id).status is ApprovalStatus.CLOSED


def test_a_stale_execution_index_never_closes_a_decided_approval(gate: InMemoryGate):
    """by_execution shows the approval PENDING, but it was decided: the conditional close
    finds it DECIDED, closes nothing and cancels nothing."""
    started = gate.start()
    stale = gate.records.of_execution(EXECUTIONS + "run-1")
    gate.decide(started.automation_execution_id, "Approved", ApproverDecision(ALICE, "Approve"))
    gate.deliver(gate.receiver.decision_of(started.automation_execution_id))
    gate.records.of_execution = lambda execution_arn: stale

    result = gate.closer.close(gate.ended("run-1", "SUCCEEDED"))

    assert (result.closed, result.cancelled_automations) == ((), ())
    assert gate.record(started.approval_id).status is ApprovalStatus.DECIDED
    assert gate.journal[-1] == "records.close"  # tried, refused: no cancel


def test_an_index_image_without_the_automation_id_still_cancels_it(gate: InMemoryGate):
    """The close returns the record as the table has it, so the automation id stored after
    the index image is cancelled."""
    started = gate.start()
    [image] = gate.records.of_execution(EXECUTIONS + "run-1")
    gate.records.of_execution = lambda execution_arn: [image._replace(automation_execution_id=None)]

    result = gate.closer.close(gate.ended())

    assert result.cancelled_automations == (started.automation_execution_id,)
    assert gate.automations[started.automation_execution_id].status == "Cancelled"
