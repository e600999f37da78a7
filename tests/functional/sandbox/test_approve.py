"""aws:approve: inputs, the SNS request, who may signal, quorum, rejection, decisions."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from botocore.exceptions import ClientError

import sandbox


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


def decisions(step: dict) -> list[dict]:
    return [json.loads(item) for item in step["Outputs"]["ApproverDecisions"]]


# --- the step's inputs and the notification -----------------------------------------------


def test_the_approval_request_is_published_to_the_topic(aws, alice):
    queue_url, queue_arn = aws.queue("approvers-inbox")
    aws.sns.subscribe(TopicArn=aws.topic_arn, Protocol="sqs", Endpoint=queue_arn)

    bob = aws.user("bob")
    execution_id = aws.start([alice.arn, bob.arn], 2, message="Deploy release 42?")

    (notification,) = aws.drain(queue_url, wait_seconds=2)
    text = notification["Message"]
    assert execution_id in text
    assert "Deploy release 42?" in text
    assert alice.arn in text and bob.arn in text
    assert "2 approval(s) required" in text


@pytest.mark.parametrize(
    ("approvers", "min_required", "expected"),
    [
        ([f"user{i}" for i in range(11)], 1, "1 to 10 principals, got 11"),
        (["alice", "bob"], 3, "MinRequiredApprovals is 3"),
        (["alice"], 0, "MinRequiredApprovals is 0"),
        (["arn:aws:iam::123456789012:group/admins"], 1, "IAM group"),
        (["not an approver!"], 1, "is not an IAM user name"),
    ],
)
def test_invalid_approvers_fail_the_step(aws, approvers, min_required, expected):
    execution_id = aws.start(approvers, min_required)
    execution = aws.execution(execution_id)
    assert execution["AutomationExecutionStatus"] == "Failed"
    step = execution["StepExecutions"][0]
    assert step["StepStatus"] == "Failed"
    assert expected in step["FailureMessage"]


def test_ten_approvers_are_allowed(aws):
    execution_id = aws.start([f"user{i}" for i in range(10)], 10)
    assert aws.execution(execution_id)["AutomationExecutionStatus"] == "Waiting"


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("arn:aws:sns:us-east-1:123456789012:AutomationMissing", "does not exist"),
        ("arn:aws:sns:us-east-1:123456789012:Approvals", "must start with 'Automation'"),
        ("not-an-arn", "is not an SNS topic ARN"),
    ],
)
def test_the_notification_topic_must_exist_and_start_with_automation(aws, alice, topic, expected):
    aws.sns.create_topic(Name="Approvals")
    execution_id = aws.start([alice.arn], NotificationArn=[topic])
    step = aws.approve_step(execution_id)
    assert step["StepStatus"] == "Failed"
    assert expected in step["FailureMessage"]


# --- who may signal -----------------------------------------------------------------------


def test_an_iam_user_listed_by_arn_approves(aws, alice):
    execution_id = aws.start([alice.arn])
    alice.ssm.send_automation_signal(
        AutomationExecutionId=execution_id, SignalType="Approve", Payload={"Comment": ["LGTM"]}
    )
    execution = aws.execution(execution_id)
    assert execution["AutomationExecutionStatus"] == "Success"
    step = execution["StepExecutions"][0]
    assert step["StepStatus"] == "Success"
    assert step["Outputs"]["ApprovalStatus"] == ["Approved"]
    (decision,) = decisions(step)
    assert decision["Approver"] == alice.arn
    assert decision["Decision"] == "Approve"
    assert decision["Comment"] == "LGTM"
    assert datetime.fromisoformat(decision["ApprovalDecisionTime"]) >= step["ExecutionStartTime"]
    assert step["ExecutionEndTime"] >= step["ExecutionStartTime"]
    assert "ExecutionEndTime" in execution
    assert "CurrentStepName" not in execution


def test_an_iam_user_listed_by_name_approves(aws, alice):
    execution_id = aws.start(["alice"])
    alice.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")
    assert aws.execution(execution_id)["AutomationExecutionStatus"] == "Success"


def test_any_session_of_a_listed_role_approves(aws):
    role_arn = aws.role("approvers")
    execution_id = aws.start([role_arn])
    session = aws.assume(role_arn, "carol-laptop")
    session.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")

    step = aws.approve_step(execution_id)
    assert step["Outputs"]["ApprovalStatus"] == ["Approved"]
    assert decisions(step)[0]["Approver"] == (
        "arn:aws:sts::123456789012:assumed-role/approvers/carol-laptop"
    )


def test_an_assumed_role_arn_admits_only_that_session(aws):
    role_arn = aws.role("approvers")
    listed = aws.assume(role_arn, "carol")
    other = aws.assume(role_arn, "mallory")
    execution_id = aws.start([listed.arn])

    with pytest.raises(ClientError) as raised:
        other.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")
    code, message = error_of(raised)
    assert code == "InvalidAutomationSignalException"
    assert other.arn in message

    listed.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")
    assert aws.execution(execution_id)["AutomationExecutionStatus"] == "Success"


def test_someone_not_listed_is_refused_by_name(aws, alice):
    mallory = aws.user("mallory")
    execution_id = aws.start([alice.arn])
    with pytest.raises(ClientError) as raised:
        mallory.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")
    code, message = error_of(raised)
    assert code == "InvalidAutomationSignalException"
    assert mallory.arn in message
    # The default (unlisted) identity is refused too.
    with pytest.raises(ClientError) as raised:
        aws.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Reject")
    assert "arn:aws:sts::123456789012:user/moto" in error_of(raised)[1]
    assert aws.execution(execution_id)["AutomationExecutionStatus"] == "Waiting"


def test_a_user_of_a_listed_name_in_role_form_is_not_a_role(aws, alice):
    # "alice" names the IAM user; a role session named alice is someone else.
    role_arn = aws.role("alice-role")
    session = aws.assume(role_arn, "alice")
    execution_id = aws.start(["alice"])
    with pytest.raises(ClientError) as raised:
        session.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")
    assert error_of(raised)[0] == "InvalidAutomationSignalException"


# --- quorum, duplicates, rejection --------------------------------------------------------


def test_two_of_three_approvers_make_a_quorum(aws, users):
    alice, bob, carol = users("alice", "bob", "carol")
    execution_id = aws.start([alice.arn, bob.arn, carol.arn], 2)

    alice.ssm.send_automation_signal(
        AutomationExecutionId=execution_id, SignalType="Approve", Payload={"Comment": ["one"]}
    )
    step = aws.approve_step(execution_id)
    assert step["StepStatus"] == "Waiting"
    assert step["Outputs"]["ApprovalStatus"] == ["Waiting"]
    assert [d["Approver"] for d in decisions(step)] == [alice.arn]

    carol.ssm.send_automation_signal(
        AutomationExecutionId=execution_id, SignalType="Approve", Payload={"Comment": ["two"]}
    )
    execution = aws.execution(execution_id)
    assert execution["AutomationExecutionStatus"] == "Success"
    step = execution["StepExecutions"][0]
    assert step["Outputs"]["ApprovalStatus"] == ["Approved"]
    assert [(d["Approver"], d["Comment"]) for d in decisions(step)] == [
        (alice.arn, "one"),
        (carol.arn, "two"),
    ]


def test_an_approver_deciding_twice_counts_once(aws, users):
    alice, bob = users("alice", "bob")
    execution_id = aws.start([alice.arn, bob.arn], 2)
    for _ in range(2):
        alice.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")
    step = aws.approve_step(execution_id)
    assert step["StepStatus"] == "Waiting"
    assert len(decisions(step)) == 1

    bob.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")
    assert aws.approve_step(execution_id)["Outputs"]["ApprovalStatus"] == ["Approved"]


def test_two_sessions_of_one_listed_role_count_once(aws, alice):
    role_arn = aws.role("approvers")
    execution_id = aws.start([role_arn, alice.arn], 2)
    for session in ("s1", "s2"):
        aws.assume(role_arn, session).ssm.send_automation_signal(
            AutomationExecutionId=execution_id, SignalType="Approve"
        )
    assert aws.approve_step(execution_id)["StepStatus"] == "Waiting"


def test_a_rejection_fails_step_and_automation_by_default(aws, users):
    alice, bob = users("alice", "bob")
    execution_id = aws.start([alice.arn, bob.arn], 2)
    alice.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")
    bob.ssm.send_automation_signal(
        AutomationExecutionId=execution_id, SignalType="Reject", Payload={"Comment": ["no"]}
    )
    execution = aws.execution(execution_id)
    assert execution["AutomationExecutionStatus"] == "Failed"
    step = execution["StepExecutions"][0]
    assert step["StepStatus"] == "Failed"
    assert step["Outputs"]["ApprovalStatus"] == ["Rejected"]
    assert bob.arn in step["FailureMessage"]
    assert [(d["Decision"], d["Comment"]) for d in decisions(step)] == [
        ("Approve", ""),
        ("Reject", "no"),
    ]


def test_a_rejection_can_be_set_to_end_in_success(aws, alice):
    sandbox.settings.rejection_status = "Success"
    execution_id = aws.start([alice.arn])
    alice.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Reject")
    execution = aws.execution(execution_id)
    assert execution["AutomationExecutionStatus"] == "Success"
    step = execution["StepExecutions"][0]
    assert step["StepStatus"] == "Success"
    assert step["Outputs"]["ApprovalStatus"] == ["Rejected"]
    assert "FailureMessage" not in step


# --- signal errors ------------------------------------------------------------------------


def test_signal_errors(aws, alice):
    with pytest.raises(ClientError) as raised:
        alice.ssm.send_automation_signal(
            AutomationExecutionId="00000000-0000-0000-0000-000000000000", SignalType="Approve"
        )
    assert error_of(raised)[0] == "AutomationExecutionNotFoundException"

    execution_id = aws.start([alice.arn])
    with pytest.raises(ClientError) as raised:
        alice.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Resume")
    assert error_of(raised)[0] == "InvalidAutomationSignalException"

    alice.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")
    with pytest.raises(ClientError) as raised:
        alice.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Reject")
    code, message = error_of(raised)
    assert code == "InvalidAutomationSignalException"
    assert "Success" in message
