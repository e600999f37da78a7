"""SSM Automation behind a small adapter: starts one stage of an approval (its automation of
the approval document), finds the automation an earlier attempt started when SSM refuses to
say (IdempotentParameterMismatch), and cancels one whose workflow ended while it started.
start_approval starts the first stage; receive_result and the sweep start the next."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, NamedTuple, Protocol

from aws_lambda_powertools import Logger, Metrics
from botocore.exceptions import ClientError

from approval_core.automations import cancel_automation
from approval_core.errors import (
    ApprovalConcurrencyLimitExceeded,
    ApprovalStartConflict,
    ApprovalStartThrottled,
)
from approval_core.pacing import SsmRateExceeded
from approval_core.stages import (
    STAGE_PARAMETER,
    Stage,
    is_escalation,
    parse_stage_label,
    stage_label,
)

if TYPE_CHECKING:  # type checking only: the Lambda zips do not ship the stubs
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_ssm.type_defs import DescribeAutomationExecutionsRequestTypeDef

# The function's own logger and metrics (Powertools shares them by service name).
logger = Logger(child=True)
metrics = Metrics()

# One automation parameter holds at most 512 characters; the document joins Message and
# Message2..Message8 into the aws:approve step's Message (at most 4096 characters).
PARAMETER_LIMIT = 512
MESSAGE_PARAMETERS = ("Message", *(f"Message{n}" for n in range(2, 9)))
MESSAGE_LIMIT = PARAMETER_LIMIT * len(MESSAGE_PARAMETERS)  # 4096
# What every request's message ends with: the approval's id and the commands that decide it
# (the `approvals` command line, cli/).
HOW_TO_DECIDE = (
    "\n\nApproval {approval_id}. Decide from a terminal with the approvals command line:\n"
    '  approvals approve {approval_id} -m "your comment"\n'
    '  approvals reject {approval_id} -m "your comment"'
)
CUT_MARK = (
    "\n[...] (cut to fit SSM's 4,096 characters: `approvals show {approval_id}` has it whole)"
)

# Each automation is tagged with a key that holds its approval id: DescribeAutomationExecutions'
# `TagKey` filter matches tag KEYS (the model names it so; values are 1 to 150 characters;
# docs/aws-behaviour.md#ssm-automation-tags), so a key per approval finds exactly that
# approval's automation; its ApprovalId parameter confirms it.
APPROVAL_TAG_PREFIX = "approval-gate:approval:"
_APPROVAL_ID_PARAMETER = "ApprovalId"
_LOOKUP_PAGES = 3  # one automation per approval id is expected; a few pages are plenty


# The ClientToken of a later stage: derived, so every attempt to start it sends the same.
_STAGE_TOKEN_NAMESPACE = uuid.UUID("0b6a3c52-31d4-4c55-9f1e-7d2a8e64b0c9")


def approval_tag_key(approval_id: str) -> str:
    return APPROVAL_TAG_PREFIX + approval_id  # 23 + 36 characters: within 128 and 150


def client_token(approval_id: str, number: int, escalation: bool = False) -> str:
    """Stage 1's is the approval id (as before stages existed); stage n's, and a stage's
    escalation, are derived from it."""
    if number == 1 and not escalation:
        return approval_id
    name = f"{approval_id}/stage/{number}" + ("/escalation" if escalation else "")
    return str(uuid.uuid5(_STAGE_TOKEN_NAMESPACE, name))


class AutomationDocument(Protocol):
    """What starting the approval document takes from a function's settings."""

    @property
    def document_name(self) -> str: ...
    @property
    def document_version(self) -> str: ...
    @property
    def notification_topic_arn(self) -> str: ...
    @property
    def automation_assume_role_arn(self) -> str: ...


