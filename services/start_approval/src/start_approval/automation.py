"""SSM Automation behind a small adapter: starts the approval document."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from approval_core.automations import cancel_automation
from start_approval.errors import ApprovalConcurrencyLimitExceeded, ApprovalStartThrottled
from start_approval.models import ApprovalRequest
from start_approval.settings import Settings

# One automation parameter holds at most 512 characters; the document joins Message and
# Message2..Message8 into the aws:approve step's Message (at most 4096 characters).
PARAMETER_LIMIT = 512
MESSAGE_PARAMETERS = ("Message", *(f"Message{n}" for n in range(2, 9)))


def automation_parameters(
    approval_id: str, request: ApprovalRequest, settings: Settings
) -> dict[str, list[str]]:
    parameters = {
        "ApprovalId": [approval_id],
        "Approvers": list(request.approvers),
        "MinRequiredApprovals": [str(request.min_required_approvals)],
        "NotificationArn": [settings.notification_topic_arn],
    }
    chunks = [
        request.message[i : i + PARAMETER_LIMIT]
        for i in range(0, len(request.message), PARAMETER_LIMIT)
    ]
    # At most 8 chunks: the request's message is validated to 4096 characters.
    parameters.update(
        {name: [chunk] for name, chunk in zip(MESSAGE_PARAMETERS, chunks, strict=False)}
    )
    if settings.automation_assume_role_arn:
        parameters["AutomationAssumeRole"] = [settings.automation_assume_role_arn]
    if request.description:
        parameters["Description"] = [request.description]
    return parameters


class ApprovalAutomation:
    """`client` is a boto3 SSM client."""

    def __init__(self, client: Any, settings: Settings):
        self._client = client
        self._settings = settings

    def start(self, approval_id: str, request: ApprovalRequest) -> str:
        """Starts the approval document; the approval id is the ClientToken, so a retry
        gets the automation the first call started instead of a second one."""
        try:
            response = self._client.start_automation_execution(
                DocumentName=self._settings.document_name,
                DocumentVersion=self._settings.document_version,
                Parameters=automation_parameters(approval_id, request, self._settings),
                ClientToken=approval_id,
                Mode="Auto",
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("ThrottlingException", "TooManyRequestsException"):
                raise ApprovalStartThrottled(
                    "SSM throttled StartAutomationExecution (1 request per second per "
                    "account and Region): retry with backoff."
                ) from error
            if code == "AutomationExecutionLimitExceededException":
                raise ApprovalConcurrencyLimitExceeded(
                    "The account's limit of concurrent automations is reached: retry with "
                    "backoff, or stop automations that are no longer needed."
                ) from error
            raise
        return response["AutomationExecutionId"]

    def cancel(self, automation_execution_id: str) -> bool:
        return cancel_automation(self._client, automation_execution_id)
