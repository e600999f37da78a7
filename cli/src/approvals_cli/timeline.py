"""One approval's story for `approvals show`: requested, notified, each decision (of every
stage), delivered, the workflow's final state, its stages, and where to look in the console."""

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
from approvals_cli.records import Approval, stage_name

# A stage's state, besides its outcome once it ended.
WAITING = "waiting"
NOT_ASKED = "not asked"

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
    if approval.staged:
        asked = f"in {len(approval.stages)} stage(s): " + ", ".join(
            str(stage.get("name")) for stage in approval.stages
        )
    else:
        asked = f"to {approver_names(request.approvers)} (quorum {request.min_required_approvals})"
    events = [
        Event(
            approval.requested_at,
            "requested",
            f"by {approval.execution_arn.rsplit(':', 1)[-1]} ({approval.state_name}): "
            f'"{request.message}" {asked}',
        )
    ]
    events += _earlier_stage_events(approval, automation)
    if automation is not None:
        events += _automation_events(
            automation, closed=approval.status == "CLOSED", stage=approval.stage
        )
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
        "stages": stage_rows(approval, automation),
        "timeline": [e.to_json() for e in events],
        "links": links,
    }


def _earlier_stage_events(approval: Approval, automation: Automation | None) -> list[Event]:
    """The decisions of the stages whose automation is not the one read (the record keeps
    them: an approval's automation id is its waiting stage's)."""
    events = []
    for number, result in enumerate(approval.stage_results, 1):
        if automation is not None and (
            result.get("automation_execution_id") == automation.automation_execution_id
        ):
            continue
        stage = stage_name(int(result.get("stage") or number), approval.stages)
        for decision in result.get("decided_by") or []:
            comment = f' "{decision["comment"]}"' if decision.get("comment") else ""
            events.append(
                Event(
                    str(decision.get("decided_at") or ""),
                    "decision",
                    f"{stage}: {short_name(str(decision.get('approver') or ''))}: "
                    f"{decision.get('decision')}{comment}",
                )
            )
    return events


def _automation_events(automation: Automation, closed: bool, stage: str = "") -> list[Event]:
    """`stage`: which stage the automation asks ("" for a one-stage approval)."""
    events = []
    of_stage = f"{stage}: " if stage else ""
    if automation.step_started_at:
        topic = automation.notification_arn.rsplit(":", 1)[-1] or "the notification topic"
        events.append(
            Event(
                automation.step_started_at.isoformat(),
                "notified",
                f"{of_stage}SNS {topic} asked {approver_names(automation.approvers)}",
            )
        )
    for decision in automation.decisions:
        comment = f' "{decision.comment}"' if decision.comment else ""
        events.append(
            Event(
                decision.decided_at,
                "decision",
                f"{of_stage}{short_name(decision.approver)}: {decision.decision}{comment}",
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
        status = shown["automation"]["status"] if shown["automation"] else ""
        about = ", ".join(part for part in (status, _waiting_stage(shown)) if part)
        console.print(
            f"  automation  {approval['automation_execution_id']}"
            + (f" ({about})" if about else "")
        )
    if shown["stages"]:
        console.print()
        console.print("  [bold]stages[/bold]")
        _render_stages(console, shown["stages"])
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


def _waiting_stage(shown: dict[str, Any]) -> str:
    """Which stage the approval's automation asks ("" for a one-stage approval)."""
    approval = shown["approval"]
    if not approval.get("stages"):
        return ""
    return stage_name((approval.get("stage_index") or 0) + 1, approval["stages"])


# --- stages --------------------------------------------------------------------------------------


def stage_rows(approval: Approval, automation: Automation | None) -> list[dict[str, Any]]:
    """One row per stage: {stage (1-based), name, approvers, min_required_approvals, state,
    outcome, decided_by, automation_execution_id}. `state` is the stage's outcome once it
    ended, WAITING for the stage asked now, NOT_ASKED for the later ones (and, once the
    approval ended, for every stage it never reached)."""
    results = {
        int(result.get("stage") or number): result
        for number, result in enumerate(approval.stage_results, 1)
    }
    rows = []
    for number, stage in enumerate(approval.stages, 1):
        result = results.get(number)
        current = number == approval.stage_number
        row: dict[str, Any] = {
            "stage": number,
            "name": str(stage.get("name") or ""),
            # The waiting stage's as asked: the record's (earlier stages' approvers left out).
            "approvers": list(
                approval.approvers
                if current and approval.approvers
                else stage.get("approvers") or []
            ),
            "min_required_approvals": int(
                approval.min_required_approvals
                if current and approval.min_required_approvals
                else stage.get("min_required_approvals") or 1
            ),
            "state": NOT_ASKED,
            "outcome": None,
            "decided_by": [],
            "automation_execution_id": None,
        }
        if stage.get("left_out"):
            row["left_out"] = list(stage["left_out"])
        if result is not None:
            row |= {
                "state": str(result.get("outcome") or "decided"),
                "outcome": result.get("outcome"),
                "decided_by": list(result.get("decided_by") or []),
                "automation_execution_id": result.get("automation_execution_id"),
            }
        elif current:
            row["automation_execution_id"] = approval.automation_execution_id
            row["state"] = _current_state(approval)
            if automation is not None:  # the decisions so far
                row["decided_by"] = [d.to_json() for d in automation.decisions]
        rows.append(row)
    return rows


def _current_state(approval: Approval) -> str:
    """The stage asked now, when it has no result: waiting, or how the approval ended there."""
    if approval.status == "PENDING":
        return WAITING
    if approval.status == "CLOSED":
        return f"closed ({approval.closed_reason})" if approval.closed_reason else "closed"
    return approval.outcome or approval.status.lower()


def _render_stages(console: Any, rows: list[dict[str, Any]]) -> None:
    """One line per stage: number and name, approvers (quorum), what became of it."""
    names = [f"{row['stage']} {row['name']}".rstrip() for row in rows]
    asked = [
        f"{approver_names(row['approvers'])} (quorum {row['min_required_approvals']})"
        for row in rows
    ]
    name_width = max(len(n) for n in names)
    asked_width = max(len(a) for a in asked)
    for row, name, who in zip(rows, names, asked, strict=True):
        state = row["state"]
        deciders = ", ".join(
            f"{short_name(str(d.get('approver', '')))}"
            + (f": {d.get('decision')}" if state == WAITING else "")
            + (f' "{d["comment"]}"' if d.get("comment") else "")
            for d in row["decided_by"]
        )
        if deciders:
            state += f" ({deciders})" if state == WAITING else f" by {deciders}"
        console.print(
            f"    {escape(name.ljust(name_width))}  {escape(who.ljust(asked_width))}  "
            f"[cyan]{escape(state)}[/cyan]"
        )
