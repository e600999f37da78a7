"""The approvals of a burst: who decides each and how, planned before it starts; the driver
fills in what happened to each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scripts.local_gate import LocalGate


@dataclass
class Approval:
    index: int
    name: str  # of the workflow execution
    request: dict[str, Any]
    signals: tuple[tuple[str, str], ...]  # (approver, Approve|Reject) in order; the last decides
    expected: str  # Approved | Rejected
    execution_arn: str = ""
    started_at: float | None = None  # epoch seconds, before StartExecution
    start_error: str = ""
    automation_id: str = ""
    # the first scan of the records that named its automation (started, or queued by SSM)
    automation_seen_at: float | None = None
    wave: int = 0
    signalled_at: float | None = None  # before the deciding signal SSM took was sent
    signal_seconds: float | None = None  # how long the deciding SendAutomationSignal took
    signal_retries: int = 0  # signals sent again: the step did not wait yet, or throttled
    signal_error: str = ""
    status: str = ""  # the execution's, once it ended
    ended_at: float | None = None  # its stopDate

    @property
    def deciders(self) -> set[str]:
        """Who the decision's decided_by must name."""
        kind = "Approve" if self.expected == "Approved" else "Reject"
        return {who for who, signal in self.signals if signal == kind}

    @property
    def open(self) -> bool:
        """Started, not decided yet, still running."""
        return not self.start_error and self.signalled_at is None and not self.status


def plan(count: int, reject_every: int, quorum_every: int, run: str) -> list[Approval]:
    approvals = []
    for index in range(count):
        rejected = reject_every > 0 and index % reject_every == reject_every - 1
        quorum = quorum_every > 0 and index % quorum_every == quorum_every - 1
        approvers = ("alice", "bob", "carol") if quorum else ("alice", "bob")
        if rejected:  # one rejection decides, whatever the quorum
            signals: tuple[tuple[str, str], ...] = (("bob", "Reject"),)
        elif quorum:
            signals = (("alice", "Approve"), ("carol", "Approve"))
        else:
            signals = (("alice", "Approve"),)
        request = {
            "message": f"Burst {run}: release {index}?",
            "approvers": [LocalGate.principal_arn(name) for name in approvers],
            "min_required_approvals": 2 if quorum else 1,
        }
        approvals.append(
            Approval(
                index=index,
                name=f"burst-{run}-{index:04d}",
                request=request,
                signals=signals,
                expected="Rejected" if rejected else "Approved",
            )
        )
    return approvals
