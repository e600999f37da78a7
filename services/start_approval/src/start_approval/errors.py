"""Errors a workflow can Catch: Lambda reports the class name as the error type."""


class InvalidApprovalRequest(Exception):
    """The payload or the function's configuration is wrong; retrying will not help.
    The message names the field and the fix."""


class ApprovalStartThrottled(Exception):
    """SSM throttled StartAutomationExecution (1 TPS per account and Region): retry with
    backoff."""


class ApprovalConcurrencyLimitExceeded(Exception):
    """Too many automations are running in the account and Region: retry with backoff."""


class ApprovalPolicyUnsatisfiable(Exception):
    """The deployment's approval policy leaves the request without enough approvers (the
    requester cannot approve their own request): retrying will not help; the message says
    who was left out and what to change."""


class ApprovalAlreadyDecided(Exception):
    """This approval was already decided; its workflow task was answered before."""


class ApprovalStartConflict(Exception):
    """SSM refused the start with IdempotentParameterMismatch: the approval id (the
    ClientToken) started an automation before, and that automation could not be found
    again by its tag. Retrying will not help; the message says how to find it by hand."""
