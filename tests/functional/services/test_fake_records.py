"""The unit layer's FakeApprovalRecords (tests/support/fakes.py) keeps the rules of the real
ApprovalRecords: each case runs against both, the real one on moto's table."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from approval_core.records import (
    ApprovalRecord,
    ApprovalRecords,
    ApprovalStatus,
    CallbackAlreadyFinished,
    CallbackStatus,
    RecordNotPending,
)
from tests.support.aws_env import TABLE_NAME
from tests.support.fakes import FakeApprovalRecords
from tests.support.records_table import create_records_table

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:Flow:run-1"
NOW = "2026-11-28T10:00:00+00:00"


def new_record(approval_id: str, requested_epoch: int = 1_795_860_000, **changes) -> ApprovalRecord:
    values = {
        "approval_id": approval_id,
        "task_token": f"token-of-{approval_id}",
        "execution_arn": EXECUTION,
        "state_name": "Approve",
        "state_entered_time": "2026-11-28T10:00:00Z",
        "requested_at": NOW,
        "requested_epoch": requested_epoch,
        "expiration": requested_epoch + 86400,
    }
    return ApprovalRecord(**(values | changes))


@pytest.fixture(params=["dynamodb", "fake"])
def records(request) -> Iterator[ApprovalRecords | FakeApprovalRecords]:
    if request.param == "fake":
        yield FakeApprovalRecords()
        return
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        create_records_table(dynamodb)
        yield ApprovalRecords(dynamodb, TABLE_NAME)


def test_a_new_record_is_stored_and_a_retry_refreshes_its_token(records):
    record = new_record("a")
    assert records.create_or_refresh(record) is record

    refreshed = records.create_or_refresh(new_record("a", task_token="newer"))

    assert refreshed is not record
    assert refreshed.task_token == "newer"
    assert records.get("a") == refreshed
    assert records.get("missing") is None


def test_a_record_that_left_pending_refuses_a_refresh_a_claim_and_a_close(records):
    records.create_or_refresh(new_record("a"))
    claimed = records.claim_decision("a", "Approved", NOW)
    assert (claimed.status, claimed.outcome, claimed.callback) == (
        ApprovalStatus.DECIDED,
        "Approved",
        CallbackStatus.SENDING,
    )

    for write in (
        lambda: records.create_or_refresh(new_record("a", task_token="newer")),
        lambda: records.claim_decision("a", "Rejected", NOW),
        lambda: records.close("a", "ABORTED", NOW),
    ):
        with pytest.raises(RecordNotPending) as refused:
            write()
        assert refused.value.record == claimed
    assert records.get("a") == claimed


def test_a_closed_record_refuses_a_claim_but_takes_its_automation(records):
    records.create_or_refresh(new_record("a"))
    closed = records.close("a", "TIMED_OUT", NOW)
    assert (closed.status, closed.closed_reason) == (ApprovalStatus.CLOSED, "TIMED_OUT")

    with pytest.raises(RecordNotPending):
        records.claim_decision("a", "Approved", NOW)
    updated = records.set_automation("a", "automation-1", NOW)
    assert (updated.status, updated.automation_execution_id) == (
        ApprovalStatus.CLOSED,
        "automation-1",
    )


def test_a_callback_result_is_recorded_once(records):
    records.create_or_refresh(new_record("a"))
    records.claim_decision("a", "Approved", NOW)
    delivered = records.finish_callback("a", CallbackStatus.DELIVERED, NOW)

    with pytest.raises(CallbackAlreadyFinished) as refused:
        records.finish_callback("a", CallbackStatus.REFUSED, NOW, "TaskTimedOut")

    assert refused.value.record == delivered
    assert records.get("a").callback is CallbackStatus.DELIVERED


def test_writes_to_a_missing_record_raise_lookup_error(records):
    for write in (
        lambda: records.set_automation("missing", "automation-1", NOW),
        lambda: records.claim_decision("missing", "Approved", NOW),
        lambda: records.close("missing", "ABORTED", NOW),
        lambda: records.finish_callback("missing", CallbackStatus.DELIVERED, NOW),
    ):
        with pytest.raises(LookupError):
            write()


def test_the_pending_index_lists_what_awaits_a_decision_or_its_callback_oldest_first(records):
    for approval_id, epoch in (("late", 300), ("delivered", 50), ("closed", 60), ("early", 100)):
        records.create_or_refresh(new_record(approval_id, requested_epoch=epoch))
    records.set_automation("early", "automation-1", NOW)
    records.claim_decision("late", "Approved", NOW)  # its callback is still SENDING
    records.claim_decision("delivered", "Approved", NOW)
    records.finish_callback("delivered", CallbackStatus.DELIVERED, NOW)
    records.close("closed", "ABORTED", NOW)

    pending = list(records.pending())

    assert [(p.approval_id, p.requested_epoch) for p in pending] == [("early", 100), ("late", 300)]
    assert pending[0].automation_execution_id == "automation-1"
    assert {r.approval_id for r in records.of_execution(EXECUTION)} == {
        "late",
        "delivered",
        "closed",
        "early",
    }
    assert records.of_execution(EXECUTION + "-other") == []
