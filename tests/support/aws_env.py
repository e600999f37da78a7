"""The fake AWS identity and the functions' environment of every test, set before any boto3
client exists (the handlers create theirs when imported)."""

import os

import moto  # noqa: F401  (imported first, so every boto3 client is routed to moto)

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
TABLE_NAME = "approval-gate-records"
DOCUMENT_NAME = "ApprovalGate-Approval"
TOPIC_NAME = "AutomationApprovalGate"

os.environ.update(
    {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "POWERTOOLS_METRICS_NAMESPACE": "ApprovalGate",
        "APPROVALS_TABLE_NAME": TABLE_NAME,
        "APPROVAL_DOCUMENT_NAME": DOCUMENT_NAME,
        "NOTIFICATION_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{TOPIC_NAME}",
        # These tests lose an event and sweep at once: no grace for events on their way
        # (the grace is the unit layer's and the end-to-end layer's, at its default).
        "SWEEP_GRACE_SECONDS": "0",
    }
)
# Tracing is off unless a test switches it on for a process of its own (test_observability).
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "DEFAULT_APPROVERS"):
    os.environ.pop(name, None)
