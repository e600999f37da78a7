"""Errors a workflow can Catch: Lambda reports the class name as the error type. Those of
starting an automation are shared with receive_result (it starts later stages)."""

from approval_core.errors import (
    ApprovalConcurrencyLimitExceeded,
    ApprovalStartConflict,
    ApprovalStartThrottled,
)

__all__ = [
    "ApprovalAlreadyDecided",
    "ApprovalConcurrencyLimitExceeded",
    "ApprovalPolicyUnsatisfiable",
    "ApprovalStartConflict",
    "ApprovalStartThrottled",
    "InvalidApprovalRequest",
]


class InvalidApprovalRequest(Exception):
    """The payload or the function's configuration is wrong; retrying will not help.
    The message names the field and the fix."""


class ApprovalPolicyUnsatisfiable(Exception):
    """The deployment's approval policy leaves the request without enough approvers (the
    requester cannot approve their own request): retrying will not help; the message says
    who was left out and what to change."""


class ApprovalAlreadyDecided(Exception):
    """This approval was already decided; its workflow task was answered before."""
