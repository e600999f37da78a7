"""The close_approvals function (EventBridge rule on Step Functions execution status
changes): the approvals of an ended execution closed, their automations cancelled. Its logic:
logic/close_approvals.py."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from approval_core.clients import client
from approval_core.pacing import SsmCallPacer
from approval_core.records import ApprovalRecords
from receive_result.automation_supervisor import AutomationSupervisor
from receive_result.errors import MalformedEvent
from receive_result.logic.close_approvals import CloseApprovals
from receive_result.observability import logger, metrics, tracer
from receive_result.settings import Settings
from receive_result.workflow_end import WorkflowEndedEvent

if TYPE_CHECKING:  # annotations only: not imported at a cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

# Created during initialisation, reused by every invocation of this environment.
_ssm = client("ssm")
_dynamodb = client("dynamodb")


@cache
def _app() -> CloseApprovals:
    settings = Settings.from_environment()
    SsmCallPacer(_dynamodb, settings.table_name, settings.pacing).install(_ssm)
    return CloseApprovals(
        ApprovalRecords(_dynamodb, settings.table_name), AutomationSupervisor(_ssm)
    )


@logger.inject_lambda_context(log_event=False)  # the event holds the workflow's input/output
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        ended = WorkflowEndedEvent.parse(event)
    except MalformedEvent as error:
        logger.error("Malformed event", extra={"problem": str(error)})
        raise
    tracer.put_annotation(key="execution_arn", value=ended.execution_arn)
    if not ended.has_ended:
        logger.info("Ignored: the execution has not ended", extra={"status": ended.status})
        return {"execution_arn": ended.execution_arn, "status": ended.status, "closed": []}
    return _app().close(ended).to_dict()
