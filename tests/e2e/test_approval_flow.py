"""Whole approvals through the deployed gate: Step Functions -> start_approval (the real zip)
-> SSM Automation -> EventBridge -> receive_result (the real zip) -> Step Functions."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.terraform


def request(gate, *approvers: str, quorum: int = 1, message: str = "Ship it?") -> dict:
    return {
        "message": message,
        "approvers": [gate.principal_arn(a) for a in approvers],
        "min_required_approvals": quorum,
    }


def decision_of(execution: dict) -> dict:
    return json.loads(execution["output"])["approval"]


def test_an_approval_with_a_comment_reaches_the_workflow(gate):
    execution_arn = gate.start(request(gate, "alice", "bob"))
    automation = gate.automation_of(execution_arn)
    gate.decide("alice", automation, "Approve", "ship it, checked the diff")

    execution = gate.finished(execution_arn)
    assert execution["status"] == "SUCCEEDED"
    approval = decision_of(execution)
    assert (approval["decision"], approval["is_approved"]) == ("Approved", True)
    assert [(d["approver"], d["comment"]) for d in approval["decided_by"]] == [
        (gate.principal_arn("alice"), "ship it, checked the diff")
    ]
    history = gate.client("stepfunctions").get_execution_history(executionArn=execution_arn)
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in history["events"]
        if "stateEnteredEventDetails" in e
    ]
    assert entered[-1] == "Approved"


def test_a_rejection_ends_in_the_rejected_state(gate):
    execution_arn = gate.start(request(gate, "bob"))
    gate.decide("bob", gate.automation_of(execution_arn), "Reject", "not now")

    approval = decision_of(gate.finished(execution_arn))
    assert (approval["decision"], approval["is_approved"]) == ("Rejected", False)
    assert approval["decided_by"][0]["comment"] == "not now"


def test_two_of_three_approvers_are_needed_for_a_quorum_of_two(gate):
    execution_arn = gate.start(request(gate, "alice", "bob", "carol", quorum=2))
    automation = gate.automation_of(execution_arn)
    gate.decide("alice", automation, "Approve")
    status = gate.client("ssm").get_automation_execution(AutomationExecutionId=automation)[
        "AutomationExecution"
    ]["AutomationExecutionStatus"]
    assert status == "Waiting"

    gate.decide("carol", automation, "Approve", "second pair of eyes")
    approval = decision_of(gate.finished(execution_arn))
    assert approval["is_approved"] is True
    assert {d["approver"] for d in approval["decided_by"]} == {
        gate.principal_arn("alice"),
        gate.principal_arn("carol"),
    }


def test_an_approver_not_on_the_list_is_refused(gate):
    execution_arn = gate.start(request(gate, "alice"))
    automation = gate.automation_of(execution_arn)
    with pytest.raises(ClientError) as refused:
        gate.decide("carol", automation, "Approve", "let me in")
    assert refused.value.response["Error"]["Code"] == "InvalidAutomationSignalException"
    assert gate.principal_arn("carol") in str(refused.value)

    gate.decide("alice", automation, "Reject")
    assert decision_of(gate.finished(execution_arn))["decision"] == "Rejected"


def test_an_approval_nobody_decides_expires_and_fails_the_task(gate):
    execution_arn = gate.start(request(gate, "alice"))
    gate.automation_of(execution_arn)
    gate.aws.api("/moto-api/sandbox/clock/advance", {"seconds": 3601})

    execution = gate.finished(execution_arn)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "Approval.Expired"
    assert "timed out" in execution["cause"]


def test_a_retried_start_creates_one_automation(gate):
    payload = {
        "task_token": "token-of-the-first-attempt",
        "execution_arn": (
            "arn:aws:states:us-east-1:123456789012:execution:approval-workflow:retried"
        ),
        "state_name": "RequestApproval",
        "state_entered_time": "2026-11-28T08:00:00.000Z",
        "request": request(gate, "alice"),
    }
    lambda_ = gate.client("lambda")
    replies = []
    for token in ("token-of-the-first-attempt", "token-of-the-retry"):
        response = lambda_.invoke(
            FunctionName=gate.outputs["start_approval_alias_arn"],
            Payload=json.dumps(payload | {"task_token": token}).encode(),
        )
        assert "FunctionError" not in response
        replies.append(json.loads(response["Payload"].read()))

    assert replies[0]["automation_execution_id"] == replies[1]["automation_execution_id"]
    approval_id = replies[0]["approval_id"]
    automations = gate.client("ssm").describe_automation_executions()[
        "AutomationExecutionMetadataList"
    ]
    mine = [
        a
        for a in automations
        if gate.client("ssm").get_automation_execution(
            AutomationExecutionId=a["AutomationExecutionId"]
        )["AutomationExecution"]["Parameters"]["ApprovalId"]
        == [approval_id]
    ]
    assert len(mine) == 1
    [record] = gate.records_of(payload["execution_arn"])
    assert record["task_token"] == "token-of-the-retry"


def test_bad_input_fails_the_workflow_with_the_named_error(gate):
    execution_arn = gate.start(
        {"message": "m", "approvers": ["arn:aws:iam::123456789012:group/Admins"]}
    )
    execution = gate.finished(execution_arn)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "InvalidApprovalRequest"
    assert "request.approvers[0]" in execution["cause"]


def test_a_result_that_keeps_failing_lands_in_the_dead_letter_queue_and_is_replayed(gate):
    from approvals_cli.redrive import gate_functions, redrive

    execution_arn = gate.start(request(gate, "alice"))
    automation = gate.automation_of(execution_arn)
    # The records table refuses receive_result's writes (a broken deployment, say): every
    # attempt fails, Lambda retries twice, then the event goes to the dead-letter queue.
    gate.aws.api(
        "/moto-api/sandbox/faults",
        {"service": "dynamodb", "operation": "UpdateItem", "error_code": "AccessDeniedException"},
    )
    sqs = gate.client("sqs")
    queue = gate.outputs["dead_letter_queue_url"]
    try:
        gate.decide("alice", automation, "Approve", "approved while broken")

        def dead_lettered():
            attributes = sqs.get_queue_attributes(
                QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            return int(attributes["ApproximateNumberOfMessages"]) >= 1

        deadline = time.monotonic() + 60
        while not dead_lettered():
            assert time.monotonic() < deadline, "nothing reached the dead-letter queue"
            time.sleep(0.5)
        assert (
            gate.client("stepfunctions").describe_execution(executionArn=execution_arn)["status"]
            == "RUNNING"
        )
        alarm = gate.client("cloudwatch").describe_alarms(
            AlarmNames=[gate.outputs["dead_letter_alarm_name"]]
        )["MetricAlarms"][0]
        assert alarm["Namespace"] == "AWS/SQS" and alarm["Threshold"] == 0
    finally:
        gate.aws.api("/moto-api/sandbox/faults", method="DELETE")  # the fix

    functions = gate_functions(
        gate.outputs["receive_result_alias_arn"], gate.outputs["close_approvals_alias_arn"]
    )
    result = redrive(sqs, gate.client("lambda"), queue, functions)
    assert result.failed == [] and result.replayed >= 1
    approval = decision_of(gate.finished(execution_arn))
    assert approval["is_approved"] is True
    assert approval["decided_by"][0]["comment"] == "approved while broken"
    assert redrive(sqs, gate.client("lambda"), queue, functions).replayed == 0  # queue empty
