"""An approval's SSM automation as the CLI reads it: the request (message, approvers,
quorum), the decisions so far, the status; and the signals it sends."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Statuses after which more is still to come (approval_core.automations.NON_TERMINAL_STATUSES;
# every other status is final).
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
MESSAGE_PARAMETERS = ("Message", *(f"Message{n}" for n in range(2, 9)))


@dataclass(frozen=True)
class Decision:
    approver: str
    decision: str  # Approve or Reject, however SSM spells it
    comment: str
    decided_at: str

    def to_json(self) -> dict[str, str]:
        return {
            "approver": self.approver,
            "decision": self.decision,
            "comment": self.comment,
            "decided_at": self.decided_at,
        }


@dataclass(frozen=True)
class Automation:
    automation_execution_id: str
    document_name: str
    status: str
    approval_id: str
    message: str
    approvers: list[str]
    min_required_approvals: int
    started_at: datetime | None
    ended_at: datetime | None
    step_started_at: datetime | None
    notification_arn: str
    failure_message: str
    decisions: list[Decision] = field(default_factory=list)

    @property
    def waiting(self) -> bool:
        return self.status == "Waiting"

    @property
    def final(self) -> bool:
        return self.status not in NON_TERMINAL_STATUSES

    @classmethod
    def from_response(cls, execution: dict[str, Any]) -> Automation:
        parameters = execution.get("Parameters", {})

        def first(name: str, default: str = "") -> str:
            values = parameters.get(name) or [default]
            return str(values[0])

        steps = execution.get("StepExecutions", [])
        step = steps[0] if steps else {}
        decisions: list[Decision] = []
        for current in steps:
            decisions += decisions_of(current.get("Outputs", {}))
        quorum = first("MinRequiredApprovals", "1")
        return cls(
            automation_execution_id=execution["AutomationExecutionId"],
            document_name=execution.get("DocumentName", ""),
            status=execution.get("AutomationExecutionStatus", ""),
            approval_id=first("ApprovalId"),
            message="".join(first(name) for name in MESSAGE_PARAMETERS),
            approvers=[str(a) for a in parameters.get("Approvers", [])],
            min_required_approvals=int(quorum) if quorum.isdigit() else 1,
            started_at=execution.get("ExecutionStartTime"),
            ended_at=execution.get("ExecutionEndTime"),
            step_started_at=step.get("ExecutionStartTime"),
            notification_arn=first("NotificationArn"),
            failure_message=execution.get("FailureMessage", ""),
            decisions=decisions,
        )


def decisions_of(outputs: dict[str, list[str]]) -> list[Decision]:
    """`ApproverDecisions` as SSM writes it: one JSON object per string, or one string holding
    a JSON array (docs/aws-behaviour.md#undocumented-approver-decisions)."""
    found: list[Decision] = []
    for raw in outputs.get("ApproverDecisions", []):
        try:
            parsed = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            continue
        for entry in parsed if isinstance(parsed, list) else [parsed]:
            if isinstance(entry, dict):
                found.append(
                    Decision(
                        approver=str(entry.get("Approver", "")),
                        decision=_verb(str(entry.get("Decision", ""))),
                        comment=str(entry.get("Comment", "")),
                        decided_at=str(entry.get("ApprovalDecisionTime", "")),
                    )
                )
    return found


def _verb(decision: str) -> str:
    """Approve or Reject, whether SSM writes Approve/Approved or Reject/Rejected."""
    return "Approve" if decision.startswith("Approve") else "Reject"
