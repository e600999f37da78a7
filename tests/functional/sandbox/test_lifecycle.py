"""Stopping, timing out, listing and describing automations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

import sandbox
from sandbox import faults
from tests.support.approval_document import TIMEOUT_SECONDS, render_document
from tests.support.sandbox_account import DOCUMENT_NAME
from tests.support.ssm_rates import lift_ssm_rates


def error_code(raised: pytest.ExceptionInfo[ClientError]) -> str:
    return raised.value.response["Error"]["Code"]


# --- stop ---------------------------------------------------------------------------------


def test_stop_cancels_step_and_automation(aws, alice, emitted):
    execution_id = aws.start([alice.arn])
    aws.ssm.stop_automation_execution(AutomationExecutionId=execution_id)

    execution = aws.execution(execution_id)
    assert execution["AutomationExecutionStatus"] == "Cancelled"
    step = execution["StepExecutions"][0]
    assert step["StepStatus"] == "Cancelled"
    assert step["Outputs"]["ApprovalStatus"] == ["Waiting"]
    execution_statuses = [e["detail"]["Status"] for e in emitted if "ExecutedBy" in e["detail"]]
    assert execution_statuses[-2:] == ["Cancelling", "Cancelled"]

    with pytest.raises(ClientError) as raised:
        aws.ssm.stop_automation_execution(AutomationExecutionId=execution_id)
    assert error_code(raised) == "InvalidAutomationStatusUpdateException"
    with pytest.raises(ClientError) as raised:
        alice.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")
    assert error_code(raised) == "InvalidAutomationSignalException"


def test_stop_complete_ends_the_automation(aws, alice):
    execution_id = aws.start([alice.arn])
    aws.ssm.stop_automation_execution(AutomationExecutionId=execution_id, Type="Complete")
    execution = aws.execution(execution_id)
    assert execution["AutomationExecutionStatus"] == "Success"
    assert execution["StepExecutions"][0]["StepStatus"] == "Cancelled"


def test_stop_an_unknown_automation(aws):
    with pytest.raises(ClientError) as raised:
        aws.ssm.stop_automation_execution(
            AutomationExecutionId="00000000-0000-0000-0000-000000000000"
        )
    assert error_code(raised) == "AutomationExecutionNotFoundException"


# --- timeouts -----------------------------------------------------------------------------


def test_a_step_times_out_when_the_clock_passes_its_timeout(aws, alice):
    sandbox.clock.freeze()
    execution_id = aws.start([alice.arn])
    sandbox.clock.advance(TIMEOUT_SECONDS - 1)
    assert sandbox.expire_due() == []
    assert aws.execution(execution_id)["AutomationExecutionStatus"] == "Waiting"

    sandbox.clock.advance(1)
    assert sandbox.expire_due() == [execution_id]
    execution = aws.execution(execution_id)
    assert execution["AutomationExecutionStatus"] == "TimedOut"
    step = execution["StepExecutions"][0]
    assert step["StepStatus"] == "TimedOut"
    assert "timed out" in step["FailureMessage"]
    assert step["ExecutionEndTime"] - step["ExecutionStartTime"] == timedelta(
        seconds=TIMEOUT_SECONDS
    )
    with pytest.raises(ClientError) as raised:
        alice.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")
    assert error_code(raised) == "InvalidAutomationSignalException"


def test_any_automation_call_applies_due_timeouts(aws, alice):
    execution_id = aws.start([alice.arn])
    sandbox.clock.advance(TIMEOUT_SECONDS + 5)
    listed = aws.ssm.describe_automation_executions()["AutomationExecutionMetadataList"]
    assert listed[0]["AutomationExecutionStatus"] == "TimedOut"
    assert aws.execution(execution_id)["AutomationExecutionStatus"] == "TimedOut"


def test_without_an_assume_role_an_automation_stops_after_12_hours(aws, alice):
    aws.ssm.create_document(
        Name="Week",
        DocumentType="Automation",
        DocumentFormat="YAML",
        Content=render_document(timeout_seconds=604800),
    )
    role_arn = aws.role("automation")
    without_role = _start_week(aws, alice.arn, role="")
    with_role = _start_week(aws, alice.arn, role=role_arn)

    sandbox.clock.advance(12 * 3600)
    sandbox.expire_due()
    assert aws.execution(without_role)["AutomationExecutionStatus"] == "TimedOut"
    assert "without an assume role" in aws.execution(without_role)["FailureMessage"]
    assert aws.execution(with_role)["AutomationExecutionStatus"] == "Waiting"

    sandbox.clock.advance(6.5 * 24 * 3600)
    sandbox.expire_due()
    assert aws.execution(with_role)["AutomationExecutionStatus"] == "TimedOut"


def test_the_12_hour_limit_can_be_switched_off(aws, alice):
    sandbox.settings.no_role_max_seconds = None
    aws.ssm.create_document(
        Name="Week",
        DocumentType="Automation",
        DocumentFormat="YAML",
        Content=render_document(timeout_seconds=604800),
    )
    execution_id = _start_week(aws, alice.arn, role="")
    sandbox.clock.advance(24 * 3600)
    assert aws.execution(execution_id)["AutomationExecutionStatus"] == "Waiting"


def _start_week(aws, approver: str, role: str) -> str:
    parameters = {
        "ApprovalId": [str(uuid.uuid4())],
        "Message": ["m"],
        "Approvers": [approver],
        "NotificationArn": [aws.topic_arn],
    }
    if role:
        parameters["AutomationAssumeRole"] = [role]
    return aws.ssm.start_automation_execution(DocumentName="Week", Parameters=parameters)[
        "AutomationExecutionId"
    ]


# --- describe -----------------------------------------------------------------------------


def test_describe_automation_executions_filters(aws, alice):
    waiting = aws.start([alice.arn])
    cancelled = aws.start([alice.arn])
    aws.ssm.stop_automation_execution(AutomationExecutionId=cancelled)

    def ids(*filters: dict) -> list[str]:
        kwargs = {"Filters": list(filters)} if filters else {}
        listed = aws.ssm.describe_automation_executions(**kwargs)
        return [item["AutomationExecutionId"] for item in listed["AutomationExecutionMetadataList"]]

    assert set(ids()) == {waiting, cancelled}
    assert ids({"Key": "ExecutionId", "Values": [waiting]}) == [waiting]
    assert ids({"Key": "ExecutionStatus", "Values": ["Cancelled"]}) == [cancelled]
    assert set(ids({"Key": "DocumentNamePrefix", "Values": [DOCUMENT_NAME[:4]]})) == {
        waiting,
        cancelled,
    }
    assert ids({"Key": "DocumentNamePrefix", "Values": ["Other"]}) == []
    assert ids({"Key": "CurrentAction", "Values": ["aws:approve"]}) == [waiting]

    (metadata,) = aws.ssm.describe_automation_executions(
        Filters=[{"Key": "ExecutionId", "Values": [waiting]}]
    )["AutomationExecutionMetadataList"]
    assert metadata["DocumentName"] == DOCUMENT_NAME
    assert metadata["AutomationExecutionStatus"] == "Waiting"
    assert metadata["ExecutedBy"] == "arn:aws:sts::123456789012:user/moto"
    assert metadata["CurrentStepName"] == "Approve"

    with pytest.raises(ClientError) as raised:
        ids({"Key": "ExecutionStatus", "Values": ["Sleeping"]})
    assert error_code(raised) == "InvalidFilterValue"
    with pytest.raises(ClientError) as raised:
        ids({"Key": "TargetResourceGroup", "Values": ["x"]})
    assert error_code(raised) == "InvalidFilterKey"


def test_describe_automation_executions_pages(aws, alice):
    started = {aws.start([alice.arn]) for _ in range(3)}
    first = aws.ssm.describe_automation_executions(MaxResults=2)
    assert len(first["AutomationExecutionMetadataList"]) == 2
    second = aws.ssm.describe_automation_executions(MaxResults=2, NextToken=first["NextToken"])
    assert "NextToken" not in second
    listed = first["AutomationExecutionMetadataList"] + second["AutomationExecutionMetadataList"]
    assert {item["AutomationExecutionId"] for item in listed} == started


def test_describe_automation_step_executions(aws, alice):
    aws.ssm.create_document(
        Name="TwoSteps",
        DocumentType="Automation",
        DocumentFormat="YAML",
        Content="""
