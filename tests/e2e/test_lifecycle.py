"""The lifecycle through the deployed gate: a decision whose SSM event is lost still reaches
its workflow (the scheduled sweep), and a workflow that ends while its approval waits
leaves no approval in anyone's inbox (the rule on Step Functions Execution Status Change).
Everything runs as deployed: Terraform's rules, schedules and functions in the local AWS."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from scripts.local_gate import wait_for
from tests.support.client_workflow import CLIENT_STATE_MACHINE_ARN, CLIENT_STATE_MACHINE_NAME
from tests.support.sandbox_account import STEP_EVENT

pytestmark = pytest.mark.terraform


def request(gate, approver: str = "alice", message: str = "Ship it?") -> dict:
    return {"message": message, "approvers": [gate.principal_arn(approver)]}


def automation_status(gate, automation_id: str) -> str:
    return gate.client("ssm").get_automation_execution(AutomationExecutionId=automation_id)[
        "AutomationExecution"
    ]["AutomationExecutionStatus"]


def record_of(gate, execution_arn: str) -> dict:
    (record,) = gate.records_of(execution_arn)
    return record


def log_messages(gate, function_name: str) -> list[dict]:
    messages = []
    for line in gate.log_lines(function_name):
        try:
            messages.append(json.loads(line))
        except ValueError:
            continue
    return messages


# --- a lost event ------------------------------------------------------------------------------


def test_a_decision_whose_event_is_lost_reaches_the_workflow_with_the_next_sweep(gate):
    execution_arn = gate.start(request(gate, message="the event of this one is lost"))
    automation = gate.automation_of(execution_arn)
    drop = gate.aws.api(
        "/moto-api/sandbox/events/drop",
        {"source": "aws.ssm", "detail_type": STEP_EVENT, "detail": {"ExecutionId": automation}},
    )["drop"]

    gate.decide("alice", automation, "Approve", "approved; SSM's event is lost")
    drops = {
        d["id"]: d for d in gate.aws.api("/moto-api/sandbox/events/drop", method="GET")["drops"]
    }
    assert drops[drop["id"]]["dropped"] == 1
    assert record_of(gate, execution_arn)["status"] in ("PENDING", "DECIDED")  # sweep may race

    gate.sweep(later_by=gate.sweep_grace_seconds)  # past the grace left to the event

    execution = gate.finished(execution_arn)
    assert execution["status"] == "SUCCEEDED"
    approval = json.loads(execution["output"])["approval"]
    assert (approval["decision"], approval["decided_by"][0]["comment"]) == (
        "Approved",
        "approved; SSM's event is lost",
    )
    approval_id = record_of(gate, execution_arn)["approval_id"]
    # The schedule also fires on real time: a sweep that runs while this delivery is under
    # way, or lists it just before it ends, skips it (and says so); what matters is that one
    # sweep delivered it, once.
    stepped_aside = {
        "Skipped: the decision's event is being delivered right now",
        "Skipped: the pending index listed an approval that no longer waits",
    }
    swept = [
        m
        for m in log_messages(gate, gate.outputs["sweep_function_name"])
        if m.get("approval_id") == approval_id and m["message"] not in stepped_aside
    ]
    assert [m["message"] for m in swept] == [
        "Decision delivered",
        "Sweep delivered a decision its event had not delivered",
    ]
    received = [
        m
        for m in log_messages(gate, gate.outputs["receive_result_function_name"])
        if m.get("correlation_id") == approval_id
    ]
    assert received == []  # receive_result never heard of it


def test_an_expiry_whose_event_is_lost_fails_the_workflow_as_expired_not_timed_out(gate):
    execution_arn = gate.start(request(gate, message="nobody decides, and the event is lost"))
    automation = gate.automation_of(execution_arn)
    gate.aws.api(
        "/moto-api/sandbox/events/drop",
        {"source": "aws.ssm", "detail_type": STEP_EVENT, "detail": {"ExecutionId": automation}},
    )
    gate.aws.api("/moto-api/sandbox/clock/advance", {"seconds": 3601})
    assert automation_status(gate, automation) == "TimedOut"

    gate.sweep(later_by=gate.sweep_grace_seconds)

    execution = gate.finished(execution_arn)
    assert (execution["status"], execution["error"]) == ("FAILED", "Approval.Expired")


def test_the_workflow_waits_longer_than_the_approval_and_a_sweep(gate):
    """The deployed values agree: the Task's own timeout comes after the approval's expiry,
    one sweep interval and one delivery."""
    sfn, ssm, events, lam = (gate.client(s) for s in ("stepfunctions", "ssm", "events", "lambda"))
    definition = json.loads(
        sfn.describe_state_machine(stateMachineArn=gate.outputs["state_machine_arn"])["definition"]
    )
    task_timeout = definition["States"]["RequestApproval"]["TimeoutSeconds"]
    document = ssm.get_document(Name=gate.outputs["document_name"], DocumentFormat="JSON")
    (step,) = json.loads(document["Content"])["mainSteps"]
    rule = events.describe_rule(Name=gate.outputs["sweep_rule_name"])
    assert rule["ScheduleExpression"] == "rate(1 minute)"
    sweep_timeout = lam.get_function_configuration(
        FunctionName=gate.outputs["sweep_function_name"]
    )["Timeout"]

    assert task_timeout >= step["timeoutSeconds"] + 60 + sweep_timeout


# --- a workflow that ends while its approval waits ------------------------------------------------


def test_a_stopped_workflow_cancels_its_approval(gate):
    execution_arn = gate.start(request(gate, "bob", message="stopped before anyone decides"))
    automation = gate.automation_of(execution_arn)

    gate.client("stepfunctions").stop_execution(
        executionArn=execution_arn, error="Operator.Stopped", cause="release abandoned"
    )

    wait_for(
        lambda: automation_status(gate, automation) == "Cancelled",
        30,
        "the automation of a stopped workflow was not cancelled",
    )
    record = wait_for(
        lambda: (r := record_of(gate, execution_arn))["status"] == "CLOSED" and r,
        30,
        "the record of a stopped workflow was not closed",
    )
    assert record["closed_reason"] == "ABORTED"
    assert "callback" not in record
    with pytest.raises(ClientError):
        gate.decide("bob", automation, "Approve", "too late")
    assert (
        gate.client("stepfunctions").describe_execution(executionArn=execution_arn)["status"]
        == "ABORTED"
    )


@pytest.fixture(scope="module")
def client_workflow(gate):
    """Your own state machine with the gate's Task (output `approval_task_state`), here
    with a short TimeoutSeconds so that the workflow times out while its approval waits."""
    task = json.loads(gate.outputs["approval_task_state"])
    task.update({"TimeoutSeconds": 3, "End": True})
    sfn = gate.client("stepfunctions")
    # Its role, as the README says: Step Functions may assume it, and it may invoke the
    # start_approval alias (the local AWS evaluates both).
    iam = gate.client("iam")
    role = iam.create_role(
        RoleName="release-pipeline",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "states.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    iam.put_role_policy(
        RoleName="release-pipeline",
        PolicyName="invoke-approval-gate",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "lambda:InvokeFunction",
                        "Resource": gate.outputs["start_approval_alias_arn"],
                    }
                ],
            }
        ),
    )
    arn = sfn.create_state_machine(
        name=CLIENT_STATE_MACHINE_NAME,
        definition=json.dumps({"StartAt": "RequestApproval", "States": {"RequestApproval": task}}),
        roleArn=role,
    )["stateMachineArn"]
    assert arn == CLIENT_STATE_MACHINE_ARN
    yield arn
    sfn.delete_state_machine(stateMachineArn=arn)


def test_a_workflow_of_your_own_that_times_out_closes_its_approval(gate, client_workflow):
    execution_arn = gate.client("stepfunctions").start_execution(
        stateMachineArn=client_workflow,
        name="release-42",
        input=json.dumps(request(gate, "alice", message="release 42")),
    )["executionArn"]
    automation = gate.automation_of(execution_arn)

    execution = gate.finished(execution_arn, timeout=30)
    assert (execution["status"], execution.get("error")) == ("FAILED", "States.Timeout")

    wait_for(
        lambda: automation_status(gate, automation) == "Cancelled",
        30,
        "the automation of a timed-out workflow was not cancelled",
    )
    record = record_of(gate, execution_arn)
    assert (record["status"], record["closed_reason"]) == ("CLOSED", "FAILED")


def test_a_workflow_end_that_cannot_be_handled_is_kept_and_replayed_to_close_approvals(gate):
    """SSM refuses the cancel (a broken role, say): close_approvals fails, Lambda retries,
    the event lands in the dead-letter queue; after the fix, redrive sends it back to
    close_approvals (not to receive_result: the queue is shared, the source decides)."""
    from approvals_cli.redrive import gate_functions, redrive

    execution_arn = gate.start(request(gate, "alice", message="stopped while SSM is broken"))
    automation = gate.automation_of(execution_arn)
    sqs, queue = gate.client("sqs"), gate.outputs["dead_letter_queue_url"]
    gate.aws.api(
        "/moto-api/sandbox/faults",
        {
            "service": "ssm",
            "operation": "StopAutomationExecution",
            "error_code": "AccessDeniedException",
        },
    )
    try:
        gate.client("stepfunctions").stop_execution(executionArn=execution_arn)

        def dead_lettered() -> bool:
            messages = sqs.receive_message(
                QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=0
            ).get("Messages", [])
            return any(execution_arn in m["Body"] for m in messages)

        wait_for(dead_lettered, 60, "the workflow-ended event did not reach the queue")
        assert automation_status(gate, automation) == "Waiting"
    finally:
        gate.aws.api("/moto-api/sandbox/faults", method="DELETE")  # the fix

    functions = gate_functions(
        gate.outputs["receive_result_alias_arn"], gate.outputs["close_approvals_alias_arn"]
    )
    result = redrive(sqs, gate.client("lambda"), queue, functions)
    assert result.failed == [] and result.replayed >= 1
    assert automation_status(gate, automation) == "Cancelled"
    record = record_of(gate, execution_arn)
    assert (record["status"], record["closed_reason"]) == ("CLOSED", "ABORTED")
