"""Typed input and output of receive_result."""

from __future__ import annotations

import enum
import json
from typing import Any, NamedTuple

from approval_core.automations import is_terminal
from approval_core.stages import DEFAULT_STAGE_NAME, is_escalation, parse_stage_label
from receive_result.errors import MalformedEvent

STEP_STATUS_CHANGE = "EC2 Automation Step Status-change Notification"
APPROVE_ACTION = "aws:approve"
# What the aws:approve step's ApprovalStatus output says once the approvers decided
# (docs/aws-behaviour.md#ssm-approve-action).
APPROVED = "Approved"
REJECTED = "Rejected"
# ApproverDecisions entries say Approve/Reject or Approved/Rejected: not documented
# (docs/aws-behaviour.md#undocumented-approver-decisions). The workflow always gets the verb.
_DECISION_SPELLINGS = {
    "Approve": "Approve",
    "Approved": "Approve",
    "Reject": "Reject",
    "Rejected": "Reject",
}


class StepStatusEvent(NamedTuple):
    """Where to look: the event says which automation changed, never what was decided."""

    automation_execution_id: str
    document_name: str
    step_name: str
    action: str
    status: str
    event_id: str | None = None

    @classmethod
    def parse(cls, event: Any) -> StepStatusEvent:
        values = detail_strings(
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

    @property
    def says_terminal(self) -> bool:
        """The event reports a final step status (which one does not matter: the decision
        is read from SSM)."""
        return is_terminal(self.status)


class Outcome(enum.StrEnum):
    APPROVED = "Approved"
    REJECTED = "Rejected"
    EXPIRED = "Expired"
    CANCELLED = "Cancelled"
    FAILED = "Failed"
    NOT_STARTED = "NotStarted"
    # A stage approved, and the next one has too few approvers left to ask (those who
    # approved an earlier stage do not count again: distinct_approvers_across_stages).
    UNSATISFIABLE = "Unsatisfiable"


# Errors the workflow can Catch when no approver decided. The unsatisfiable policy has the
# name start_approval gives it when it sees it at the request: one Catch for both.
FAILURE_ERRORS = {
    Outcome.EXPIRED: "Approval.Expired",
    Outcome.CANCELLED: "Approval.Cancelled",
    Outcome.FAILED: "Approval.Failed",
    Outcome.NOT_STARTED: "Approval.NotStarted",
    Outcome.UNSATISFIABLE: "ApprovalPolicyUnsatisfiable",
}


class ApproverDecision(NamedTuple):
    """One approver's answer, as SSM reports it."""

    approver: str
    decision: str  # "Approve" or "Reject" whatever SSM's spelling; anything else as SSM says
    comment: str | None = None
    decided_at: str | None = None

    @classmethod
    def parse(cls, raw: object) -> ApproverDecision | None:
        """One decision: a map, or a JSON string holding one; None for anything else."""
        raw = _json_value(raw)
        if not isinstance(raw, dict) or not raw.get("Approver"):
            return None
        decision = str(raw.get("Decision", ""))
        return cls(
            approver=str(raw["Approver"]),
            decision=_DECISION_SPELLINGS.get(decision, decision),
            comment=raw.get("Comment") or None,
            decided_at=str(raw["ApprovalDecisionTime"])
            if raw.get("ApprovalDecisionTime")
            else None,
        )

    @classmethod
    def parse_all(cls, output: object) -> tuple[ApproverDecision, ...]:
        """The step's ApproverDecisions output, however SSM serialised the MapList
        (docs/aws-behaviour.md#undocumented-approver-decisions): a list of maps or of JSON
        strings each holding one map, or a list holding one JSON string that is an array of
        maps (or a bare string or map instead of the list). Entries that are no decision
        are skipped."""
        entries: list[Any] = []
        for item in output if isinstance(output, list) else [output]:
            value = _json_value(item)
            entries += value if isinstance(value, list) else [value]
        return tuple(d for d in map(cls.parse, entries) if d is not None)

    @property
    def is_decision(self) -> bool:
        return self.decision in ("Approve", "Reject")

    def to_output(self) -> dict[str, str | None]:
        return {
            "approver": self.approver,
            "decision": self.decision,
            "comment": self.comment,
            "decided_at": self.decided_at,
        }


class ApprovalStep(NamedTuple):
    """What SSM says of the approval: the source of every decision."""

    automation_execution_id: str
    approval_id: str | None
    step_status: str
    approval_status: str | None
    decisions: tuple[ApproverDecision, ...] = ()
    failure_message: str | None = None
    stage: str | None = None  # its Stage parameter (`2/3`); None: a one-stage approval

    @property
    def is_terminal(self) -> bool:
        return is_terminal(self.step_status)

    def decision(self) -> Decision | None:
        """The decision to deliver, or None while SSM has not finished the step.

        The outputs decide first, whatever final status the step shows: which status an
        approval or a rejection gives the step is not documented
        (docs/aws-behaviour.md#undocumented-approval-status,
        docs/aws-behaviour.md#undocumented-rejection-status), nor whether a step that did
        not succeed keeps its outputs (docs/aws-behaviour.md#undocumented-failed-step-outputs).
        Approved only when ApprovalStatus says so: never from a status alone."""
        if self.approval_id is None or not self.is_terminal:
            return None
        decided_by = tuple(d for d in self.decisions if d.is_decision)
        if self.approval_status == APPROVED:
            outcome = Outcome.APPROVED
        elif (
            self.approval_status == REJECTED
            or any(d.decision == "Reject" for d in decided_by)
            or self.step_status == REJECTED
        ):
            outcome = Outcome.REJECTED
        elif self.step_status == "TimedOut":  # docs/aws-behaviour.md#ssm-approve-timeout
            outcome = Outcome.EXPIRED
        elif self.step_status == "Cancelled":  # docs/aws-behaviour.md#ssm-stop-automation
            outcome = Outcome.CANCELLED
        else:
            outcome = Outcome.FAILED
        number, count = parse_stage_label(self.stage)
        return Decision(
            approval_id=self.approval_id,
            automation_execution_id=self.automation_execution_id,
            outcome=outcome,
            decided_by=decided_by,
            failure_message=self.failure_message,
            step_status=self.step_status,
            stage_number=number,
            stage_count=count,
            escalated=is_escalation(self.stage),
        )


class Decision(NamedTuple):
    """What the workflow is told: the outcome and who decided."""

    approval_id: str
    automation_execution_id: str
    outcome: Outcome
    decided_by: tuple[ApproverDecision, ...] = ()
    failure_message: str | None = None
    step_status: str | None = None  # the final status SSM gave the step (or the automation)
    queued_seconds: int | None = None  # NotStarted: how long SSM kept the automation queued
    max_queued_seconds: int | None = None  # NotStarted: the limit it went past
    stage_number: int = 1  # which stage's automation decided (1-based), of stage_count
    stage_count: int = 1
    escalated: bool = False  # decided by the stage's escalation automation

    @property
    def is_decided_by_approvers(self) -> bool:
        return self.outcome in (Outcome.APPROVED, Outcome.REJECTED)

    @property
    def approves_a_stage_before_the_last(self) -> bool:
        """The approval goes on: the next stage is asked, the workflow waits."""
        return self.outcome is Outcome.APPROVED and self.stage_number < self.stage_count

    def stage_result(self) -> dict[str, object]:
        """What the record keeps of the stage that ended (stage_results). Unsatisfiable: this
        stage approved; the next one could not be asked."""
        outcome = Outcome.APPROVED if self.outcome is Outcome.UNSATISFIABLE else self.outcome
        return {
            "stage": self.stage_number,
            "outcome": outcome.value,
            "decided_by": [d.to_output() for d in self.decided_by],
            "automation_execution_id": self.automation_execution_id,
            "escalated": self.escalated,
        }

    def task_output(self, stages: list[dict[str, object]] | None = None) -> dict[str, object]:
        """SendTaskSuccess output; `is_approved` as in the original stack; `stages`: each
        stage's name, outcome and who decided it, in order (default: this decision's, the one
        stage); `decided_by`: every stage's deciders."""
        stages = stages or [{"name": DEFAULT_STAGE_NAME, **self.stage_result()}]
        return {
            "approval_id": self.approval_id,
            "decision": self.outcome.value,
            "is_approved": self.outcome is Outcome.APPROVED,
            "decided_by": [d for stage in stages for d in _decided_by(stage)],
            "automation_execution_id": self.automation_execution_id,
            "stages": [{k: v for k, v in s.items() if k != "stage"} for s in stages],
        }

    def task_failure(self, stage_name: str | None = None) -> tuple[str, str]:
        """SendTaskFailure error and cause (which stage ended it, with several)."""
        reason = {
            Outcome.EXPIRED: "no decision was made before the approval step timed out",
            Outcome.CANCELLED: "the approval's automation was stopped before a decision",
            Outcome.FAILED: (
                f"the approval step ended with status {self.step_status or 'unknown'} "
                "without a decision SSM reports (no ApprovalStatus Approved or Rejected)"
            ),
            Outcome.UNSATISFIABLE: (
                f"stage {self.stage_number} approved, and stage {self.stage_number + 1} is "
                "left with fewer approvers than its quorum once those who approved an earlier "
                "stage are left out (distinct_approvers_across_stages): name more approvers in "
                "that stage, lower its quorum, or run the workflow again"
            ),
            Outcome.NOT_STARTED: (
                "SSM kept the automation queued (status Pending)"
                + (f" for {self.queued_seconds} s" if self.queued_seconds is not None else "")
                + ", longer than the gate waits (MAX_QUEUED_SECONDS"
                + (f" = {self.max_queued_seconds}" if self.max_queued_seconds else "")
                + "), so its approval step never ran and nobody was asked; the gate cancelled "
                "it. "
                "The account's concurrent-automation quota (per Region, shared with every "
                "automation of the account) is full: raise the quota 'Concurrently executing "
                "automations' in Service Quotas, or stop automations that are not needed, "
                "then run the workflow again"
            ),
        }[self.outcome]
        where = ""
        if self.stage_count > 1:
            where = f" at stage {self.stage_number} of {self.stage_count}"
            where += f" ({stage_name})" if stage_name else ""
        cause = (
            f"Approval {self.approval_id} (automation {self.automation_execution_id}){where}: "
            f"{reason}."
        )
        if self.failure_message:
            cause += f" SSM says: {self.failure_message}"
        return FAILURE_ERRORS[self.outcome], cause


class Delivery(NamedTuple):
    """What happened to one decision."""

    approval_id: str
    outcome: str
    callback: str
    detail: str | None = None
    via: str = "event"  # the path that made this delivery: event or sweep

    def to_dict(self) -> dict[str, str | None]:
        return {
            "approval_id": self.approval_id,
            "outcome": self.outcome,
            "callback": self.callback,
            "detail": self.detail,
            "via": self.via,
        }


def detail_strings(
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


def _decided_by(stage: dict[str, object]) -> list[object]:
    decided_by = stage.get("decided_by")
    return list(decided_by) if isinstance(decided_by, list) else []


def _json_value(raw: object) -> Any:
    """A string parsed as JSON (None when it is not JSON or nested too deeply to parse);
    anything else as it is."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None
