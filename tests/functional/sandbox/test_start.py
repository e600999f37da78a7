"""StartAutomationExecution: documents, parameters, ClientToken, the concurrency limit."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

import sandbox
from tests.support.approval_document import TIMEOUT_SECONDS
from tests.support.sandbox_account import DOCUMENT_NAME


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


def test_a_started_approval_waits_with_its_parameters_and_defaults(aws, alice):
    execution_id = aws.start([alice.arn], message="Ship it?")

    execution = aws.execution(execution_id)
    assert execution["AutomationExecutionStatus"] == "Waiting"
    assert execution["DocumentName"] == DOCUMENT_NAME
    assert execution["DocumentVersion"] == "1"
    assert execution["Mode"] == "Auto"
    assert execution["ExecutedBy"] == "arn:aws:sts::123456789012:user/moto"
    assert execution["CurrentStepName"] == "Approve"
    assert execution["CurrentAction"] == "aws:approve"
    assert "ExecutionEndTime" not in execution
    assert execution["Parameters"]["Message"] == ["Ship it?"]
    assert execution["Parameters"]["Approvers"] == [alice.arn]
    assert execution["Parameters"]["MinRequiredApprovals"] == ["1"]
    assert execution["Parameters"]["Description"] == ["Approval requested by AWS Step Functions"]
    (step,) = execution["StepExecutions"]
    assert (step["StepName"], step["Action"], step["StepStatus"]) == (
        "Approve",
        "aws:approve",
        "Waiting",
    )
    assert step["TimeoutSeconds"] == TIMEOUT_SECONDS
    assert step["Outputs"] == {"ApprovalStatus": ["Waiting"], "ApproverDecisions": []}
    # Inputs after {{ }} interpolation, JSON-encoded as the API returns them.
    assert json.loads(step["Inputs"]["Approvers"]) == [alice.arn]
    assert json.loads(step["Inputs"]["MinRequiredApprovals"]) == 1
    assert json.loads(step["Inputs"]["Message"]) == "Ship it?"
    assert json.loads(step["Inputs"]["NotificationArn"]) == aws.topic_arn
    assert step["ExecutionStartTime"] >= execution["ExecutionStartTime"]


def test_the_caller_is_recorded_as_executed_by(aws, alice):
    starter = aws.user("starter")
    execution_id = starter.ssm.start_automation_execution(
        DocumentName=DOCUMENT_NAME,
        Parameters={
            "ApprovalId": [str(uuid.uuid4())],
            "Message": ["m"],
            "Approvers": [alice.arn],
            "NotificationArn": [aws.topic_arn],
        },
    )["AutomationExecutionId"]
    assert aws.execution(execution_id)["ExecutedBy"] == starter.arn


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({"Unknown": ["x"]}, "Unknown"),
        ({"Approvers": None}, "Approvers is required"),
        ({"MinRequiredApprovals": ["two"]}, "'two' is not an integer"),
        ({"MinRequiredApprovals": ["1", "2"]}, "takes exactly one value"),
        ({"Approvers": []}, "needs at least one value"),
        ({"Message": ["x" * 513]}, "513 characters"),
        ({"ApprovalId": ["not-a-uuid"]}, "allowedPattern"),
    ],
)
def test_bad_parameters_are_refused(aws, alice, parameters, expected):
    given = {
        "ApprovalId": [str(uuid.uuid4())],
        "Message": ["m"],
        "Approvers": [alice.arn],
        "NotificationArn": [aws.topic_arn],
    }
    for name, value in parameters.items():
        if value is None:
            given.pop(name)
        else:
            given[name] = value
    with pytest.raises(ClientError) as raised:
        aws.ssm.start_automation_execution(DocumentName=DOCUMENT_NAME, Parameters=given)
    code, message = error_of(raised)
    assert code == "InvalidAutomationExecutionParametersException"
    assert expected in message
    assert aws.ssm.describe_automation_executions()["AutomationExecutionMetadataList"] == []


def test_a_512_character_value_is_accepted(aws, alice):
    execution_id = aws.start([alice.arn], message="x" * 512)
    assert aws.execution(execution_id)["AutomationExecutionStatus"] == "Waiting"


def test_missing_document_and_version(aws):
    with pytest.raises(ClientError) as raised:
        aws.ssm.start_automation_execution(DocumentName="Nope")
    assert error_of(raised)[0] == "AutomationDefinitionNotFoundException"
    with pytest.raises(ClientError) as raised:
        aws.ssm.start_automation_execution(DocumentName=DOCUMENT_NAME, DocumentVersion="7")
    assert error_of(raised)[0] == "AutomationDefinitionVersionNotFoundException"


def test_a_command_document_is_not_an_automation(aws):
    aws.ssm.create_document(
        Name="Cmd",
        DocumentType="Command",
        Content=json.dumps(
            {
                "schemaVersion": "2.2",
                "mainSteps": [{"action": "aws:runShellScript", "name": "x", "inputs": {}}],
            }
        ),
    )
    with pytest.raises(ClientError) as raised:
        aws.ssm.start_automation_execution(DocumentName="Cmd")
    assert error_of(raised)[0] == "AutomationDefinitionNotFoundException"


def test_versions_default_latest_and_explicit(aws, alice):
    document = _json_document("{{Who}}")
    aws.ssm.create_document(
        Name="Versions", DocumentType="Automation", Content=json.dumps(document)
    )
    document["description"] = "second"
    aws.ssm.update_document(
        Name="Versions", Content=json.dumps(document), DocumentVersion="$LATEST"
    )
    for version, expected in ((None, "1"), ("$DEFAULT", "1"), ("$LATEST", "2"), ("2", "2")):
        kwargs = {"DocumentVersion": version} if version else {}
        execution_id = aws.ssm.start_automation_execution(
            DocumentName="Versions", Parameters={"Who": [alice.arn]}, **kwargs
        )["AutomationExecutionId"]
        assert aws.execution(execution_id)["DocumentVersion"] == expected


def _json_document(approvers_input: str, action: str = "aws:approve") -> dict:
    return {
        "schemaVersion": "0.3",
        "parameters": {"Who": {"type": "StringList"}, "Note": {"type": "String", "default": "n"}},
        "mainSteps": [
            {
                "name": "Gate",
                "action": action,
                "inputs": {"Approvers": approvers_input, "Message": "note: {{ Note }}!"},
            }
        ],
    }


@pytest.mark.parametrize("placeholder", ["{{Who}}", "{{ Who }}", "{{  Who}}"])
def test_placeholders_with_or_without_spaces_are_interpolated(aws, alice, placeholder):
    aws.ssm.create_document(
        Name="Json", DocumentType="Automation", Content=json.dumps(_json_document(placeholder))
    )
    execution_id = aws.ssm.start_automation_execution(
        DocumentName="Json", Parameters={"Who": [alice.arn]}
    )["AutomationExecutionId"]
    step = aws.approve_step(execution_id)
    assert step["StepStatus"] == "Waiting"
    assert json.loads(step["Inputs"]["Approvers"]) == [alice.arn]
    assert json.loads(step["Inputs"]["Message"]) == "note: n!"


def test_an_unsupported_action_fails_its_step_and_the_automation(aws, alice):
    aws.ssm.create_document(
        Name="Sleepy",
        DocumentType="Automation",
        Content=json.dumps(_json_document("{{Who}}", action="aws:sleep")),
    )
    execution_id = aws.ssm.start_automation_execution(
        DocumentName="Sleepy", Parameters={"Who": [alice.arn]}
    )["AutomationExecutionId"]
    execution = aws.execution(execution_id)
    assert execution["AutomationExecutionStatus"] == "Failed"
    step = execution["StepExecutions"][0]
    assert step["StepStatus"] == "Failed"
    assert "aws:sleep is not supported by the sandbox" in step["FailureMessage"]
    assert "not supported by the sandbox" in execution["FailureMessage"]


def test_the_same_client_token_and_request_gives_the_same_execution(aws, alice):
    token = str(uuid.uuid4())
    request = {
        "DocumentName": DOCUMENT_NAME,
        "ClientToken": token,
        "Parameters": {
            "ApprovalId": [str(uuid.uuid4())],
            "Message": ["m"],
            "Approvers": [alice.arn],
            "NotificationArn": [aws.topic_arn],
        },
    }
    first = aws.ssm.start_automation_execution(**request)["AutomationExecutionId"]
    second = aws.ssm.start_automation_execution(**request)["AutomationExecutionId"]
    assert first == second
    listed = aws.ssm.describe_automation_executions()["AutomationExecutionMetadataList"]
    assert [item["AutomationExecutionId"] for item in listed] == [first]

    request["Parameters"]["Message"] = ["something else"]
    with pytest.raises(ClientError) as raised:
        aws.ssm.start_automation_execution(**request)
    code, message = error_of(raised)
    assert code == "IdempotentParameterMismatch"
    assert token in message


def test_a_client_token_must_be_a_uuid(aws, alice):
    with pytest.raises(ClientError) as raised:
        aws.start([alice.arn], client_token="approval-000000000000000000000000001")
    assert error_of(raised)[0] == "ValidationException"


def test_the_concurrency_limit_with_no_queue(aws, alice):
    # Past the quota automations queue (tests/functional/sandbox/test_variants_starts.py); with no
    # room in the queue a start is refused.
    sandbox.settings.max_concurrent_executions = 2
    sandbox.settings.automation_queue_size = 0
    first = aws.start([alice.arn])
    aws.start([alice.arn])
    with pytest.raises(ClientError) as raised:
        aws.start([alice.arn])
    assert error_of(raised)[0] == "AutomationExecutionLimitExceededException"

    aws.ssm.stop_automation_execution(AutomationExecutionId=first)  # frees a slot
    aws.start([alice.arn])


def test_rate_control_is_not_supported(aws, alice):
    with pytest.raises(ClientError) as raised:
        aws.ssm.start_automation_execution(
            DocumentName=DOCUMENT_NAME,
            TargetParameterName="InstanceId",
            Targets=[{"Key": "tag:env", "Values": ["prod"]}],
        )
    code, message = error_of(raised)
    assert code == "ValidationException"
    assert "not supported by the sandbox" in message


def test_on_failure_and_next_step_route_between_steps(aws, alice):
    aws.ssm.create_document(
        Name="Routes",
        DocumentType="Automation",
        DocumentFormat="YAML",
        Content="""