class StageLaunch(NamedTuple):  # a NamedTuple: a frozen dataclass costs each cold start ~0.6 ms
    """One stage as its approvers are asked."""

    stage: Stage  # its approvers as asked (entries left out already removed)
    number: int  # 1-based
    stage_count: int
    message: str  # what the approvers read, before the gate's footer
    requested_by: str | None = None
    description: str | None = None
    escalation: bool = False  # the stage's second automation, for its escalation approvers


def approvers_message(approval_id: str, message: str, requested_by: str | None = None) -> str:
    """The request's message, who asked (as the workflow declares it), then how to decide
    it; the message is cut (and says so) when all would pass SSM's 4,096 characters. The
    approval record keeps it whole."""
    footer = HOW_TO_DECIDE.format(approval_id=approval_id)
    if requested_by:
        footer = f"\n\nRequested by {requested_by}." + footer
    if len(message) + len(footer) > MESSAGE_LIMIT:
        cut = CUT_MARK.format(approval_id=approval_id)
        message = message[: MESSAGE_LIMIT - len(footer) - len(cut)] + cut
    return message + footer


def automation_parameters(
    approval_id: str, launch: StageLaunch, document: AutomationDocument
) -> dict[str, list[str]]:
    parameters = {
        _APPROVAL_ID_PARAMETER: [approval_id],
        "Approvers": list(launch.stage.approvers),
        "MinRequiredApprovals": [str(launch.stage.min_required_approvals)],
        "NotificationArn": [document.notification_topic_arn],
    }
    message = approvers_message(approval_id, launch.message, launch.requested_by)
    chunks = [message[i : i + PARAMETER_LIMIT] for i in range(0, len(message), PARAMETER_LIMIT)]
    # At most 8 chunks: approvers_message keeps to 4096 characters.
    parameters.update(
        {name: [chunk] for name, chunk in zip(MESSAGE_PARAMETERS, chunks, strict=False)}
    )
    # A one-stage approval that does not escalate runs on a document without the parameter.
    if launch.stage_count > 1 or launch.escalation:
        parameters[STAGE_PARAMETER] = [
            stage_label(launch.number, launch.stage_count, launch.escalation)
        ]
    if document.automation_assume_role_arn:
        parameters["AutomationAssumeRole"] = [document.automation_assume_role_arn]
    if launch.description:
        parameters["Description"] = [launch.description]
    return parameters


def _error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


_THROTTLES = ("ThrottlingException", "TooManyRequestsException")


def _throttled(cause: Exception) -> ApprovalStartThrottled:
    """SSM's rate reached, by this deployment's pacing or by SSM itself (other automations
    of the account share it): the workflow's Retry tries again later."""
    return ApprovalStartThrottled(
        f"SSM's StartAutomationExecution rate (about 1 per second per account and Region) is "
        f"taken ({cause}): retry with backoff."
    )


