"""The state of SSM Automation executions, kept on moto's SSM backends.

State lives on each moto SSM backend (one per account and Region), so moto's own reset
(``mock_aws`` start/stop, ``/moto-api/reset``) discards it with the documents it refers to.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.ssm.models import SimpleSystemManagerBackend, ssm_backends

from sandbox.core.clock import clock
from sandbox.ssm.document import AutomationDocument

# Success-like ends: the quorum approved (docs/aws-behaviour.md#undocumented-approval-status).
SUCCESS_STATUSES = frozenset({"Success", "Approved", "CompletedWithSuccess"})
# Every end the sandbox can produce: the documented ones, and the statuses of the botocore
# model that the variants of rejection_status and approval_status use.
TERMINAL_STATUSES = frozenset(
    {"Failed", "TimedOut", "Cancelled", "Rejected", "CompletedWithFailure", *SUCCESS_STATUSES}
)
DEFAULT_TIMEOUT_SECONDS = 604800  # 7 days: aws:approve default

# One lock for all sandbox automation state: moto server mode serves requests in threads.
lock = threading.RLock()
_STATE_ATTRIBUTE = "_sandbox_automation_state"


@dataclass
class Decision:
    approver: str  # the caller's ARN
    entry: str  # the Approvers entry it matched: quorum counts distinct entries
    decision: str  # the signal: "Approve" | "Reject"
    time: datetime
    comment: str

    def as_object(self, decision_values: str) -> dict[str, str]:
        """One ApproverDecisions item; ``decision_values`` "verb" or "past"
        (docs/aws-behaviour.md#undocumented-approver-decisions)."""
        past = {"Approve": "Approved", "Reject": "Rejected"}
        return {
            "Approver": self.approver,
            "Decision": past[self.decision] if decision_values == "past" else self.decision,
            "ApprovalDecisionTime": _iso(self.time),
            "Comment": self.comment,
        }


@dataclass
class StepExecution:
    definition: dict[str, Any]
    step_execution_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: str = "Pending"
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, list[str]] = field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None
    failure_message: str | None = None
    approvers: list[str] = field(default_factory=list)
    min_required_approvals: int = 1
    decisions: list[Decision] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.definition.get("name", ""))

    @property
    def action(self) -> str:
        return str(self.definition.get("action", ""))

    @property
    def timeout_seconds(self) -> int:
        return int(self.definition.get("timeoutSeconds", DEFAULT_TIMEOUT_SECONDS))

    @property
    def on_failure(self) -> str:
        return str(self.definition.get("onFailure", "Abort"))


@dataclass
class AutomationExecution:
    execution_id: str
    document: AutomationDocument
    parameters: dict[str, list[str]]
    mode: str
    executed_by: str
    account_id: str
    region: str
    partition: str
    assume_role: str
    status: str = "Pending"
    start: datetime = field(default_factory=clock.now)
    end: datetime | None = None
    steps: list[StepExecution] = field(default_factory=list)
    failure_message: str | None = None
    outputs: dict[str, list[str]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # StartAutomationExecution's Tags
    # When it left the queue (Pending) and began to run; None while queued.
    running_since: datetime | None = None
    # Read lag (docs/aws-behaviour.md#undocumented-read-after-event): what the next
    # `stale_reads_left` reads show, and the state before the current call changed it.
    stale_view: AutomationExecution | None = field(default=None, init=False, repr=False)
    stale_reads_left: int = field(default=0, init=False, repr=False)
    before_change: AutomationExecution | None = field(default=None, init=False, repr=False)
    before_change_call: int = field(default=-1, init=False, repr=False)
    created_call: int = field(default=-1, init=False, repr=False)

    def snapshot(self) -> AutomationExecution:
        """A copy as readers see it now (steps and outputs copied, no read-lag state)."""
        return dataclasses.replace(
            self, steps=copy.deepcopy(self.steps), outputs=copy.deepcopy(self.outputs)
        )

    @property
    def arn(self) -> str:
        return (
            f"arn:{self.partition}:ssm:{self.region}:{self.account_id}"
            f":automation-execution/{self.execution_id}"
        )

    @property
    def definition_arn(self) -> str:
        return (
            f"arn:{self.partition}:ssm:{self.region}:{self.account_id}"
            f":automation-definition/{self.document.name}:{self.document.version}"
        )

    @property
    def current_step(self) -> StepExecution | None:
        if self.status in TERMINAL_STATUSES or not self.steps:
            return None
        return self.steps[-1]


@dataclass
class AutomationState:
    """Automation executions of one account and Region."""

    executions: dict[str, AutomationExecution] = field(default_factory=dict)
    client_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # fingerprint, id


def state_for(backend: SimpleSystemManagerBackend) -> AutomationState:
    with lock:
        state = getattr(backend, _STATE_ATTRIBUTE, None)
        if state is None:
            state = AutomationState()
            setattr(backend, _STATE_ATTRIBUTE, state)
        return state


def state_of(execution: AutomationExecution) -> AutomationState:
    """The state (account and Region) that holds ``execution``."""
    return state_for(ssm_backends[execution.account_id][execution.region])


def all_states() -> list[AutomationState]:
    states = []
    for account_backends in list(ssm_backends.values()):
        for backend in list(account_backends.values()):
            state = getattr(backend, _STATE_ATTRIBUTE, None)
            if state is not None:
                states.append(state)
    return states


def reset() -> None:
    """Forget every automation execution (moto's documents and other state stay)."""
    with lock:
        for account_backends in list(ssm_backends.values()):
            for backend in list(account_backends.values()):
                if hasattr(backend, _STATE_ATTRIBUTE):
                    delattr(backend, _STATE_ATTRIBUTE)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
