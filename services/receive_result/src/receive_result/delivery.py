"""The delivery that receive_result and sweep_approvals share, wired the same way in both:
every delivery of one automation's decision (duplicate events, retries, other events of the
same automation, the sweep's) goes through the approval's record, whose conditional writes
answer the workflow once and move each stage of an approval of several on once."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from approval_core.launcher import AutomationLauncher
from approval_core.pacing import SsmCallPacer
from approval_core.records import ApprovalRecords
from receive_result.automation_supervisor import AutomationSupervisor
from receive_result.callbacks import WorkflowCallbacks
from receive_result.logic.next_stage import NextStage
from receive_result.logic.receive_result import ReceiveResult
from receive_result.settings import Settings

if TYPE_CHECKING:  # type checking only: the Lambda zips do not ship the stubs
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_stepfunctions import SFNClient


class DeliveryParts(NamedTuple):  # a NamedTuple: a dataclass costs each cold start ~0.4 ms
    records: ApprovalRecords
    automation: AutomationSupervisor
    receiver: ReceiveResult


def wire_delivery(
    settings: Settings,
    *,
    ssm: SSMClient,
    dynamodb: DynamoDBClient,
    stepfunctions: SFNClient,
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
    return DeliveryParts(records, automation, receiver)
