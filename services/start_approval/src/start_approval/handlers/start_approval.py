"""The start_approval function (a Step Functions task, waitForTaskToken): observability,
parse, start, reply. Its logic: logic/start_approval.py."""

from __future__ import annotations

from functools import cache
from typing import Any, Protocol

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
from aws_lambda_powertools.utilities.typing import LambdaContext

from approval_core.clients import client
from approval_core.idempotency import idempotent
from approval_core.pacing import SsmCallPacer
from approval_core.records import ApprovalRecords
from start_approval.automation_launcher import AutomationLauncher
from start_approval.logic.start_approval import StartApproval
from start_approval.models import StartedApproval, TaskInvocation
from start_approval.observability import logger, metrics, tracer
from start_approval.settings import Settings
from start_approval.validation import parse_invocation

# Created during initialisation, reused by every invocation of this environment.
_ssm = client("ssm")
_dynamodb = client("dynamodb")

# The same invocation (same token) answered from the idempotency store: no second write,
# no second StartAutomationExecution (1 TPS per account).
_idempotency_config = IdempotencyConfig(expires_after_seconds=3600)


class _Start(Protocol):
    """StartApproval.start, answered once per invocation. Keyword arguments only: the
    idempotency layer finds the invocation by its name."""

    def __call__(self, *, invocation: TaskInvocation) -> StartedApproval: ...


@cache
def _app() -> tuple[Settings, _Start]:
    settings = Settings.from_environment()
    SsmCallPacer(_dynamodb, settings.table_name, settings.pacing).install(_ssm)
    logic = StartApproval(
        records=ApprovalRecords(_dynamodb, settings.table_name),
        automation=AutomationLauncher(_ssm, settings),
        settings=settings,
    )
    start = idempotent(
        logic.start,
        argument="invocation",
        result_type=StartedApproval,
        table_name=settings.table_name,
        client=_dynamodb,
        config=_idempotency_config,
        key_prefix="start_approval.start",  # stable across function names and aliases
    )
    return settings, start


@logger.inject_lambda_context(log_event=False)  # the event holds the task token
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings, start = _app()
    invocation: TaskInvocation = parse_invocation(event, settings)
    logger.set_correlation_id(invocation.approval_id)
    tracer.put_annotation(key="approval_id", value=invocation.approval_id)
    _idempotency_config.register_lambda_context(context)
    return start(invocation=invocation).to_dict()
