"""SSM Automation facts shared by the services: which statuses are final, and cancelling
an approval's automation (the one SSM write that two services share: start_approval, when
the workflow ended while it started the automation; receive_result, when a workflow ends
while its approval waits, or when SSM kept the automation queued too long)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:  # type checking only: the Lambda zips do not ship the stubs
    from mypy_boto3_ssm import SSMClient

# Statuses of an automation or of one of its steps after which more is still to come. Every
# other status is final: which final status an aws:approve step (and its automation) ends in
# after an approval or a rejection is not documented, so the gate never lists the final ones
# (docs/aws-behaviour.md#undocumented-rejection-status,
# docs/aws-behaviour.md#undocumented-approval-status). The names are botocore's
# AutomationExecutionStatus enum; `Cancelling` is on its way to `Cancelled`.
NON_TERMINAL_STATUSES = frozenset(
    {
        "Pending",
        "InProgress",
        "Waiting",
        "Cancelling",
        "PendingApproval",
        "Scheduled",
        "RunbookInProgress",
        "PendingChangeCalendarOverride",
        "ChangeCalendarOverrideApproved",
    }
)
# An automation past the account's concurrent-automation quota is accepted and queued with
# this status: none of its steps runs, so nobody is asked to approve
# (docs/aws-behaviour.md#ssm-automation-concurrency-queue).
QUEUED_STATUS = "Pending"

# Nothing left to cancel: the automation has ended (or SSM no longer knows it).
_ALREADY_OVER = frozenset(
    {"InvalidAutomationStatusUpdateException", "AutomationExecutionNotFoundException"}
)


def is_terminal(status: str | None) -> bool:
    """True for a status after which nothing changes; False for the non-terminal ones and
    for a missing status (nothing known yet)."""
    return bool(status) and status not in NON_TERMINAL_STATUSES


def cancel_automation(client: SSMClient, automation_execution_id: str) -> bool:
    """StopAutomationExecution (Type Cancel): the approvers' request is withdrawn (a queued
    automation never starts) and the automation ends Cancelled
    (docs/aws-behaviour.md#ssm-stop-automation). False when it had already ended; other
    errors (throttling) propagate, so the caller is retried."""
    try:
        client.stop_automation_execution(
            AutomationExecutionId=automation_execution_id, Type="Cancel"
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _ALREADY_OVER:
            return False
        raise
    return True
