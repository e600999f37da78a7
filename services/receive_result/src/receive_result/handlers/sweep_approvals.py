"""The sweep_approvals function (EventBridge schedule): decisions whose event was lost
delivered, approvals SSM keeps queued counted (and given up past MAX_QUEUED_SECONDS),
approvers reminded of what they have not decided (to NOTIFICATION_TOPIC_ARN). Its logic:
logic/sweep_approvals.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3

from approval_core.clients import RETRY_CONFIG, client
from approval_core.launcher import AutomationLauncher
from receive_result.delivery import DeliveryParts, wire_delivery
from receive_result.logic.escalation import Escalation
from receive_result.logic.sweep_approvals import SweepApprovals
from receive_result.observability import logger, metrics, tracer
from receive_result.reminders import ApproverReminders, Reminder
from receive_result.scheduled_event import scheduled_time
from receive_result.settings import Settings

if TYPE_CHECKING:  # annotations only: not imported at a cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

# Created during initialisation, reused by every invocation of this environment.
_ssm = client("ssm")
_dynamodb = client("dynamodb")
_stepfunctions = client("stepfunctions")
_sns = boto3.client("sns", config=RETRY_CONFIG)  # reminders (approval_core.clients: no sns stub)

# Time kept back from a sweep for the last delivery to finish and the metrics to flush
# (short, so that a short function timeout still sweeps; a delivery cut off by the timeout
# is finished by the next sweep).
_SWEEP_RESERVE_MS = 3_000


@dataclass(frozen=True)
class _App:
    delivery: DeliveryParts  # receive_result's own delivery: a decision is delivered once
    sweep: SweepApprovals


@cache
def _app() -> _App:
    settings = Settings.from_environment()
    delivery = wire_delivery(
        settings,
        ssm=_ssm,
        dynamodb=_dynamodb,
        stepfunctions=_stepfunctions,
    )
    sweep = SweepApprovals(
        delivery.records,
        delivery.automation,
        delivery.receiver,
        max_queued_seconds=settings.max_queued_seconds,
        remind=_reminders(settings),
        grace_seconds=settings.sweep_grace_seconds,
        # Escalations start automations: only where the approvers' topic is known.
        escalation=Escalation(delivery.records, AutomationLauncher(_ssm, settings))
        if settings.notification_topic_arn
        else None,
    )
    return _App(delivery, sweep)


def _reminders(settings: Settings) -> Callable[[Reminder], None] | None:
    """The topic SSM notifies the approvers on; not set: no reminders."""
    topic_arn = settings.notification_topic_arn
    return ApproverReminders(_sns, topic_arn).send if topic_arn else None


@logger.inject_lambda_context(log_event=True)  # a scheduled event carries nothing secret
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Any event starts a sweep (the schedule's, or an operator's `{}`)."""
    report = _app().sweep.run(
        has_time=lambda: context.get_remaining_time_in_millis() > _SWEEP_RESERVE_MS,
        now=scheduled_time(event),
    )
    return report.to_dict()
