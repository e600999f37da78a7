"""What the tests of the local AWS's settings share (tests/functional/sandbox/test_variants_*):
the agreed table of the variants, and short ways to signal, read decisions and errors."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.sandbox_account import SandboxAccount

# The agreed table (the brief of the variants): name -> values, first = default.
AGREED = {
    "rejection_status": ("Failed", "Success", "Rejected", "CompletedWithFailure"),
    "approval_status": ("Success", "Approved", "CompletedWithSuccess"),
    "failed_step_outputs": ("kept", "dropped"),
    "decision_values": ("verb", "past"),
    "decisions_serialization": ("string_per_map", "json_array"),
    "client_token_reuse": ("same_execution", "idempotent_parameter_mismatch"),
    "waiting_holds_slot": (True, False),
    "approver_matching": ("role_sessions", "exact", "role_sessions_ignoring_path"),
    "duplicate_signal": ("counted_once", "refused"),
    "reject_under_quorum": ("rejects_at_once", "rejects_when_quorum_unreachable"),
    "failed_notification": ("fails_step", "waits_unannounced"),
    "status_read_lag_reads": (0, 2),
    "ssm_rate_burst_seconds": (1, 10),
    "gsi_lag_seconds": (0, 2),
}


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


def decisions(step: dict[str, Any]) -> list[dict[str, Any]]:
    """ApproverDecisions in either serialization, as dicts."""
    found: list[dict[str, Any]] = []
    for raw in step["Outputs"].get("ApproverDecisions", []):
        value = json.loads(raw)
        found.extend(value if isinstance(value, list) else [value])
    return found


def signal(principal: Any, execution_id: str, kind: str, comment: str = "") -> None:
    principal.ssm.send_automation_signal(
        AutomationExecutionId=execution_id,
        SignalType=kind,
        Payload={"Comment": [comment]} if comment else {},
    )


def approvers_inbox(aws: SandboxAccount) -> str:
    """A new queue subscribed to the approvers' topic: what they are told from now on."""
    queue_url, queue_arn = aws.queue(f"inbox-{uuid.uuid4().hex[:6]}")
    aws.sns.subscribe(TopicArn=aws.topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return queue_url
