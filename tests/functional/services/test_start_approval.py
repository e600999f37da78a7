"""start_approval against moto + the sandbox's SSM Automation: records, automations,
retries and the errors a workflow can Catch."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

import sandbox
from approval_core.launcher import AutomationLauncher, approvers_message
from approval_core.records import ApprovalRecords
from start_approval.errors import (
    ApprovalAlreadyDecided,
    ApprovalConcurrencyLimitExceeded,
    ApprovalStartConflict,
    ApprovalStartThrottled,
    InvalidApprovalRequest,
)
from start_approval.logic.start_approval import StartApproval
from start_approval.settings import Settings
from start_approval.validation import parse_invocation
from tests.support.aws_env import DOCUMENT_NAME, TABLE_NAME
from tests.support.stubbed_ssm import (
    AUTOMATION_ID,
    described,
    listed,
    refuse_the_token,
    stubbed_ssm,
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
    """With how to decide it at the end; cut (saying so) where both pass SSM's 4,096
    characters, and whole in the record."""
    assert 512 * 7 < len(LONG_MESSAGE) <= 4096
    reply = start_handler(gate.start_workflow(request(gate, message=LONG_MESSAGE)).payload, context)
    step = gate.ssm.describe_automation_step_executions(
        AutomationExecutionId=reply["automation_execution_id"]
    )["StepExecutions"][0]
    # Step inputs are JSON-encoded, as SSM returns them.
    sent = json.loads(step["Inputs"]["Message"])
    assert sent == approvers_message(reply["approval_id"], LONG_MESSAGE)
    assert len(sent) <= 4096 and sent[:3000] == LONG_MESSAGE[:3000]
    assert f"approvals approve {reply['approval_id']} -m" in sent
    assert gate.record(reply["approval_id"])["message"]["S"] == LONG_MESSAGE


def test_a_short_message_reaches_the_approvers_with_how_to_decide(gate, start_handler, context):
    reply = start_handler(gate.start_workflow(request(gate, message="Ship it?")).payload, context)
    step = gate.ssm.describe_automation_step_executions(
        AutomationExecutionId=reply["automation_execution_id"]
    )["StepExecutions"][0]
    approval_id = reply["approval_id"]
    assert json.loads(step["Inputs"]["Message"]) == (
        "Ship it?\n\n"
        f"Approval {approval_id}. Decide from a terminal with the approvals command line:\n"
        f'  approvals approve {approval_id} -m "your comment"\n'
        f'  approvals reject {approval_id} -m "your comment"'
    )


def test_the_same_invocation_twice_starts_one_automation_and_keeps_one_record(
    gate, start_handler, context
):
    """No idempotency layer of its own: the record and SSM's ClientToken make a repeat
    harmless, and the repeat makes no SSM call."""
    workflow = gate.start_workflow(request(gate))
    first = start_handler(workflow.payload, context)
    starts = gate.ssm_calls("StartAutomationExecution")
    second = start_handler(workflow.payload, context)
    assert second == first | {"created": False}
    assert gate.ssm_calls("StartAutomationExecution") == starts
    assert len(gate.automations()) == 1
    assert [item["pk"]["S"] for item in gate.table_items()] == [f"approval#{first['approval_id']}"]


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
    """Past the running quota AND its queue
    (docs/aws-behaviour.md#ssm-automation-concurrency-queue)."""
    sandbox.settings.max_concurrent_executions = 1
    if hasattr(sandbox.settings, "automation_queue_size"):
        sandbox.settings.automation_queue_size = 0
    start_handler(gate.start_workflow(request(gate)).payload, context)
    with pytest.raises(ApprovalConcurrencyLimitExceeded, match="retry with backoff"):
        start_handler(gate.start_workflow(request(gate)).payload, context)
    assert len(gate.automations()) == 1


def test_a_start_queued_by_ssm_is_accepted_and_recorded(gate, start_handler, context):
    """Past the running quota SSM queues the automation (Pending) instead of refusing it:
    the approval is recorded; the sweep watches the queue."""
    if not hasattr(sandbox.settings, "automation_queue_size"):
        pytest.skip("the local AWS does not queue automations yet (sandbox/ssm/settings.py)")
    sandbox.settings.max_concurrent_executions = 1
    start_handler(gate.start_workflow(request(gate)).payload, context)

    queued = start_handler(gate.start_workflow(request(gate)).payload, context)

    automation = gate.ssm.get_automation_execution(
        AutomationExecutionId=queued["automation_execution_id"]
    )["AutomationExecution"]
    assert automation["AutomationExecutionStatus"] == "Pending"
    record = gate.record(queued["approval_id"])
    assert record["automation_execution_id"]["S"] == queued["automation_execution_id"]


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


# --- Retries and SSM's idempotency (docs/aws-behaviour.md#ssm-client-token,
# docs/aws-behaviour.md#undocumented-client-token-reuse) -----------------------------------


def forget_the_automation(gate, approval_id: str) -> None:
    """The record as a crash between StartAutomationExecution and the record update
    leaves it: PENDING, without the automation's id."""
    gate.dynamodb.update_item(
        TableName=TABLE_NAME,
        Key={"pk": {"S": f"approval#{approval_id}"}},
        UpdateExpression="REMOVE automation_execution_id",
    )


def sandbox_finds_automations_by_tag(gate) -> bool:
    try:
        gate.ssm.describe_automation_executions(Filters=[{"Key": "TagKey", "Values": ["probe"]}])
    except ClientError:
        return False
    return True


def test_a_retry_whose_record_holds_the_automation_does_not_start_it_again(
    gate, start_handler, context
):
    workflow = gate.start_workflow(request(gate))
    first = start_handler(workflow.payload, context)
    # Any further StartAutomationExecution would fail: the retry must not make one.
    start_fault = sandbox.faults.inject(
        "ssm", "StartAutomationExecution", "IdempotentParameterMismatch"
    )
    try:
        retry = start_handler(workflow.payload | {"task_token": "token-of-the-retry"}, context)
    finally:
        sandbox.faults.remove(start_fault)

    assert start_fault.injected == 0
    assert retry["automation_execution_id"] == first["automation_execution_id"]
    assert retry["created"] is False
    assert gate.record(first["approval_id"])["task_token"]["S"] == "token-of-the-retry"


def set_client_token_reuse(variant: str) -> None:
    if not hasattr(sandbox.settings, "client_token_reuse"):
        pytest.skip("the local AWS has no client_token_reuse setting yet (sandbox/ssm/settings.py)")
    sandbox.settings.client_token_reuse = variant


def test_a_retry_after_a_crash_before_the_record_update_stores_the_same_automation(
    gate, start_handler, context
):
    """client_token_reuse=same_execution: SSM answers the reused token with the first id."""
    set_client_token_reuse("same_execution")
    workflow = gate.start_workflow(request(gate))
    first = start_handler(workflow.payload, context)
    forget_the_automation(gate, first["approval_id"])

    retry = start_handler(workflow.payload | {"task_token": "token-of-the-retry"}, context)

    assert retry["automation_execution_id"] == first["automation_execution_id"]
    assert len(gate.automations()) == 1
    record = gate.record(first["approval_id"])
    assert record["automation_execution_id"]["S"] == first["automation_execution_id"]


def test_a_refused_token_whose_automation_is_tagged_is_recovered(gate, start_handler, context):
    """client_token_reuse=idempotent_parameter_mismatch: the automation is found by its tag."""
    set_client_token_reuse("idempotent_parameter_mismatch")
    if not sandbox_finds_automations_by_tag(gate):
        pytest.skip(
            "the local AWS does not keep automation tags or filter by TagKey yet "
            "(sandbox/ssm/responses.py, sandbox/ssm/automation.py)"
        )
    workflow = gate.start_workflow(request(gate))
    first = start_handler(workflow.payload, context)
    forget_the_automation(gate, first["approval_id"])

    retry = start_handler(workflow.payload | {"task_token": "token-of-the-retry"}, context)

    assert retry["automation_execution_id"] == first["automation_execution_id"]
    assert len(gate.automations()) == 1
    record = gate.record(first["approval_id"])
    assert record["automation_execution_id"]["S"] == first["automation_execution_id"]


def test_under_the_mismatch_variant_a_start_without_tag_lookup_is_a_named_conflict(
    gate, start_handler, context
):
    """client_token_reuse=idempotent_parameter_mismatch where the automation cannot be
    found again (a local AWS without tag filtering, or an automation started untagged):
    the workflow gets ApprovalStartConflict, not a bare ClientError."""
    set_client_token_reuse("idempotent_parameter_mismatch")
    if sandbox_finds_automations_by_tag(gate):
        pytest.skip("the local AWS finds automations by tag: covered by the recovery test")
    workflow = gate.start_workflow(request(gate))
    first = start_handler(workflow.payload, context)
    forget_the_automation(gate, first["approval_id"])

    with pytest.raises(ApprovalStartConflict, match=first["approval_id"]):
        start_handler(workflow.payload | {"task_token": "token-of-the-retry"}, context)
    assert len(gate.automations()) == 1


def test_a_refused_token_without_a_findable_automation_is_a_named_conflict(
    gate, start_handler, context
):
    workflow = gate.start_workflow(request(gate))
    sandbox.faults.inject("ssm", "StartAutomationExecution", "IdempotentParameterMismatch", times=1)

    with pytest.raises(ApprovalStartConflict) as raised:
        start_handler(workflow.payload, context)

    cause = str(raised.value)
    assert "IdempotentParameterMismatch" in cause
    assert DOCUMENT_NAME in cause  # where to look
    (item,) = gate.table_items()
    approval_id = item["approval_id"]["S"]
    assert approval_id in cause
    record = gate.record(approval_id)
    assert record["status"]["S"] == "PENDING" and "automation_execution_id" not in record


def test_the_starter_stores_the_recovered_automation(gate):
    """The service on moto's table with SSM refusing the reused token (a stubbed client;
    the adapter alone: tests/unit/services/test_automation_launcher.py): the record gets the
    automation found by its tag, and the reply names it."""
    settings = Settings.from_environment()
    records = ApprovalRecords(gate.dynamodb, TABLE_NAME)
    workflow = gate.start_workflow(request(gate))
    invocation = parse_invocation(workflow.payload, settings)
    with stubbed_ssm() as (client, stubber):
        starter = StartApproval(records, AutomationLauncher(client, settings), settings)
        refuse_the_token(stubber, invocation.approval_id)
        listed(stubber, (AUTOMATION_ID, DOCUMENT_NAME), approval_id=invocation.approval_id)
        described(stubber, AUTOMATION_ID, invocation.approval_id)

        started = starter.start(invocation)

    assert started.automation_execution_id == AUTOMATION_ID
    stored = records.get(invocation.approval_id)
    assert stored is not None and stored.automation_execution_id == AUTOMATION_ID
