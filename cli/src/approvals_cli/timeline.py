"""One approval's story for `approvals show`: requested, notified, each decision, delivered,
the workflow's final state, and where to look in the console."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from rich.markup import escape

from approvals_cli.approvers import short_name
from approvals_cli.automations import Automation
from approvals_cli.gate import Gate, approver_names
from approvals_cli.output import clock, parse_time
from approvals_cli.records import Approval

_CALLBACKS = {
    "SENDING": "callback under way (the sweep finishes it if it stopped half-way)",
    "DELIVERED": "callback delivered to the workflow",
    "REFUSED": "callback refused: the workflow was gone",
}


@dataclass(frozen=True)
class Event:
    at: str
    step: str
    what: str

    def to_json(self) -> dict[str, str]:
        return {"at": self.at, "step": self.step, "what": self.what}


def details(gate: Gate, approval: Approval) -> dict[str, Any]:
    automation = gate.automation(approval)
    request = gate.request(approval, automation)
    workflow = gate.workflow(approval)
    region = gate.aws.region
    events = [
        Event(
            approval.requested_at,
            "requested",
            f"by {approval.execution_arn.rsplit(':', 1)[-1]} ({approval.state_name}): "
            f'"{request.message}" to {approver_names(request.approvers)} '
            f"(quorum {request.min_required_approvals})",
        )
    ]
    if automation is not None:
        events += _automation_events(automation, closed=approval.status == "CLOSED")
    if approval.decided_at:
        events.append(Event(approval.decided_at, "outcome", f"{approval.outcome} (claimed once)"))
    if approval.callback and approval.updated_at:
        via = approval.delivered_by
        text = _CALLBACKS.get(approval.callback, approval.callback)
        if approval.callback_error:
            text += f" ({approval.callback_error})"
        events.append(
            Event(approval.updated_at, "delivered", text + (f", by {via}" if via else ""))
        )
    if approval.status == "CLOSED" and approval.updated_at:
        events.append(
            Event(
                approval.updated_at,
                "closed",
                f"the workflow ended ({approval.closed_reason}) first: approval closed, "
                f"automation {automation.status if automation else 'cancelled'}",
            )
        )
    if workflow.get("status") and workflow["status"] != "RUNNING":
        stopped = workflow.get("stopped_at")
        events.append(
            Event(
                stopped.isoformat() if isinstance(stopped, datetime) else str(stopped or ""),
                "workflow",
                workflow["status"] + (f" ({workflow['error']})" if workflow.get("error") else ""),
            )
        )
    events.sort(key=lambda e: parse_time(e.at) or datetime.max.replace(tzinfo=UTC))
    links = {
        "workflow": "https://console.aws.amazon.com/states/home?region="
        f"{region}#/v2/executions/details/{quote(approval.execution_arn, safe='')}",
    }
    if approval.automation_execution_id:
        links["automation"] = (
            f"https://console.aws.amazon.com/systems-manager/automation/execution/"
            f"{approval.automation_execution_id}?region={region}"
        )
    return {
        "approval": approval.to_json(),
        "request": {
            "message": request.message,
            "approvers": request.approvers,
            "min_required_approvals": request.min_required_approvals,
        },
        "automation": None
        if automation is None
        else {
            "automation_execution_id": automation.automation_execution_id,
            "status": automation.status,
            "decisions": [d.to_json() for d in automation.decisions],
        },
        "workflow": workflow,
        "timeline": [e.to_json() for e in events],
        "links": links,
    }


def _automation_events(automation: Automation, closed: bool) -> list[Event]:
    events = []
    if automation.step_started_at:
        topic = automation.notification_arn.rsplit(":", 1)[-1] or "the notification topic"
        events.append(
            Event(
                automation.step_started_at.isoformat(),
                "notified",
                f"SNS {topic} asked {approver_names(automation.approvers)}",
            )
        )
    for decision in automation.decisions:
        comment = f' "{decision.comment}"' if decision.comment else ""
        events.append(
            Event(
                decision.decided_at,
                "decision",
                f"{short_name(decision.approver)}: {decision.decision}{comment}",
            )
        )
    if automation.final and automation.ended_at and not automation.decisions and not closed:
        events.append(
            Event(automation.ended_at.isoformat(), "automation", f"ended {automation.status}")
        )
    return events


def render(console: Any, shown: dict[str, Any]) -> None:
    approval = shown["approval"]
    console.print(
        f"[bold]Approval {approval['approval_id']}[/bold]  {approval['status']}"
        + (f" · {approval['outcome']}" if approval.get("outcome") else "")
    )
    console.print(f"  workflow    {approval['execution_arn']}")
    if approval.get("automation_execution_id"):
        console.print(
            f"  automation  {approval['automation_execution_id']}"
            + (f" ({shown['automation']['status']})" if shown["automation"] else "")
        )
    console.print()
    for event in shown["timeline"]:
        console.print(
            f"  {clock(event['at']):<19}  [cyan]{event['step']:<10}[/cyan] {escape(event['what'])}"
        )
    if shown["workflow"].get("unreadable"):
        console.print(
            "  (the workflow is not readable with your credentials: "
            f"{shown['workflow']['unreadable']})"
        )
    console.print()
    for name, link in shown["links"].items():
        console.print(f"  {name}: {link}", soft_wrap=True)