schemaVersion: '0.3'
parameters:
  Who: {type: StringList}
mainSteps:
  - name: First
    action: aws:approve
    inputs: {Approvers: '{{ Who }}'}
  - name: Second
    action: aws:approve
    timeoutSeconds: 60
    inputs: {Approvers: '{{Who}}', Message: second}
""",
    )
    execution_id = aws.ssm.start_automation_execution(
        DocumentName="TwoSteps", Parameters={"Who": [alice.arn]}
    )["AutomationExecutionId"]
    alice.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")

    def steps(**kwargs) -> list[tuple[str, str]]:
        described = aws.ssm.describe_automation_step_executions(
            AutomationExecutionId=execution_id, **kwargs
        )
        return [(s["StepName"], s["StepStatus"]) for s in described["StepExecutions"]]

    assert steps() == [("First", "Success"), ("Second", "Waiting")]
    assert steps(ReverseOrder=True) == [("Second", "Waiting"), ("First", "Success")]
    assert steps(Filters=[{"Key": "StepName", "Values": ["Second"]}]) == [("Second", "Waiting")]
    assert steps(Filters=[{"Key": "Action", "Values": ["aws:approve"]}]) == [
        ("First", "Success"),
        ("Second", "Waiting"),
    ]
    assert steps(Filters=[{"Key": "StepExecutionStatus", "Values": ["Success"]}]) == [
        ("First", "Success")
    ]
    described = aws.ssm.describe_automation_step_executions(AutomationExecutionId=execution_id)
    assert described["StepExecutions"][1]["TimeoutSeconds"] == 60
    assert described["StepExecutions"][0]["TimeoutSeconds"] == 604800  # the default

    with pytest.raises(ClientError) as raised:
        aws.ssm.describe_automation_step_executions(
            AutomationExecutionId="00000000-0000-0000-0000-000000000000"
        )
    assert error_code(raised) == "AutomationExecutionNotFoundException"


# --- install and reset --------------------------------------------------------------------


def test_install_twice_hooks_once(aws, alice):
    sandbox.install()
    sandbox.install()
    fault = faults.inject("ssm", "GetAutomationExecution", "ThrottlingException", times=1)
    execution_id = aws.start([alice.arn])
    with pytest.raises(ClientError) as raised:
        aws.execution(execution_id)
    assert error_code(raised) == "ThrottlingException"
    assert aws.execution(execution_id)["AutomationExecutionStatus"] == "Waiting"
    assert fault.injected == 1


def test_reset_forgets_executions_faults_listeners_time_and_settings(aws, alice):
    execution_id = aws.start([alice.arn])
    sandbox.settings.rejection_status = "Success"
    sandbox.settings.max_concurrent_executions = 1
    sandbox.clock.advance(10 * 24 * 3600)
    faults.inject("sns", "ListTopics", "ThrottlingException")
    seen: list[dict] = []
    sandbox.add_event_listener(seen.append)

    sandbox.reset()

    with pytest.raises(ClientError) as raised:
        aws.execution(execution_id)
    assert error_code(raised) == "AutomationExecutionNotFoundException"
    assert sandbox.settings.rejection_status == "Failed"
    assert abs(sandbox.clock.now() - datetime.now(UTC)) < timedelta(minutes=1)
    assert faults.active() == []
    aws.sns.list_topics()
    assert sandbox.settings.start_automation_execution_tps == 1  # AWS's rate is back too
    lift_ssm_rates()  # two starts in a row, faster than SSM's rate allows
    aws.start([alice.arn])
    aws.start([alice.arn])  # the limit is back to its default
    assert seen == []
