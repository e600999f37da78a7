"""`approvals`: the approval gate's command line for approvers and operators.

Talks to a deployed gate with the caller's own AWS credentials: the records table (its
`by_status` and `by_execution` indexes, never the task token), SSM Automation (the decision),
Step Functions (the workflow), X-Ray (traces), SQS and Lambda (recovery). It imports none of
the services' packages: it reads the records table as libs/approval_core writes it.
"""

__version__ = "0.2.0"
