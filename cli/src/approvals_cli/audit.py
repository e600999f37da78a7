"""`approvals export`: the audit trail, one line per approval: who asked (the workflow
execution, and the requester it declared), what,
the approvers and quorum, each decision with its comment and time, the outcome and how it
reached the workflow."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from approvals_cli.gate import Gate
from approvals_cli.records import STATUSES

CSV_COLUMNS = (
    "approval_id",
    "requested_at",
    "execution_arn",
    "requested_by",
    "state_name",
    "message",
    "approvers",
    "min_required_approvals",
    "decisions",
    "status",
    "outcome",
    "decided_at",
    "delivery",
    "closed_reason",
    "automation_execution_id",
)


def audit_rows(gate: Gate, since_epoch: int) -> list[dict[str, Any]]:
    rows = []
    for approval in sorted(
        gate.records.by_status(STATUSES, since_epoch), key=lambda a: a.requested_epoch
    ):
        automation = None
        if not (approval.has_request and approval.decided_by):
            automation = gate.automation(approval)
        request = gate.request(approval, automation)
        decisions = approval.decided_by or (
            [d.to_json() for d in automation.decisions] if automation else []
        )
        delivery = approval.callback or ""
        if approval.callback_error:
            delivery += f" ({approval.callback_error})"
        if approval.delivered_by:
            delivery += f" by {approval.delivered_by}"
        rows.append(
            {
                "approval_id": approval.approval_id,
                "requested_at": approval.requested_at,
                "execution_arn": approval.execution_arn,
                "requested_by": approval.requested_by or "",
                "state_name": approval.state_name,
                "message": request.message,
                "approvers": request.approvers,
                "min_required_approvals": request.min_required_approvals,
                "decisions": decisions,
                "status": approval.status,
                "outcome": approval.outcome or "",
                "decided_at": approval.decided_at or "",
                "delivery": delivery,
                "closed_reason": approval.closed_reason or "",
                "automation_execution_id": approval.automation_execution_id or "",
            }
        )
    return rows


def to_jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, default=str) + "\n" for row in rows)


def to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        flat = dict(row)
        flat["approvers"] = " ".join(row["approvers"])
        flat["decisions"] = json.dumps(row["decisions"], default=str) if row["decisions"] else ""
        writer.writerow(flat)
    return out.getvalue()
