"""start_approval's SSM adapter (AutomationLauncher) on a stubbed SSM client
(tests/support/stubbed_ssm.py): the start is tagged with its approval id, SSM's refusals are
mapped to the errors a workflow Retries or Catches, and a refused ClientToken is recovered by
the approval tag."""

import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY

from approval_core.launcher import (
    AutomationLauncher,
    approval_tag_key,
    approvers_message,
)
from start_approval.errors import (
    ApprovalConcurrencyLimitExceeded,
    ApprovalStartConflict,
    ApprovalStartThrottled,
)
from start_approval.models import ApprovalRequest
from start_approval.settings import Settings
from tests.support.aws_env import DOCUMENT_NAME
from tests.support.stubbed_ssm import (
    APPROVAL_ID,
    AUTOMATION_ID,
    OTHER_ID,
    REQUEST,
    described,
    listed,
    refuse_the_token,
    stubbed_ssm,
)


def launch(client, settings: Settings, request: ApprovalRequest) -> str:
    return AutomationLauncher(client, settings).start(APPROVAL_ID, request.first_stage())


@pytest.fixture
def settings() -> Settings:
    return Settings.from_environment()


@pytest.fixture
def ssm():
    with stubbed_ssm() as client_and_stubber:
        yield client_and_stubber


def test_the_automation_is_tagged_with_its_approval_id(ssm, settings):
    client, stubber = ssm
    stubber.add_response(
        "start_automation_execution",
        {"AutomationExecutionId": AUTOMATION_ID},
        {
            "DocumentName": DOCUMENT_NAME,
            "DocumentVersion": "$DEFAULT",
            "Parameters": ANY,
            "ClientToken": APPROVAL_ID,
            "Mode": "Auto",
            "Tags": [{"Key": f"approval-gate:approval:{APPROVAL_ID}", "Value": APPROVAL_ID}],
        },
    )
    assert launch(client, settings, REQUEST) == AUTOMATION_ID


def test_a_refused_token_is_recovered_by_the_tag_lookup(ssm, settings):
    client, stubber = ssm
    refuse_the_token(stubber)
    listed(stubber, (AUTOMATION_ID, DOCUMENT_NAME))
    described(stubber, AUTOMATION_ID, APPROVAL_ID)

    assert launch(client, settings, REQUEST) == AUTOMATION_ID


def test_the_lookup_skips_automations_of_other_documents_and_other_approvals(ssm, settings):
    client, stubber = ssm
    refuse_the_token(stubber)
    listed(
        stubber,
        ("aaaaaaaa-0000-0000-0000-000000000000", "SomeoneElsesDocument"),
        (OTHER_ID, DOCUMENT_NAME),
        (AUTOMATION_ID, DOCUMENT_NAME),
    )
    described(stubber, OTHER_ID, "another-approval")  # a tag copied by hand, say
    described(stubber, AUTOMATION_ID, APPROVAL_ID)

    assert launch(client, settings, REQUEST) == AUTOMATION_ID


def test_the_lookup_reads_the_next_page(ssm, settings):
    client, stubber = ssm
    refuse_the_token(stubber)
    stubber.add_response(
        "describe_automation_executions",
        {"AutomationExecutionMetadataList": [], "NextToken": "page-2"},
        {"Filters": [{"Key": "TagKey", "Values": [approval_tag_key(APPROVAL_ID)]}]},
    )
    stubber.add_response(
        "describe_automation_executions",
        {
            "AutomationExecutionMetadataList": [
                {"AutomationExecutionId": AUTOMATION_ID, "DocumentName": DOCUMENT_NAME}
            ]
        },
        {
            "Filters": [{"Key": "TagKey", "Values": [approval_tag_key(APPROVAL_ID)]}],
            "NextToken": "page-2",
        },
    )
    described(stubber, AUTOMATION_ID, APPROVAL_ID)

    assert launch(client, settings, REQUEST) == AUTOMATION_ID


def test_a_refused_token_without_a_tagged_automation_is_a_conflict(ssm, settings):
    client, stubber = ssm
    refuse_the_token(stubber)
    listed(stubber)

    with pytest.raises(ApprovalStartConflict, match=approval_tag_key(APPROVAL_ID)) as raised:
        launch(client, settings, REQUEST)
    assert f"Key=DocumentNamePrefix,Values={DOCUMENT_NAME}" in str(raised.value)
    assert isinstance(raised.value.__cause__, ClientError)


def test_a_lookup_refused_by_iam_is_a_conflict_naming_the_permission(ssm, settings):
    client, stubber = ssm
    refuse_the_token(stubber)
    stubber.add_client_error(
        "describe_automation_executions",
        service_error_code="AccessDeniedException",
        service_message="not authorized to perform: ssm:DescribeAutomationExecutions",
        http_status_code=400,
    )

    with pytest.raises(ApprovalStartConflict, match="ssm:DescribeAutomationExecutions") as raised:
        launch(client, settings, REQUEST)
    assert "AccessDeniedException" in str(raised.value)


@pytest.mark.parametrize(
    ("code", "named"),
    [
        ("ThrottlingException", ApprovalStartThrottled),
        ("TooManyRequestsException", ApprovalStartThrottled),
        ("AutomationExecutionLimitExceededException", ApprovalConcurrencyLimitExceeded),
    ],
)
def test_a_start_refused_for_now_is_the_named_error_to_retry(ssm, settings, code, named):
    client, stubber = ssm
    stubber.add_client_error("start_automation_execution", service_error_code=code)

    with pytest.raises(named, match="retry with backoff") as raised:
        launch(client, settings, REQUEST)
    assert isinstance(raised.value.__cause__, ClientError)


def test_other_ssm_errors_propagate_unchanged(ssm, settings):
    client, stubber = ssm
    stubber.add_client_error(
        "start_automation_execution", service_error_code="InvalidDocument", http_status_code=400
    )

    with pytest.raises(ClientError, match="InvalidDocument"):
        launch(client, settings, REQUEST)


def test_a_long_message_is_cut_into_the_documents_message_parameters(ssm, settings):
    client, stubber = ssm
    request_message = "".join(f"{n:04d}" for n in range(1024))  # 4096 characters, all different
    message = approvers_message(APPROVAL_ID, request_message)
    assert len(message) == 4096
    assert message.startswith(request_message[:3000])
    assert f"approvals show {APPROVAL_ID}` has it whole" in message  # it says it was cut
    assert message.endswith(f'approvals reject {APPROVAL_ID} -m "your comment"')
    stubber.add_response(
        "start_automation_execution",
        {"AutomationExecutionId": AUTOMATION_ID},
        {
            "DocumentName": DOCUMENT_NAME,
            "DocumentVersion": "$DEFAULT",
            "Parameters": {
                "ApprovalId": [APPROVAL_ID],
                "Approvers": ["alice"],
                "MinRequiredApprovals": ["1"],
                "NotificationArn": [settings.notification_topic_arn],
                "Message": [message[:512]],
                **{f"Message{n}": [message[512 * (n - 1) : 512 * n]] for n in range(2, 9)},
            },
            "ClientToken": APPROVAL_ID,
            "Mode": "Auto",
            "Tags": ANY,
        },
    )
    request = ApprovalRequest(
        message=request_message, approvers=("alice",), min_required_approvals=1
    )

    assert launch(client, settings, request) == AUTOMATION_ID
