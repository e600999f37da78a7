"""The ``aws:approve`` action: check its inputs, ask the approvers, record decisions."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from moto.sns.models import sns_backends

from sandbox import iam
from sandbox.core import faults
from sandbox.core.settings import settings
from sandbox.ssm.identity import approver_entry_problem
from sandbox.ssm.models import AutomationExecution, Decision, StepExecution

MAX_APPROVERS = 10
MAX_MESSAGE_CHARS = 4096
TOPIC_ARN = re.compile(r"^arn:[\w-]+:sns:([\w-]+):(\d{12}):([\w-]+)$")
REQUEST_SUBJECT = "Automation approval request"

_log = logging.getLogger(__name__)


class NotificationFailed(Exception):
    """Publishing the approval request failed (missing topic, access denied, KMS, ...)."""


def start_approval(execution: AutomationExecution, step: StepExecution) -> str | None:
    """Check the aws:approve inputs and ask the approvers; a problem fails the step."""
    inputs = step.inputs
    approvers = _flat_strings(inputs.get("Approvers"))
    if not 1 <= len(approvers) <= MAX_APPROVERS:
        return f"Approvers must list 1 to {MAX_APPROVERS} principals, got {len(approvers)}."
    for entry in approvers:
        problem = approver_entry_problem(entry)
        if problem:
            return f"Invalid approver: {problem}."
    try:
        min_required = int(inputs.get("MinRequiredApprovals", 1))
    except (TypeError, ValueError):
        return f"MinRequiredApprovals {inputs.get('MinRequiredApprovals')!r} is not an integer."
    if not 1 <= min_required <= len(approvers):
        return (
            f"MinRequiredApprovals is {min_required}: it must be between 1 and the number "
            f"of approvers ({len(approvers)})."
        )
    message = str(inputs.get("Message", ""))
    if len(message) > MAX_MESSAGE_CHARS:
        return f"Message has {len(message)} characters, over the limit of {MAX_MESSAGE_CHARS}."
    step.approvers = approvers
    step.min_required_approvals = min_required
    notification_arn = str(inputs.get("NotificationArn") or "")
    if notification_arn:
        problem = _topic_arn_problem(notification_arn)
        if problem:
            return problem
        try:
            _publish_request(
                execution, notification_arn, REQUEST_SUBJECT, _request_text(execution, step)
            )
        except Exception as error:  # a FIFO topic, a missing one, access or KMS denied
            failure = f"Publishing the approval request to {notification_arn} failed: {error}"
            # docs/aws-behaviour.md#undocumented-failed-notification
            if settings.failed_notification == "fails_step":
                return failure
            _log.warning("%s (the step waits, nobody was told)", failure)
    record_approval_outputs(step, "Waiting")
    return None


def _topic_arn_problem(topic_arn: str) -> str | None:
    match = TOPIC_ARN.match(topic_arn)
    if not match:
        return f"NotificationArn {topic_arn} is not an SNS topic ARN."
    if not match.group(3).startswith("Automation"):
        # docs/aws-behaviour.md#sns-automation-topic-name
        return f"NotificationArn {topic_arn}: the topic name must start with 'Automation'."
    return None


def _publish_request(
    execution: AutomationExecution, topic_arn: str, subject: str, text: str
) -> None:
    """SSM publishes the approval request as the automation (its assume role); raises on any
    failure. The one place where SSM calls SNS, so that authorization belongs here."""
    match = TOPIC_ARN.match(topic_arn)
    if not match:
        raise NotificationFailed(f"{topic_arn} is not an SNS topic ARN")
    region, account_id, _ = match.groups()
    # SSM calls SNS Publish: a fault injected on it (sandbox.core.faults) fails this call too.
    fault = faults.firing_fault({"sns"}, "Publish")
    if fault is not None:
        raise NotificationFailed(f"{fault.error_code}: {fault.message}")
    sns_backend = sns_backends[account_id][region]
    if topic_arn not in sns_backend.topics:
        raise NotificationFailed(f"NotFound: the SNS topic {topic_arn} does not exist")
    try:
        iam.authorize_send(_acting_principal(execution), topic_arn, region=region)
    except iam.AccessDenied as denied:
        raise NotificationFailed(f"AuthorizationError: {denied.message}") from denied
    sns_backend.publish(message=text, arn=topic_arn, subject=subject)


def _acting_principal(execution: AutomationExecution) -> iam.Caller:
    """Who SSM acts as: the automation's assume role, which SSM assumes by its trust policy
    (docs/aws-behaviour.md#ssm-automation-assume-role), else whoever started it."""
    if execution.assume_role:
        return iam.assume_role_as_service(
            execution.assume_role,
            "ssm.amazonaws.com",
            region=execution.region,
            session_name=execution.execution_id,
            source_arn=execution.arn,
        )
    starter = execution.executed_by
    if ":assumed-role/" in starter:
        role_name = starter.split(":assumed-role/", 1)[1].split("/", 1)[0]
        role_arn = f"arn:{execution.partition}:iam::{execution.account_id}:role/{role_name}"
        return iam.role_session(role_arn, starter.rsplit("/", 1)[-1])
    return iam.Caller(starter, execution.account_id, "user")


def _request_text(execution: AutomationExecution, step: StepExecution) -> str:
    return (
        f"Automation execution {execution.execution_id} of document "
        f"{execution.document.name} (version {execution.document.version}) is waiting for "
        f"approval at step {step.name}.\n\n"
        f"Message: {step.inputs.get('Message', '')}\n\n"
        f"Approvers ({step.min_required_approvals} approval(s) required): "
        f"{', '.join(step.approvers)}\n\n"
        "Approve or reject:\n"
        f"aws ssm send-automation-signal --automation-execution-id {execution.execution_id} "
        '--signal-type Approve --payload Comment="..."\n'
        f"aws ssm send-automation-signal --automation-execution-id {execution.execution_id} "
        '--signal-type Reject --payload Comment="..."\n'
    )


def record_approval_outputs(step: StepExecution, approval_status: str) -> None:
    step.outputs = {
        "ApprovalStatus": [approval_status],
        "ApproverDecisions": decisions_output(step.decisions),
    }


def decisions_output(decisions: list[Decision]) -> list[str]:
    """The ApproverDecisions output (a MapList travels in Outputs as strings), in the shape
    the settings say (docs/aws-behaviour.md#undocumented-approver-decisions)."""
    objects = [decision.as_object(settings.decision_values) for decision in decisions]
    if settings.decisions_serialization == "json_array":
        return [json.dumps(objects)]
    return [json.dumps(item) for item in objects]


def _flat_strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    flat: list[str] = []
    for item in value:
        flat.extend(_flat_strings(item))
    return flat
