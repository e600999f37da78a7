"""Settings of the local AWS for how an approval step ends and what it leaves (statuses,
outputs, decisions, a failed notification), one value at a time, through boto3
(docs/aws-behaviour.md, the anchors in sandbox/ssm/settings.py)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

import sandbox
from tests.support.approval_document import TIMEOUT_SECONDS
from tests.support.sandbox_variants import AGREED, approvers_inbox, decisions, error_of, signal

settings = sandbox.settings

# --- statuses and outputs -----------------------------------------------------------------


@pytest.mark.parametrize("status", AGREED["rejection_status"])
def test_rejection_status_ends_step_and_automation(aws, alice, emitted, status):
    settings.rejection_status = status
    execution_id = aws.start([alice.arn])
    signal(alice, execution_id, "Reject", "no")

    execution = aws.execution(execution_id)
    step = execution["StepExecutions"][0]
    assert (step["StepStatus"], execution["AutomationExecutionStatus"]) == (status, status)
    assert step["Outputs"]["ApprovalStatus"] == ["Rejected"]
    assert [(d["Decision"], d["Comment"]) for d in decisions(step)] == [("Reject", "no")]
    if status == "Success":
        assert "FailureMessage" not in step
    else:
        assert alice.arn in step["FailureMessage"]
        assert alice.arn in execution["FailureMessage"]
    step_events = [
        e["detail"]["Status"]
        for e in emitted
        if e["detail-type"].endswith("Step Status-change Notification")
    ]
    assert step_events[-1] == status
    # An ended automation takes no more signals, whatever its end is called.
    with pytest.raises(ClientError) as raised:
        signal(alice, execution_id, "Approve")
    assert error_of(raised)[0] == "InvalidAutomationSignalException"


@pytest.mark.parametrize("status", AGREED["approval_status"])
def test_approval_status_ends_step_and_automation(aws, alice, emitted, status):
    settings.approval_status = status
    execution_id = aws.start([alice.arn])
    signal(alice, execution_id, "Approve")

    execution = aws.execution(execution_id)
    step = execution["StepExecutions"][0]
    assert (step["StepStatus"], execution["AutomationExecutionStatus"]) == (status, status)
    assert step["Outputs"]["ApprovalStatus"] == ["Approved"]
    assert "FailureMessage" not in step and "FailureMessage" not in execution
    assert "ExecutionEndTime" in execution
    execution_events = [
        e["detail"]["Status"]
        for e in emitted
        if e["detail-type"].endswith("Execution Status-change Notification")
    ]
    assert execution_events[-1] == status


def _end_by(aws, principal, how: str) -> str:
    execution_id = aws.start([principal.arn])
    if how == "reject":
        signal(principal, execution_id, "Reject")
    elif how == "expire":
        sandbox.clock.advance(TIMEOUT_SECONDS + 1)
    elif how == "cancel":
        aws.ssm.stop_automation_execution(AutomationExecutionId=execution_id)
    else:
        signal(principal, execution_id, "Approve")
    return execution_id


@pytest.mark.parametrize(
    ("how", "end"),
    [("reject", "Failed"), ("expire", "TimedOut"), ("cancel", "Cancelled"), ("approve", "Success")],
)
@pytest.mark.parametrize("failed_step_outputs", AGREED["failed_step_outputs"])
def test_failed_step_outputs(aws, alice, how, end, failed_step_outputs):
    settings.failed_step_outputs = failed_step_outputs
    step = aws.approve_step(_end_by(aws, alice, how))
    assert step["StepStatus"] == end
    if failed_step_outputs == "dropped" and end != "Success":
        assert step["Outputs"] == {}
    else:
        assert set(step["Outputs"]) == {"ApprovalStatus", "ApproverDecisions"}


def test_dropped_outputs_stay_on_a_rejection_that_ends_in_success(aws, alice):
    settings.failed_step_outputs = "dropped"
    settings.rejection_status = "Success"
    step = aws.approve_step(_end_by(aws, alice, "reject"))
    assert step["Outputs"]["ApprovalStatus"] == ["Rejected"]


def test_dropped_outputs_go_with_every_end_that_is_not_a_success(aws, alice):
    settings.failed_step_outputs = "dropped"
    for status in ("Rejected", "CompletedWithFailure"):
        settings.rejection_status = status
        step = aws.approve_step(_end_by(aws, alice, "reject"))
        assert (step["StepStatus"], step["Outputs"]) == (status, {})
    settings.approval_status = "CompletedWithSuccess"
    step = aws.approve_step(_end_by(aws, alice, "approve"))
    assert step["Outputs"]["ApprovalStatus"] == ["Approved"]


@pytest.mark.parametrize(
    ("decision_values", "expected"),
    [("verb", ["Approve", "Reject"]), ("past", ["Approved", "Rejected"])],
)
def test_decision_values(aws, users, decision_values, expected):
    settings.decision_values = decision_values
    alice, bob = users("alice", "bob")
    execution_id = aws.start([alice.arn, bob.arn], 2)
    signal(alice, execution_id, "Approve")
    signal(bob, execution_id, "Reject")
    assert [d["Decision"] for d in decisions(aws.approve_step(execution_id))] == expected


def test_decisions_serialization_string_per_map(aws, users):
    alice, bob = users("alice", "bob")
    execution_id = aws.start([alice.arn, bob.arn], 2)
    signal(alice, execution_id, "Approve", "one")
    signal(bob, execution_id, "Approve", "two")
    raw = aws.approve_step(execution_id)["Outputs"]["ApproverDecisions"]
    assert len(raw) == 2
    assert [json.loads(item)["Comment"] for item in raw] == ["one", "two"]
    assert all(isinstance(json.loads(item), dict) for item in raw)


def test_decisions_serialization_json_array(aws, users):
    settings.decisions_serialization = "json_array"
    alice, bob = users("alice", "bob")
    execution_id = aws.start([alice.arn, bob.arn], 2)
    assert aws.approve_step(execution_id)["Outputs"]["ApproverDecisions"] == ["[]"]
    signal(alice, execution_id, "Approve", "one")
    signal(bob, execution_id, "Approve", "two")
    (raw,) = aws.approve_step(execution_id)["Outputs"]["ApproverDecisions"]
    array = json.loads(raw)
    assert isinstance(array, list)
    assert [(d["Approver"], d["Comment"]) for d in array] == [(alice.arn, "one"), (bob.arn, "two")]
    assert set(array[0]) == {"Approver", "Decision", "ApprovalDecisionTime", "Comment"}


# --- the notification ---------------------------------------------------------------------


def _start_with_missing_topic(aws, alice) -> str:
    missing = aws.topic_arn.replace("AutomationSandboxApprovals", "AutomationDeleted")
    return aws.start([alice.arn], NotificationArn=[missing])


def test_failed_notification_fails_step(aws, alice):
    step = aws.approve_step(_start_with_missing_topic(aws, alice))
    assert step["StepStatus"] == "Failed"
    assert "does not exist" in step["FailureMessage"]


@pytest.mark.parametrize("failed_notification", AGREED["failed_notification"])
def test_a_fault_on_sns_publish_fails_the_request_too(aws, alice, failed_notification):
    settings.failed_notification = failed_notification
    inbox = approvers_inbox(aws)
    fault = sandbox.faults.inject("sns", "Publish", "AuthorizationError", times=1)
    execution_id = aws.start([alice.arn])
    assert fault.injected == 1
    step = aws.approve_step(execution_id)
    if failed_notification == "fails_step":
        assert step["StepStatus"] == "Failed"
        assert "AuthorizationError" in step["FailureMessage"]
    else:
        assert step["StepStatus"] == "Waiting"
    assert aws.drain(inbox, wait_seconds=0.5) == []
    aws.start([alice.arn])  # the next request goes out
    assert len(aws.drain(inbox, wait_seconds=1)) == 1


def test_failed_notification_waits_unannounced(aws, alice):
    settings.failed_notification = "waits_unannounced"
    inbox = approvers_inbox(aws)
    execution_id = _start_with_missing_topic(aws, alice)
    execution = aws.execution(execution_id)
    assert execution["AutomationExecutionStatus"] == "Waiting"
    assert execution["StepExecutions"][0]["Outputs"]["ApprovalStatus"] == ["Waiting"]
    assert aws.drain(inbox, wait_seconds=0.5) == []
    # Nobody was told; it still expires (or takes a decision from someone who knows).
    sandbox.clock.advance(TIMEOUT_SECONDS + 1)
    assert aws.execution(execution_id)["AutomationExecutionStatus"] == "TimedOut"
    # Input checks are not notifications: they fail the step under either value.
    bad = aws.start([alice.arn], NotificationArn=["arn:aws:sns:us-east-1:123456789012:Other"])
    assert aws.approve_step(bad)["StepStatus"] == "Failed"
