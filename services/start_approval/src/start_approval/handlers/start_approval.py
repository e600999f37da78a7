"""The start_approval function (a Step Functions task, waitForTaskToken): observability,
parse, start, reply. Its logic: logic/start_approval.py."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from approval_core.clients import client
from approval_core.launcher import AutomationLauncher
from approval_core.pacing import SsmCallPacer
from approval_core.records import ApprovalRecords
from start_approval.logic.start_approval import StartApproval
from start_approval.models import TaskInvocation
from start_approval.observability import logger, metrics, tracer
from start_approval.settings import Settings
from start_approval.validation import parse_invocation

if TYPE_CHECKING:  # annotations only: not imported at a cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

# Created during initialisation, reused by every invocation of this environment.
_ssm = client("ssm")
_dynamodb = client("dynamodb")


# No idempotency layer of its own: the approval record (created or refreshed conditionally)
# and SSM's ClientToken already start one automation per approval, whatever the repeats
# (logic/start_approval.py); a second layer cost two DynamoDB writes per approval
# (docs/benchmarks.md, "Calls and cost per approval").
@cache
def _app() -> tuple[Settings, StartApproval]:
    settings = Settings.from_environment()
    SsmCallPacer(_dynamodb, settings.table_name, settings.pacing).install(_ssm)
    logic = StartApproval(
        records=ApprovalRecords(_dynamodb, settings.table_name),
        automation=AutomationLauncher(_ssm, settings),
        settings=settings,
    )
    return settings, logic


@logger.inject_lambda_context(log_event=False)  # the event holds the task token
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings, logic = _app()
    invocation: TaskInvocation = parse_invocation(event, settings)
    logger.set_correlation_id(invocation.approval_id)
    tracer.put_annotation(key="approval_id", value=invocation.approval_id)
    return logic.start(invocation).to_dict()
