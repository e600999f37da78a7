"""start_approval's logic (StartApproval) on in-memory fakes: the record is written before the
automation starts, the errors a workflow Catches leave a record a retry completes, and a
retry finds the automation it started instead of starting a second one. (The payload's
checks: test_start_validation.py; the adapter's mapping of SSM's errors and its tag
recovery: test_automation_launcher.py; against moto: tests/functional/services.)"""

import pytest

from approval_core.records import ApprovalStatus
from start_approval.errors import (
    ApprovalAlreadyDecided,
    ApprovalConcurrencyLimitExceeded,
    ApprovalStartThrottled,
)
from start_approval.models import StartedApproval
from tests.support.in_memory_gate import (
    APPROVAL_TIMEOUT_SECONDS,
    EXECUTIONS,
    REQUEST,
    RETENTION_DAYS,
    InMemoryGate,
)


def test_the_record_is_written_before_the_automation_starts(gate: InMemoryGate):
    started = gate.start()

    assert gate.journal == ["records.create_or_refresh", "launcher.start", "records.set_automation"]
    assert started.created is True
    record = gate.record(started.approval_id)
    assert record.status is ApprovalStatus.PENDING
    assert (record.task_token, record.execution_arn) == ("token-1", EXECUTIONS + "run-1")
    assert record.automation_execution_id == started.automation_execution_id
    automation = gate.automations[started.automation_execution_id]
    assert (automation.approval_id, automation.launch) == (
        started.approval_id,
        REQUEST.first_stage(),
    )


def test_a_record_printed_never_shows_its_task_token(gate: InMemoryGate):
    started = gate.start()
    record = gate.record(started.approval_id)

    for printed in (repr(record), str(record), f"{record}", repr([record])):
        assert record.task_token not in printed
        assert "task_token" not in printed
        assert f"approval_id={started.approval_id!r}" in printed  # the other fields are shown
        assert f"execution_arn={record.execution_arn!r}" in printed


def test_the_record_expires_after_the_approval_could_and_its_retention(gate: InMemoryGate):
    record = gate.record(gate.start().approval_id)

    assert record.requested_at == gate.clock.now.isoformat()
    assert record.requested_epoch == int(gate.clock.now.timestamp())
    assert record.expiration == (
        record.requested_epoch + APPROVAL_TIMEOUT_SECONDS + RETENTION_DAYS * 86400
    )


def test_each_state_entry_is_an_approval_of_its_own(gate: InMemoryGate):
    first, second = gate.start("run-1", "token-1"), gate.start("run-2", "token-2")

    assert first.approval_id != second.approval_id
    assert first.automation_execution_id != second.automation_execution_id
    assert {gate.record(s.approval_id).task_token for s in (first, second)} == {
        "token-1",
        "token-2",
    }


@pytest.mark.parametrize(
    "refusal",
    [
        ApprovalStartThrottled("retry with backoff"),
        ApprovalConcurrencyLimitExceeded("retry with backoff"),
    ],
    ids=["throttled", "concurrency_limit"],
)
def test_a_start_to_retry_raises_the_named_error_and_leaves_a_record_the_retry_completes(
    gate: InMemoryGate, refusal: Exception
):
    gate.launcher.fail_next(refusal)

    with pytest.raises(type(refusal)):
        gate.start()

    approval_id = gate.invocation().approval_id
    record = gate.record(approval_id)
    assert (record.status, record.automation_execution_id) == (ApprovalStatus.PENDING, None)
    assert gate.automations == {}

    # The workflow's Retry: a new token, the same approval, one automation.
    retried = gate.start(token="token-2")
    assert (retried.approval_id, retried.created) == (approval_id, False)
    assert list(gate.automations) == [retried.automation_execution_id]
    record = gate.record(approval_id)
    assert record.automation_execution_id == retried.automation_execution_id
    assert record.task_token == "token-2"


def test_a_retry_whose_record_holds_the_automation_does_not_start_it_again(gate: InMemoryGate):
    first = gate.start()
    gate.journal.clear()

    retry = gate.start(token="token-2")

    assert retry == StartedApproval(first.approval_id, first.automation_execution_id, False)
    assert gate.journal == ["records.create_or_refresh"]
    assert gate.record(first.approval_id).task_token == "token-2"  # the newest token


def test_a_retry_after_a_crash_before_the_record_update_stores_the_automation_it_started(
    gate: InMemoryGate, monkeypatch: pytest.MonkeyPatch
):
    """The automation started, the function died before storing its id: the retry's start
    gets that automation back (SSM's ClientToken, or the approval tag the launcher looks it
    up by) and stores it; no second automation."""

    def crash(*args: object) -> None:
        raise RuntimeError("the function died")

    monkeypatch.setattr(gate.records, "set_automation", crash)
    with pytest.raises(RuntimeError):
        gate.start()
    monkeypatch.undo()
    [automation_id] = gate.automations

    retry = gate.start(token="token-2")

    assert retry.automation_execution_id == automation_id
    assert list(gate.automations) == [automation_id]
    assert gate.record(retry.approval_id).automation_execution_id == automation_id


def test_a_retry_after_the_decision_raises_already_decided_and_starts_nothing(
    gate: InMemoryGate,
):
    first = gate.start()
    gate.records.claim_decision(first.approval_id, "Approved", "2026-11-28T10:05:00+00:00")
    gate.journal.clear()

    with pytest.raises(ApprovalAlreadyDecided, match=r"already decided \(Approved\)"):
        gate.start(token="token-2")

    assert gate.journal == ["records.create_or_refresh"]
    assert gate.record(first.approval_id).task_token == "token-1"  # a decided record is kept


def test_a_retry_after_the_workflow_ended_names_how_it_ended(gate: InMemoryGate):
    first = gate.start()
    gate.closer.close(gate.ended("run-1", "TIMED_OUT"))

    with pytest.raises(ApprovalAlreadyDecided, match="closed: workflow TIMED_OUT"):
        gate.start(token="token-2")
    assert gate.automations[first.automation_execution_id].status == "Cancelled"


def test_a_workflow_that_ends_while_its_approval_starts_leaves_no_automation_behind(
    gate: InMemoryGate, monkeypatch: pytest.MonkeyPatch
):
    """close_approvals runs after the record exists and before the automation's id is
    stored: it finds nothing to cancel, so the start cancels what it started."""
    start = gate.launcher.start

    def start_while_the_workflow_ends(approval_id, request):
        closed = gate.closer.close(gate.ended("run-1", "ABORTED"))
        assert (closed.closed, closed.cancelled_automations) == ((approval_id,), ())
        return start(approval_id, request)

    monkeypatch.setattr(gate.launcher, "start", start_while_the_workflow_ends)

    started = gate.start()

    assert gate.automations[started.automation_execution_id].status == "Cancelled"
    record = gate.record(started.approval_id)
    assert (record.status, record.closed_reason) == (ApprovalStatus.CLOSED, "ABORTED")
    assert record.automation_execution_id == started.automation_execution_id
