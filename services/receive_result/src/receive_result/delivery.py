"""The idempotent delivery that receive_result and sweep_approvals share, wired the same way
in both: every delivery of one automation's decision (duplicate events, retries, other events
of the same automation, the sweep's) shares one idempotency record, so the workflow is
answered once, and each stage of an approval of several moves it on once."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Protocol

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

from approval_core.idempotency import idempotent
from approval_core.launcher import AutomationLauncher
from approval_core.pacing import SsmCallPacer
from approval_core.records import ApprovalRecords
from receive_result.automation_supervisor import AutomationSupervisor
from receive_result.callbacks import WorkflowCallbacks
from receive_result.logic.next_stage import NextStage
from receive_result.logic.receive_result import ReceiveResult
from receive_result.models import Decision, Delivery
from receive_result.settings import Settings

if TYPE_CHECKING:  # type checking only: the Lambda zips do not ship the stubs
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_stepfunctions import SFNClient

# One prefix for both functions (their names differ): an event's delivery and the sweep's
# of the same decision share one idempotency record. Persisted: never change it.
KEY_PREFIX = "receive_result.deliver"


def idempotency_config() -> IdempotencyConfig:
    """Keyed by the automation: one per approval, or per stage of an approval of several.
    Each function has its own (it registers its Lambda context on it)."""
    return IdempotencyConfig(
        event_key_jmespath="automation_execution_id", expires_after_seconds=86400
    )


class Deliver(Protocol):
    """ReceiveResult.deliver, answered once per approval id. Keyword arguments only: the
    idempotency layer finds the decision by its name."""

    def __call__(self, *, decision: Decision, via: str = ...) -> Delivery: ...


class DeliveryParts(NamedTuple):  # a NamedTuple: a dataclass costs each cold start ~0.4 ms
    records: ApprovalRecords
    automation: AutomationSupervisor
    receiver: ReceiveResult
    deliver: Deliver


def wire_delivery(
    settings: Settings,
    *,
    ssm: SSMClient,
    dynamodb: DynamoDBClient,
    stepfunctions: SFNClient,
    config: IdempotencyConfig,
) -> DeliveryParts:
    """The delivery's parts on the function's boto3 clients (its SSM calls paced)."""
    SsmCallPacer(dynamodb, settings.table_name, settings.pacing).install(ssm)
    records = ApprovalRecords(dynamodb, settings.table_name)
    automation = AutomationSupervisor(ssm)
    next_stage = None
    if settings.notification_topic_arn:
        next_stage = NextStage(
            records,
            AutomationLauncher(ssm, settings),
            distinct_approvers=settings.distinct_approvers_across_stages,
        )
    receiver = ReceiveResult(
        automation=automation,
        records=records,
        callbacks=WorkflowCallbacks(stepfunctions),
        settings=settings,
        next_stage=next_stage,
    )
    deliver = idempotent(
        receiver.deliver,
        argument="decision",
        result_type=Delivery,
        table_name=settings.table_name,
        client=dynamodb,
        config=config,
        key_prefix=KEY_PREFIX,
    )
    return DeliveryParts(records, automation, receiver, deliver)
