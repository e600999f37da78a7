"""Typed input and output of receive_result."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any

from receive_result.errors import MalformedEvent

STEP_STATUS_CHANGE = "EC2 Automation Step Status-change Notification"
APPROVE_ACTION = "aws:approve"
TERMINAL_STEP_STATUSES = frozenset({"Success", "Failed", "TimedOut", "Cancelled"})


@dataclass(frozen=True)
class StepStatusEvent:
    """Where to look: the event says which automation changed, never what was decided."""

    automation_execution_id: str
    document_name: str
    step_name: str
    action: str
    status: str
    event_id: str | None = None

    @classmethod
    def parse(cls, event: Any) -> StepStatusEvent:
        values = _detail_strings(
            event,
            "aws.ssm",
            STEP_STATUS_CHANGE,
            {
                "automation_execution_id": "ExecutionId",
                "document_name": "Definition",
                "step_name": "StepName",
                "action": "Action",
                "status": "Status",
            },
        )
        event_id = event.get("id")
        return cls(**values, event_id=event_id if isinstance(event_id, str) else None)


class Outcome(enum.StrEnum):
    APPROVED = "Approved"
    REJECTED = "Rejected"
    EXPIRED = "Expired"
    CANCELLED = "Cancelled"
    FAILED = "Failed"


# Errors the workflow can Catch when no approver decided.
FAILURE_ERRORS = {
    Outcome.EXPIRED: "Approval.Expired",
    Outcome.CANCELLED: "Approval.Cancelled",
    Outcome.FAILED: "Approval.Failed",
}


@dataclass(frozen=True)
class ApproverDecision:
    approver: str
    decision: str
    comment: str | None = None
    decided_at: str | None = None

    @classmethod
    def parse(cls, raw: Any) -> ApproverDecision | None:
        """SSM returns a MapList output as JSON strings; a dict is taken as it is."""
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except (ValueError, RecursionError):
                return None
        if not isinstance(raw, dict) or not raw.get("Approver"):
            return None
        return cls(
            approver=str(raw["Approver"]),
            decision=str(raw.get("Decision", "")),
            comment=raw.get("Comment") or None,
            decided_at=str(raw["ApprovalDecisionTime"])
            if raw.get("ApprovalDecisionTime")
            else None,
        )

    def to_output(self) -> dict[str, Any]:
        return {
            "approver": self.approver,
            "decision": self.decision,
            "comment": self.comment,
            "decided_at": self.decided_at,
        }


@dataclass(frozen=True)
class ApprovalStep:
    """What SSM says of the approval: the source of every decision."""

    automation_execution_id: str
    approval_id: str | None
    step_status: str
    approval_status: str | None
    decisions: tuple[ApproverDecision, ...] = ()
    failure_message: str | None = None

    def decision(self) -> Decision | None:
        """The decision to deliver, or None while SSM has not finished the step."""
        if self.approval_id is None or self.step_status not in TERMINAL_STEP_STATUSES:
            return None
        if self.approval_status == "Approved" and self.step_status == "Success":
            outcome = Outcome.APPROVED
        elif self.approval_status == "Rejected":
            # Whether a rejection ends the step Failed or Success is not documented.
            outcome = Outcome.REJECTED
        elif self.step_status == "TimedOut":
            outcome = Outcome.EXPIRED
        elif self.step_status == "Cancelled":
            outcome = Outcome.CANCELLED
        else:
            outcome = Outcome.FAILED
        return Decision(
            approval_id=self.approval_id,
            automation_execution_id=self.automation_execution_id,
            outcome=outcome,
            decided_by=tuple(d for d in self.decisions if d.decision in ("Approve", "Reject")),
            failure_message=self.failure_message,
        )


@dataclass(frozen=True)
class Decision:
    approval_id: str
    automation_execution_id: str
    outcome: Outcome
    decided_by: tuple[ApproverDecision, ...] = ()
    failure_message: str | None = None

    @property
    def is_decided_by_approvers(self) -> bool:
        return self.outcome in (Outcome.APPROVED, Outcome.REJECTED)

    def task_output(self) -> dict[str, Any]:
        """SendTaskSuccess output; `is_approved` as in the original stack."""
        return {
            "approval_id": self.approval_id,
            "decision": self.outcome.value,
            "is_approved": self.outcome is Outcome.APPROVED,
            "decided_by": [d.to_output() for d in self.decided_by],
            "automation_execution_id": self.automation_execution_id,
        }

    def task_failure(self) -> tuple[str, str]:
        """SendTaskFailure error and cause."""
        reason = {
            Outcome.EXPIRED: "no decision was made before the approval step timed out",
            Outcome.CANCELLED: "the approval's automation was stopped before a decision",
            Outcome.FAILED: "the approval's automation failed without a decision",
        }[self.outcome]
        cause = (
            f"Approval {self.approval_id} (automation {self.automation_execution_id}): {reason}."
        )
        if self.failure_message:
            cause += f" SSM says: {self.failure_message}"
        return FAILURE_ERRORS[self.outcome], cause


@dataclass(frozen=True)
class Delivery:
    """What happened to one decision (kept by the idempotency store)."""

    approval_id: str
    outcome: str
    callback: str
    detail: str | None = field(default=None)
    via: str = "event"  # the path that made this delivery: event or sweep

    def to_dict(self) -> dict[str, Any]:
        return {
            "approval_id": self.approval_id,
            "outcome": self.outcome,
            "callback": self.callback,
            "detail": self.detail,
            "via": self.via,
        }


EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"
# A waiting approval outlives its workflow in each of these (SUCCEEDED too: a workflow
# can Catch the approval's States.Timeout and succeed on another path).
ENDED_EXECUTION_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


@dataclass(frozen=True)
class WorkflowEndedEvent:
    """A Step Functions execution reached a terminal status."""

    execution_arn: str
    state_machine_arn: str
    status: str

    @classmethod
    def parse(cls, event: Any) -> WorkflowEndedEvent:
        return cls(
            **_detail_strings(
                event,
                "aws.states",
                EXECUTION_STATUS_CHANGE,
                {
                    "execution_arn": "executionArn",
                    "state_machine_arn": "stateMachineArn",
                    "status": "status",
                },
            )
        )

    @property
    def has_ended(self) -> bool:
        return self.status in ENDED_EXECUTION_STATUSES


@dataclass(frozen=True)
class ClosedApprovals:
    """What closing a workflow's approvals did."""

    execution_arn: str
    status: str
    closed: tuple[str, ...] = ()
    cancelled_automations: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "execution_arn": self.execution_arn,
            "status": self.status,
            "closed": list(self.closed),
            "cancelled_automations": list(self.cancelled_automations),
        }


@dataclass(frozen=True)
class SweepReport:
    """What one sweep found and delivered."""

    pending: int
    finished: int
    delivered: tuple[str, ...] = ()
    unchecked: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "pending": self.pending,
            "finished": self.finished,
            "delivered": list(self.delivered),
            "unchecked": self.unchecked,
        }


def _detail_strings(
    event: Any, source: str, detail_type: str, fields: dict[str, str]
) -> dict[str, str]:
    """The event's `detail` fields (name -> detail key), each a non-empty string, or
    MalformedEvent naming what is wrong."""
    if not isinstance(event, dict):
        raise MalformedEvent(f"the event is a {type(event).__name__}, not a JSON object")
    if event.get("source") != source or event.get("detail-type") != detail_type:
        raise MalformedEvent(
            f"source {event.get('source')!r} / detail-type {event.get('detail-type')!r}: "
            f"expected {source!r} / {detail_type!r}"
        )
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise MalformedEvent("detail is missing or not an object")
    values = {}
    for name, key in fields.items():
        value = detail.get(key)
        if not isinstance(value, str) or not value:
            raise MalformedEvent(f"detail.{key} is missing or not a non-empty string")
        values[name] = value
    return values
