"""Settings of the local AWS for starting automations (a reused ClientToken, whether a
waiting approval holds a slot), through boto3 (docs/aws-behaviour.md, the anchors in
sandbox/ssm/settings.py); and the documented concurrency queue (Pending past the quota, the
oldest starts when a slot frees)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

import sandbox
from tests.support.approval_document import TIMEOUT_SECONDS
from tests.support.sandbox_account import DOCUMENT_NAME
from tests.support.sandbox_variants import AGREED, approvers_inbox, error_of, signal

settings = sandbox.settings

# --- ClientToken --------------------------------------------------------------------------


def _request(aws, approver_arn: str, token: str) -> dict[str, Any]:
    return {
        "DocumentName": DOCUMENT_NAME,
        "ClientToken": token,
        "Parameters": {
            "ApprovalId": [str(uuid.uuid4())],
            "Message": ["m"],
            "Approvers": [approver_arn],
            "NotificationArn": [aws.topic_arn],
        },
    }


def test_client_token_reuse_same_execution(aws, alice):
    request = _request(aws, alice.arn, str(uuid.uuid4()))
    first = aws.ssm.start_automation_execution(**request)["AutomationExecutionId"]
    assert aws.ssm.start_automation_execution(**request)["AutomationExecutionId"] == first


def test_client_token_reuse_idempotent_parameter_mismatch(aws, alice):
    settings.client_token_reuse = "idempotent_parameter_mismatch"
    token = str(uuid.uuid4())
    request = _request(aws, alice.arn, token)
    first = aws.ssm.start_automation_execution(**request)["AutomationExecutionId"]
    with pytest.raises(ClientError) as raised:
        aws.ssm.start_automation_execution(**request)
    code, message = error_of(raised)
    assert code == "IdempotentParameterMismatch"
    assert token in message and first in message
    listed = aws.ssm.describe_automation_executions()["AutomationExecutionMetadataList"]
    assert [item["AutomationExecutionId"] for item in listed] == [first]


# --- the concurrency quota and its queue --------------------------------------------------


def _statuses(aws, execution_ids: list[str]) -> list[str]:
    return [aws.execution(i)["AutomationExecutionStatus"] for i in execution_ids]


def test_past_the_quota_automations_queue_pending_then_the_queue_refuses(aws, alice, emitted):
    settings.max_concurrent_executions = 2
    settings.automation_queue_size = 2
    inbox = approvers_inbox(aws)
    started = [aws.start([alice.arn], message=f"approval {n}") for n in range(4)]
    assert _statuses(aws, started) == ["Waiting", "Waiting", "Pending", "Pending"]
    queued = aws.execution(started[2])
    assert queued["StepExecutions"] == []
    assert "CurrentStepName" not in queued and "ExecutionEndTime" not in queued
    messages = [n["Message"] for n in aws.drain(inbox, wait_seconds=1)]
    assert len(messages) == 2 and all(started[2] not in m for m in messages)
    assert not [e for e in emitted if e["detail"]["ExecutionId"] in started[2:]]

    with pytest.raises(ClientError) as raised:
        aws.start([alice.arn])
    code, message = error_of(raised)
    assert code == "AutomationExecutionLimitExceededException"
    assert "quota is 2" in message and "queue holds 2" in message

    # An approval ends: the oldest queued one starts, asks its approvers, waits.
    signal(alice, started[0], "Approve")
    assert _statuses(aws, started) == ["Success", "Waiting", "Waiting", "Pending"]
    (message,) = [n["Message"] for n in aws.drain(inbox, wait_seconds=1)]
    assert started[2] in message
    statuses = [e["detail"]["Status"] for e in emitted if e["detail"]["ExecutionId"] == started[2]]
    assert statuses[0] == "InProgress" and "Waiting" in statuses


def test_any_end_frees_a_slot_and_cancelling_a_queued_one_frees_its_place(aws, alice):
    settings.max_concurrent_executions = 1
    settings.automation_queue_size = 2
    first, second, third = (aws.start([alice.arn]) for _ in range(3))
    assert _statuses(aws, [first, second, third]) == ["Waiting", "Pending", "Pending"]

    aws.ssm.stop_automation_execution(AutomationExecutionId=second)  # a queued one
    assert _statuses(aws, [first, second, third]) == ["Waiting", "Cancelled", "Pending"]
    fourth = aws.start([alice.arn])  # its place in the queue is free again
    assert aws.execution(fourth)["AutomationExecutionStatus"] == "Pending"

    signal(alice, first, "Reject")  # a rejection ends it too
    assert _statuses(aws, [first, third, fourth]) == ["Failed", "Waiting", "Pending"]
    aws.ssm.stop_automation_execution(AutomationExecutionId=third)  # so does a stop
    assert _statuses(aws, [third, fourth]) == ["Cancelled", "Waiting"]


def test_a_queued_step_times_out_counting_from_when_it_starts(aws, alice):
    settings.max_concurrent_executions = 1
    first = aws.start([alice.arn])
    queued = aws.start([alice.arn])
    sandbox.clock.advance(3000)
    signal(alice, first, "Approve")
    step = aws.approve_step(queued)
    assert step["StepStatus"] == "Waiting"
    assert (
        step["ExecutionStartTime"] - aws.execution(queued)["ExecutionStartTime"]
    ).total_seconds() >= 3000
    sandbox.clock.advance(1000)  # 4000 s after the start call, 1000 s after the step's start
    assert aws.execution(queued)["AutomationExecutionStatus"] == "Waiting"
    sandbox.clock.advance(TIMEOUT_SECONDS - 1000)
    assert aws.execution(queued)["AutomationExecutionStatus"] == "TimedOut"


@pytest.mark.parametrize("waiting_holds_slot", AGREED["waiting_holds_slot"])
def test_waiting_holds_slot(aws, alice, waiting_holds_slot):
    settings.waiting_holds_slot = waiting_holds_slot
    settings.max_concurrent_executions = 1
    settings.automation_queue_size = 0
    first = aws.start([alice.arn])
    if waiting_holds_slot:
        with pytest.raises(ClientError) as raised:
            aws.start([alice.arn])
        assert error_of(raised)[0] == "AutomationExecutionLimitExceededException"
    else:
        second = aws.start([alice.arn])
        assert _statuses(aws, [first, second]) == ["Waiting", "Waiting"]


def test_waiting_holds_slot_changed_at_run_time_starts_the_queue(aws, alice):
    settings.max_concurrent_executions = 1
    first, queued = aws.start([alice.arn]), aws.start([alice.arn])
    assert _statuses(aws, [first, queued]) == ["Waiting", "Pending"]
    settings.waiting_holds_slot = False
    assert _statuses(aws, [first, queued]) == ["Waiting", "Waiting"]
