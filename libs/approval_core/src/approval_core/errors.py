"""Errors of starting an approval's automation, shared by the functions that start one
(start_approval: the first stage; receive_result and the sweep: the next). Lambda reports
the class name as the error type, so a workflow's Retry and Catch name these."""


class ApprovalStartThrottled(Exception):
    """SSM throttled StartAutomationExecution (1 TPS per account and Region): retry with
    backoff."""


class ApprovalConcurrencyLimitExceeded(Exception):
    """Too many automations are running in the account and Region: retry with backoff."""


class ApprovalStartConflict(Exception):
    """SSM refused the start with IdempotentParameterMismatch: the approval id (the
    ClientToken) started an automation before, and that automation could not be found
    again by its tag. Retrying will not help; the message says how to find it by hand."""
