"""`approvals list`: approvals from the records table's `by_status` index, newest first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.text import Text

from approvals_cli.approvers import may_decide, short_name
from approvals_cli.gate import Gate
from approvals_cli.output import duration, now_epoch, shorten
from approvals_cli.records import LISTED, Approval

# What a person sees without --limit: the newest, as `gh` lists 30 (`--limit 0`: all).
DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class Listing:
    rows: list[dict[str, Any]]
    more: bool  # approvals past the limit were left out


def rows(
    gate: Gate,
    statuses: tuple[str, ...],
    since_epoch: int | None,
    execution: str | None,
    mine: bool,
    limit: int | None,
) -> Listing:
    """The approvals to list, newest first, at most `limit` (None: all)."""
    if execution:
        arn = execution if execution.startswith("arn:") else gate.resolve(execution).execution_arn
        of_execution = [a for a in gate.records.of_execution(arn) if a.status in statuses]
        of_execution.sort(key=lambda a: -a.requested_epoch)
        found: Iterable[Approval] = [
            a for a in of_execution if since_epoch is None or a.requested_epoch >= since_epoch
        ]
    else:
        # One more than the limit tells whether there are more; --mine filters after the
        # read, so it reads on, page by page, until `limit` of the caller's are found.
        wanted = None if mine or limit is None else limit + 1
        found = gate.records.by_status(
            statuses, since_epoch, wanted, attributes=LISTED, page_size=limit and limit + 1
        )
    now = now_epoch()
    caller = gate.aws.caller if mine else None
    listed: list[dict[str, Any]] = []
    for approval in found:
        request = gate.request(approval)
        if caller and not any(may_decide(caller, entry) for entry in request.approvers):
            continue
        if limit is not None and len(listed) == limit:
            return Listing(listed, more=True)
        listed.append(
            _row(
                gate,
                approval,
                request.message,
                request.approvers,
                request.min_required_approvals,
                now,
            )
        )
    return Listing(listed, more=False)


def _row(
    gate: Gate, approval: Approval, message: str, approvers: list[str], quorum: int, now: float
) -> dict[str, Any]:
    expires = gate.expires_epoch(approval) if approval.status == "PENDING" else None
    return {
        "approval_id": approval.approval_id,
        "status": approval.status,
        "outcome": approval.outcome,
        "message": message,
        "approvers": approvers,
        "min_required_approvals": quorum,
        "decided_by": approval.decided_by,
        "requested_at": approval.requested_at,
        "waiting_seconds": int(now - approval.requested_epoch)
        if approval.status == "PENDING"
        else None,
        "expires_in_seconds": int(expires - now) if expires else None,
        "execution_arn": approval.execution_arn,
        "automation_execution_id": approval.automation_execution_id,
    }


COLUMNS = ("ID", "STATUS", "REQUEST", "APPROVERS", "DECIDED", "WAITING", "EXPIRES IN", "WORKFLOW")
_WIDEST = 40  # a cell's characters at most (the request, the approvers): the rest is cut


def cells(row: dict[str, Any]) -> list[str]:
    decided = ", ".join(
        f"{short_name(d.get('approver', ''))}: {d.get('decision', '')}" for d in row["decided_by"]
    ) or (row["outcome"] or "-")
    expires = row["expires_in_seconds"]
    waiting = row["waiting_seconds"]
    approvers = ", ".join(short_name(a) for a in row["approvers"]) or "-"
    return [
        row["approval_id"],
        row["status"],
        shorten(row["message"], _WIDEST),
        shorten(
            f"{approvers} ({row['min_required_approvals']} of {len(row['approvers']) or '?'})",
            _WIDEST,
        ),
        shorten(decided, _WIDEST),
        duration(waiting) if waiting is not None else "-",
        ("expired" if expires <= 0 else duration(expires)) if expires is not None else "-",
        row["execution_arn"].rsplit(":", 1)[-1],
    ]


def render(
    console: Console, listed: list[dict[str, Any]], statuses: tuple[str, ...], more: bool = False
) -> None:
    """Plain aligned columns: a thousand rows print at once (a rich Table takes seconds)."""
    if not listed:
        console.print(f"No approvals ({', '.join(statuses).lower()}).")
        return
    table = [cells(row) for row in listed]
    widths = [max(len(h), *(len(r[n]) for r in table)) for n, h in enumerate(COLUMNS)]

    def line(values: list[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    console.print(Text(line(list(COLUMNS)), style="bold"))
    console.file.write("\n".join(line(r) for r in table) + "\n")
    console.print(
        f"{len(listed)} approval(s)"
        + (", the newest: more with --limit N, all with --limit 0" if more else "")
    )
