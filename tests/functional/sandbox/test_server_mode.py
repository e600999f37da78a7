"""The same boto3 code against moto's server mode (ThreadedMotoServer on 127.0.0.1)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

import sandbox
from sandbox import faults


def test_an_approval_round_trip_over_http(server_aws):
    aws = server_aws
    queue_url, queue_arn = aws.queue("results")
    aws.events.put_rule(
        Name="results",
        EventPattern=json.dumps(
            {
                "source": ["aws.ssm"],
                "detail-type": ["EC2 Automation Step Status-change Notification"],
                "detail": {"Status": ["Success", "Failed"], "Action": ["aws:approve"]},
            }
        ),
    )
    aws.events.put_targets(Rule="results", Targets=[{"Id": "q", "Arn": queue_arn}])
    alice, bob = aws.user("alice"), aws.user("bob")
    role_arn = aws.role("approvers")
    execution_id = aws.start([alice.arn, role_arn, bob.arn], 2)

    with pytest.raises(ClientError) as raised:
        bob_session = aws.assume(aws.role("other"), "bob")
        bob_session.ssm.send_automation_signal(
            AutomationExecutionId=execution_id, SignalType="Approve"
        )
    assert raised.value.response["Error"]["Code"] == "InvalidAutomationSignalException"

    alice.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")
    aws.assume(role_arn, "carol").ssm.send_automation_signal(
        AutomationExecutionId=execution_id, SignalType="Approve", Payload={"Comment": ["ok"]}
    )
    step = aws.approve_step(execution_id)
    assert step["Outputs"]["ApprovalStatus"] == ["Approved"]
    approvers = [json.loads(item)["Approver"] for item in step["Outputs"]["ApproverDecisions"]]
    assert approvers == [alice.arn, "arn:aws:sts::123456789012:assumed-role/approvers/carol"]
    (event,) = aws.drain(queue_url, wait_seconds=2)
    assert event["detail"]["ExecutionId"] == execution_id
    assert event["detail"]["Status"] == "Success"


def test_faults_and_the_clock_work_over_http(server_aws):
    aws = server_aws
    alice = aws.user("alice")
    faults.inject("ssm", "StartAutomationExecution", "ThrottlingException", times=1)
    with pytest.raises(ClientError) as raised:
        aws.start([alice.arn])
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"

    execution_id = aws.start([alice.arn])
    sandbox.clock.advance(3601)
    assert aws.execution(execution_id)["AutomationExecutionStatus"] == "TimedOut"
