"""An SSM client whose answers a test gives (botocore's Stubber): botocore still checks every
request against the SSM model (the TagKey filter, the tag's key and value, the ClientToken),
and nothing leaves the process. For start_approval's AutomationLauncher."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.stub import ANY, Stubber

from approval_core.launcher import approval_tag_key
from start_approval.models import ApprovalRequest
from tests.support.aws_env import DOCUMENT_NAME

APPROVAL_ID = "0b6c9a52-8a0e-5a3b-9a55-3d7f1c2e4b61"
REQUEST = ApprovalRequest(message="Ship it?", approvers=("alice",), min_required_approvals=1)

AUTOMATION_ID = "11111111-2222-3333-4444-555555555555"
OTHER_ID = "66666666-7777-8888-9999-000000000000"


@contextmanager
def stubbed_ssm() -> Iterator[tuple[Any, Stubber]]:
    """(client, stubber); every answer given must have been asked for."""
    client = boto3.client("ssm")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def refuse_the_token(stubber: Stubber, approval_id: str = APPROVAL_ID) -> None:
    stubber.add_client_error(
        "start_automation_execution",
        service_error_code="IdempotentParameterMismatch",
        service_message="Idempotent parameter mismatch.",
        http_status_code=400,
        expected_params={
            "DocumentName": DOCUMENT_NAME,
            "DocumentVersion": "$DEFAULT",
            "Parameters": ANY,
            "ClientToken": approval_id,
            "Mode": "Auto",
            "Tags": [{"Key": approval_tag_key(approval_id), "Value": approval_id}],
        },
    )


def listed(stubber: Stubber, *executions: tuple[str, str], approval_id: str = APPROVAL_ID) -> None:
    """DescribeAutomationExecutions with the approval's TagKey filter lists `executions`
    (id, document name)."""
    stubber.add_response(
        "describe_automation_executions",
        {
            "AutomationExecutionMetadataList": [
                {"AutomationExecutionId": execution_id, "DocumentName": document}
                for execution_id, document in executions
            ]
        },
        {"Filters": [{"Key": "TagKey", "Values": [approval_tag_key(approval_id)]}]},
    )


def described(stubber: Stubber, execution_id: str, approval_id: str) -> None:
    stubber.add_response(
        "get_automation_execution",
        {
            "AutomationExecution": {
                "AutomationExecutionId": execution_id,
                "DocumentName": DOCUMENT_NAME,
                "Parameters": {"ApprovalId": [approval_id]},
            }
        },
        {"AutomationExecutionId": execution_id},
    )
