"""The ``aws:approve`` action: check its inputs, ask the approvers, record decisions."""

from __future__ import annotations

import re
from typing import Any

from moto.sns.models import sns_backends

from sandbox.automation_model import AutomationExecution, StepExecution
from sandbox.identity import approver_entry_problem

MAX_APPROVERS = 10
MAX_MESSAGE_CHARS = 4096
TOPIC_ARN = re.compile(r"^arn:[\w-]+:sns:([\w-]+):(\d{12}):([\w-]+)$")


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
        problem = _notify_approvers(execution, notification_arn, message, step)
        if problem:
            return problem
    record_approval_outputs(step, "Waiting")
    return None


def _notify_approvers(
    execution: AutomationExecution, topic_arn: str, message: str, step: StepExecution
) -> str | None:
    match = TOPIC_ARN.match(topic_arn)
    if not match:
        return f"NotificationArn {topic_arn} is not an SNS topic ARN."
    region, account_id, name = match.groups()
    if not name.startswith("Automation"):
        return f"NotificationArn {topic_arn}: the topic name must start with 'Automation'."
    sns_backend = sns_backends[account_id][region]
    if topic_arn not in sns_backend.topics:
        return f"NotificationArn {topic_arn}: the SNS topic does not exist."
    text = (
        f"Automation execution {execution.execution_id} of document "
        f"{execution.document.name} (version {execution.document.version}) is waiting for "
        f"approval at step {step.name}.\n\n"
        f"Message: {message}\n\n"
        f"Approvers ({step.min_required_approvals} approval(s) required): "
        f"{', '.join(step.approvers)}\n\n"
        "Approve or reject:\n"
        f"aws ssm send-automation-signal --automation-execution-id {execution.execution_id} "
        '--signal-type Approve --payload Comment="..."\n'
        f"aws ssm send-automation-signal --automation-execution-id {execution.execution_id} "
        '--signal-type Reject --payload Comment="..."\n'
    )
    try:
        sns_backend.publish(message=text, arn=topic_arn, subject="Automation approval request")
    except Exception as error:  # e.g. a FIFO topic: the step fails like it would in AWS
        return f"Publishing to {topic_arn} failed: {error}"
    return None


def record_approval_outputs(step: StepExecution, approval_status: str) -> None:
    step.outputs = {
        "ApprovalStatus": [approval_status],
        "ApproverDecisions": [decision.as_output() for decision in step.decisions],
    }


def _flat_strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    flat: list[str] = []
    for item in value:
        flat.extend(_flat_strings(item))
    return flat