class AutomationLauncher:
    def __init__(self, client: SSMClient, document: AutomationDocument):
        self._client = client
        self._document = document

    def start(self, approval_id: str, launch: StageLaunch) -> str:
        """Starts the approval document for one stage with a ClientToken of its own
        (client_token), so a retry cannot start a second automation
        (docs/aws-behaviour.md#ssm-client-token). Whether a retry with the same token gets
        the first automation's id or IdempotentParameterMismatch is not documented
        (docs/aws-behaviour.md#undocumented-client-token-reuse): on that error the
        automation is looked up by its approval tag and stage, and reused."""
        try:
            response = self._client.start_automation_execution(
                DocumentName=self._document.document_name,
                DocumentVersion=self._document.document_version,
                Parameters=automation_parameters(approval_id, launch, self._document),
                ClientToken=client_token(approval_id, launch.number, launch.escalation),
                Mode="Auto",
                Tags=[{"Key": approval_tag_key(approval_id), "Value": approval_id}],
            )
        except SsmRateExceeded as busy:
            raise _throttled(busy) from busy
        except ClientError as error:
            code = _error_code(error)
            if code in _THROTTLES:
                raise _throttled(error) from error
            if code == "AutomationExecutionLimitExceededException":
                # docs/aws-behaviour.md#ssm-automation-concurrency-queue: only past the
                # running quota AND the queue does SSM refuse a start.
                raise ApprovalConcurrencyLimitExceeded(
                    "The account's limit of concurrent automations and its queue are full: "
                    "retry with backoff, or stop automations that are no longer needed."
                ) from error
            if code == "IdempotentParameterMismatch":
                return self._recover(approval_id, launch, error)
            raise
        return response["AutomationExecutionId"]

    def cancel(self, automation_execution_id: str) -> bool:
        return cancel_automation(self._client, automation_execution_id)

    def _recover(self, approval_id: str, launch: StageLaunch, refusal: ClientError) -> str:
        """The automation this approval id started before for this stage (a crash between
        the start and the record update, then a retry), found by its tag, or
        ApprovalStartConflict."""
        try:
            found = self.find(approval_id, launch.number, launch.escalation)
        except SsmRateExceeded as busy:
            raise _throttled(busy) from busy
        except ClientError as lookup_error:
            if _error_code(lookup_error) in _THROTTLES:
                raise _throttled(lookup_error) from lookup_error
            raise self._conflict(
                approval_id,
                f"looking it up failed ({_error_code(lookup_error)}: "
                f"{lookup_error.response.get('Error', {}).get('Message', '')}); the start "
                "function needs ssm:DescribeAutomationExecutions (resource *) and "
                "ssm:GetAutomationExecution",
            ) from refusal
        if found is None:
            raise self._conflict(
                approval_id,
                f"no automation of {self._document.document_name} carries the tag "
                f"{approval_tag_key(approval_id)} (an automation started before this "
                "version of start_approval is not tagged)",
            ) from refusal
        metrics.add_metric(name="AutomationsRecovered", unit="Count", value=1)
        logger.warning(
            "SSM refused the retried start (IdempotentParameterMismatch): the automation "
            "the first attempt started is reused",
            extra={"approval_id": approval_id, "automation_execution_id": found},
        )
        return found

    def find(self, approval_id: str, number: int = 1, escalation: bool = False) -> str | None:
        """The id of the automation of this document tagged with this approval id whose
        ApprovalId and Stage parameters confirm it (stage `number`, or its escalation), or
        None."""
        tag_key = approval_tag_key(approval_id)
        request: DescribeAutomationExecutionsRequestTypeDef = {
            "Filters": [{"Key": "TagKey", "Values": [tag_key]}]
        }
        for _ in range(_LOOKUP_PAGES):
            page = self._client.describe_automation_executions(**request)
            for metadata in page.get("AutomationExecutionMetadataList", []):
                if metadata.get("DocumentName") != self._document.document_name:
                    continue
                execution_id = metadata["AutomationExecutionId"]
                execution = self._client.get_automation_execution(
                    AutomationExecutionId=execution_id
                )["AutomationExecution"]
                parameters = execution.get("Parameters", {})
                stages = parameters.get(STAGE_PARAMETER) or []
                stage = stages[0] if stages else None
                if (
                    parameters.get(_APPROVAL_ID_PARAMETER) == [approval_id]
                    and parse_stage_label(stage)[0] == number
                    and is_escalation(stage) == escalation
                ):
                    return execution_id
            if not page.get("NextToken"):
                return None
            request["NextToken"] = page["NextToken"]
        return None

    def _conflict(self, approval_id: str, why: str) -> ApprovalStartConflict:
        return ApprovalStartConflict(
            f"SSM refused to start the automation of approval {approval_id} "
            "(IdempotentParameterMismatch: this approval id, the ClientToken, started an "
            f"automation before) and {why}. Find it with `aws ssm "
            "describe-automation-executions --filters "
            f"Key=DocumentNamePrefix,Values={self._document.document_name}` (its "
            f"ApprovalId parameter is {approval_id}): approve or reject it there if it still "
            "waits, or stop it and start a new workflow execution to ask again."
        )