schemaVersion: '0.3'
parameters:
  Who: {type: StringList}
mainSteps:
  - name: Unsupported
    action: aws:executeScript
    onFailure: step:Ask
  - name: Skipped
    action: aws:approve
    inputs: {Approvers: '{{ Who }}'}
  - name: Ask
    action: aws:approve
    inputs: {Approvers: '{{ Who }}'}
    nextStep: Loop
  - name: Loop
    action: aws:sleep
    onFailure: step:Loop
""",
    )
    execution_id = aws.ssm.start_automation_execution(
        DocumentName="Routes", Parameters={"Who": [alice.arn]}
    )["AutomationExecutionId"]
    steps = aws.execution(execution_id)["StepExecutions"]
    assert [(s["StepName"], s["StepStatus"]) for s in steps] == [
        ("Unsupported", "Failed"),
        ("Ask", "Waiting"),
    ]

    alice.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")
    execution = aws.execution(execution_id)
    assert execution["AutomationExecutionStatus"] == "Failed"
    assert "a loop?" in execution["FailureMessage"]


def test_tags_are_kept_and_found_by_the_tag_key_filter(aws, alice):
    tagged = aws.ssm.start_automation_execution(
        DocumentName=DOCUMENT_NAME,
        Parameters={
            "ApprovalId": [str(uuid.uuid4())],
            "Message": ["m"],
            "Approvers": [alice.arn],
            "NotificationArn": [aws.topic_arn],
        },
        Tags=[{"Key": "approval-gate:approval:1", "Value": "1"}],
    )["AutomationExecutionId"]
    aws.start([alice.arn])
    found = aws.ssm.describe_automation_executions(
        Filters=[{"Key": "TagKey", "Values": ["approval-gate:approval:1", "other"]}]
    )["AutomationExecutionMetadataList"]
    assert [item["AutomationExecutionId"] for item in found] == [tagged]
