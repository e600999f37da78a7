"""An approval's stages: an ordered list (1 to MAX_STAGES) of who must approve, each asked
only when the one before it has approved. A request without stages is one stage.

Each stage is one automation of the approval document (its `Stage` parameter says which,
`<number>/<count>`); the approval record keeps every stage's definition (`stages`), the one
that waits (`stage_index`, 0-based) and the outcome of those that ended (`stage_results`).

A stage may escalate: undecided `escalate_after_seconds` after it started, it is opened to its
`escalation_approvers` too, by a second automation of the same stage (`Stage` parameter
`<number>/<count> escalation`); the first decision of either settles the stage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

MAX_STAGES = 5
# The one stage of a request that names no stages.
DEFAULT_STAGE_NAME = "approval"
STAGE_PARAMETER = "Stage"
ESCALATION_SUFFIX = " escalation"


class Stage(NamedTuple):
    """Who must approve at one stage."""

    name: str
    approvers: tuple[str, ...]
    min_required_approvals: int
    message: str | None = None  # None: the request's message
    # None: SSM's own step timeout (the deployment's approval_timeout_seconds); shorter ones
    # are the sweep's to enforce.
    timeout_seconds: int | None = None
    left_out: tuple[str, ...] = ()  # entries left out as the requester (prevent_self_approval)
    # Undecided this long after it started, the stage is opened to these approvers too.
    escalate_after_seconds: int | None = None
    escalation_approvers: tuple[str, ...] = ()

    @property
    def escalates(self) -> bool:
        return self.escalate_after_seconds is not None and bool(self.escalation_approvers)

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "name": self.name,
            "approvers": list(self.approvers),
            "min_required_approvals": self.min_required_approvals,
        }
        if self.message is not None:
            record["message"] = self.message
        if self.timeout_seconds is not None:
            record["timeout_seconds"] = self.timeout_seconds
        if self.left_out:
            record["left_out"] = list(self.left_out)
        if self.escalates:
            record["escalate_after_seconds"] = self.escalate_after_seconds
            record["escalation_approvers"] = list(self.escalation_approvers)
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Stage:
        timeout = record.get("timeout_seconds")
        escalate_after = record.get("escalate_after_seconds")
        return cls(
            name=str(record["name"]),
            approvers=tuple(str(a) for a in record.get("approvers") or ()),
            min_required_approvals=int(record["min_required_approvals"]),
            message=record.get("message"),
            timeout_seconds=None if timeout is None else int(timeout),
            left_out=tuple(str(a) for a in record.get("left_out") or ()),
            escalate_after_seconds=None if escalate_after is None else int(escalate_after),
            escalation_approvers=tuple(str(a) for a in record.get("escalation_approvers") or ()),
        )


def stage_label(number: int, count: int, escalation: bool = False) -> str:
    """The automation's Stage parameter: `2/3` is the second of three (1-based); `2/3
    escalation` its escalation."""
    return f"{number}/{count}" + (ESCALATION_SUFFIX if escalation else "")


def is_escalation(label: str | None) -> bool:
    return (label or "").endswith(ESCALATION_SUFFIX)


def parse_stage_label(label: str | None) -> tuple[int, int]:
    """(number, count) from a Stage parameter; (1, 1) for an automation without one (started
    before stages existed) or one that does not read as `n/m` with 1 <= n <= m <= MAX_STAGES."""
    number, _, count = (label or "").removesuffix(ESCALATION_SUFFIX).partition("/")
    if number.isdigit() and count.isdigit() and 1 <= int(number) <= int(count) <= MAX_STAGES:
        return int(number), int(count)
    return 1, 1


def stage_message(
    request_message: str,
    stages: Sequence[Stage],
    number: int,
    earlier: Sequence[dict[str, Any]] = (),
) -> str:
    """What stage `number`'s approvers read: its message (else the request's); with several
    stages, which stage it is and how the earlier ones were decided."""
    stage = stages[number - 1]
    message = stage.message or request_message
    if len(stages) == 1:
        return message
    lines = [f"Stage {number} of {len(stages)}: {stage.name}.", "", message]
    if earlier:
        lines += ["", "Earlier stages:"]
        for result in named_results(stages, earlier):
            deciders = ", ".join(
                str(d.get("approver")) + (f' ("{d["comment"]}")' if d.get("comment") else "")
                for d in result.get("decided_by") or []
            )
            lines.append(f"  {result['name']}: {result.get('outcome')} by {deciders}")
    return "\n".join(lines)


def named_results(
    stages: Sequence[Stage], results: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The stage results ({stage, outcome, decided_by, automation_execution_id}) with their
    stage's name (a one-stage approval's is DEFAULT_STAGE_NAME)."""
    named = []
    for result in results:
        number = int(result.get("stage") or 1)
        name = stages[number - 1].name if 0 < number <= len(stages) else DEFAULT_STAGE_NAME
        named.append({"name": name, **result, "stage": number})
    return named


def deciders_who_approved(results: Sequence[dict[str, Any]]) -> list[str]:
    """Every approver who approved one of these stages."""
    return [
        str(d["approver"])
        for result in results
        for d in result.get("decided_by") or []
        if d.get("decision") == "Approve" and d.get("approver")
    ]
