"""start_approval against moto + the sandbox's SSM Automation: records, automations,
retries and the errors a workflow can Catch."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

import sandbox
from start_approval.errors import (
    ApprovalAlreadyDecided,
    ApprovalConcurrencyLimitExceeded,
    ApprovalStartThrottled,
    InvalidApprovalRequest,
)

LONG_MESSAGE = "".join(f"line {n:04d} of a long change description.\n" for n in range(95))


def request(gate, **extra):
    return {
        "message": "Deploy build 42 to production?",
        "approvers": [gate.principal("alice")],
    } | extra


def test_stores_the_record_then_starts_the_automation_with_the_approval_id(
    gate, start_handler, context
):
    workflow = gate.start_workflow(request(gate, description="release 42"))
    reply = start_handler(workflow.payload, context)

    assert reply["created"] is True
    automation = gate.ssm.get_automation_execution(
        AutomationExecutionId=reply["automation_execution_id"]
    )["AutomationExecution"]
    assert automation["Parameters"]["ApprovalId"] == [reply["approval_id"]]
    assert automation["Parameters"]["Approvers"] == [gate.principal("alice")]
    assert automation["Parameters"]["Description"] == ["release 42"]
    assert automation["AutomationExecutionStatus"] == "Waiting"

    record = gate.record(reply["approval_id"])
    assert record["status"]["S"] == "PENDING"
    assert record["task_token"]["S"] == workflow.payload["task_token"]
    assert record["execution_arn"]["S"] == workflow.execution_arn
    assert record["automation_execution_id"]["S"] == reply["automation_execution_id"]
    assert int(record["expiration"]["N"]) > int(record["requested_epoch"]["N"])


def test_the_task_token_is_never_passed_to_ssm(gate, start_handler, context):
    workflow = gate.start_workflow(request(gate))
    reply = start_handler(workflow.payload, context)
    automation = gate.ssm.get_automation_execution(
        AutomationExecutionId=reply["automation_execution_id"]
    )["AutomationExecution"]
    assert workflow.payload["task_token"] not in str(automation)


def test_a_message_over_512_characters_reaches_the_approvers_whole(gate, start_handler, context):
    assert 512 * 7 < len(LONG_MESSAGE) <= 4096
    reply = start_handler(gate.start_workflow(request(gate, message=LONG_MESSAGE)).payload, context)
    step = gate.ssm.describe_automation_step_executions(
        AutomationExecutionId=reply["automation_execution_id"]
    )["StepExecutions"][0]
    # Step inputs are JSON-encoded, as SSM returns them.
    assert json.loads(step["Inputs"]["Message"]) == LONG_MESSAGE


def test_the_same_invocation_twice_is_answered_from_the_idempotency_store(
    gate, start_handler, context
):
    workflow = gate.start_workflow(request(gate))
    first = start_handler(workflow.payload, context)
    second = start_handler(workflow.payload, context)
    assert second == first
    assert len(gate.automations()) == 1


def test_a_retry_with_a_new_token_reuses_the_automation_and_keeps_the_newest_token(
    gate, start_handler, context
):
    workflow = gate.start_workflow(request(gate))
    first = start_handler(workflow.payload, context)
    retry = start_handler(workflow.payload | {"task_token": "token-of-the-retry"}, context)

    assert retry["approval_id"] == first["approval_id"]
    assert retry["automation_execution_id"] == first["automation_execution_id"]
    assert retry["created"] is False
    assert len(gate.automations()) == 1
    assert gate.record(first["approval_id"])["task_token"]["S"] == "token-of-the-retry"


def test_bad_input_starts_nothing_and_stores_nothing(gate, start_handler, context):
    workflow = gate.start_workflow(request(gate, min_required_approvals=3))
    with pytest.raises(InvalidApprovalRequest, match="min_required_approvals"):
        start_handler(workflow.payload, context)
    assert gate.automations() == []
    assert gate.table_items() == []


def test_throttling_surfaces_as_a_named_error_to_retry(gate, start_handler, context):
    workflow = gate.start_workflow(request(gate))
    sandbox.faults.inject("ssm", "StartAutomationExecution", "ThrottlingException", times=3)
    with pytest.raises(ApprovalStartThrottled, match="retry with backoff"):
        start_handler(workflow.payload, context)
    assert gate.automations() == []

    # The workflow's Retry calls again with the same payload: the approval goes through.
    reply = start_handler(workflow.payload, context)
    assert [a["AutomationExecutionId"] for a in gate.automations()] == [
        reply["automation_execution_id"]
    ]


def test_the_concurrency_limit_surfaces_as_a_named_error_to_retry(gate, start_handler, context):
    sandbox.settings.max_concurrent_executions = 1
    start_handler(gate.start_workflow(request(gate)).payload, context)
    with pytest.raises(ApprovalConcurrencyLimitExceeded, match="retry with backoff"):
        start_handler(gate.start_workflow(request(gate)).payload, context)
    assert len(gate.automations()) == 1


def test_other_ssm_errors_propagate_unchanged(gate, start_handler, context):
    gate.ssm.delete_document(Name="ApprovalGate-Approval")
    with pytest.raises(ClientError):
        start_handler(gate.start_workflow(request(gate)).payload, context)


def test_a_retry_after_the_decision_raises_already_decided(gate, start_handler, context):
    workflow = gate.start_workflow(request(gate))
    reply = start_handler(workflow.payload, context)
    gate.dynamodb.update_item(
        TableName="approval-gate-records",
        Key={"pk": {"S": f"approval#{reply['approval_id']}"}},
        UpdateExpression="SET #s = :d, outcome = :o",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":d": {"S": "DECIDED"}, ":o": {"S": "Approved"}},
    )
    with pytest.raises(ApprovalAlreadyDecided, match="already decided"):
        start_handler(workflow.payload | {"task_token": "another"}, context)
