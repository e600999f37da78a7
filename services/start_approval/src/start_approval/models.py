"""Typed input and output of start_approval."""

from __future__ import annotations

import uuid
from typing import NamedTuple

from approval_core.launcher import StageLaunch
from approval_core.records import repr_without_token
from approval_core.stages import DEFAULT_STAGE_NAME, Stage, stage_message

# Fixed namespace: the approval id of a Task state entry is the same in every retry.
_APPROVAL_NAMESPACE = uuid.UUID("6f1c2d0e-6b8a-4f7e-9a52-2b1f0c9d7e31")

CONFIRMATION_MESSAGE = (
    "Approval request has been received. Please review file {file} at the following URL "
    "to decide whether to approve or deny. URL: {url}"
)


class ApprovalRequest(NamedTuple):
    """What the approvers are asked, with the function's defaults applied."""

    message: str
    approvers: tuple[str, ...]
    min_required_approvals: int
    description: str | None = None
    requested_by: str | None = None
    # Approver entries left out because they could be the requester (prevent_self_approval).
    left_out: tuple[str, ...] = ()
    # Reminders while nobody decides (the sweep sends them): every `remind_after_seconds`
    # (None: no reminders), at most `max_reminders` times.
    remind_after_seconds: int | None = None
    max_reminders: int = 0
    # The request's stages, in order (empty: one stage, the approvers above). With stages,
    # `approvers` and `min_required_approvals` are the first stage's.
    stages: tuple[Stage, ...] = ()

    @property
    def all_stages(self) -> tuple[Stage, ...]:
        return self.stages or (
            Stage(
                DEFAULT_STAGE_NAME,
                self.approvers,
                self.min_required_approvals,
                left_out=self.left_out,
            ),
        )

    def first_stage(self) -> StageLaunch:
        """The stage start_approval asks (receive_result asks the next ones)."""
        stages = self.all_stages
        return StageLaunch(
            stage=stages[0],
            number=1,
            stage_count=len(stages),
            message=stage_message(self.message, stages, 1),
            requested_by=self.requested_by,
            description=self.description,
        )

    @property
    def reminds(self) -> bool:
        return self.remind_after_seconds is not None and self.max_reminders > 0


class TaskInvocation(NamedTuple):
    """One invocation by the waitForTaskToken Task state."""

    task_token: str  # never printed (__repr__): the token stays secret
    execution_arn: str
    state_name: str
    state_entered_time: str
    request: ApprovalRequest

    def __repr__(self) -> str:
        return repr_without_token(self)

    @property
    def approval_id(self) -> str:
        """Derived from the execution and the state's entry, so a retry of the same Task
        (which may carry a new token) maps to the same approval and the same automation."""
        name = f"{self.execution_arn}|{self.state_name}|{self.state_entered_time}"
        return str(uuid.uuid5(_APPROVAL_NAMESPACE, name))


class StartedApproval(NamedTuple):
    """The function's reply (Step Functions ignores it for waitForTaskToken; it is logged).
    `created`: False for a repeat or a retry, which found the approval's record."""

    approval_id: str
    automation_execution_id: str
    created: bool

    def to_dict(self) -> dict[str, str | bool]:
        return {
            "approval_id": self.approval_id,
            "automation_execution_id": self.automation_execution_id,
            "created": self.created,
        }
