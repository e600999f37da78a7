"""Cancelling an approval's SSM automation: the one SSM write that two services share
(start_approval, when the workflow ended while it started the automation; receive_result,
when a workflow ends while its approval waits)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

# Nothing left to cancel: the automation has ended (or SSM no longer knows it).
_ALREADY_OVER = frozenset(
    {"InvalidAutomationStatusUpdateException", "AutomationExecutionNotFoundException"}
)


def cancel_automation(client: Any, automation_execution_id: str) -> bool:
    """StopAutomationExecution (Type Cancel): the approvers' request is withdrawn and the
    automation ends Cancelled. False when it had already ended; other errors (throttling)
    propagate, so the caller is retried. `client` is a boto3 SSM client."""
    try:
        client.stop_automation_execution(
            AutomationExecutionId=automation_execution_id, Type="Cancel"
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _ALREADY_OVER:
            return False
        raise
    return True
