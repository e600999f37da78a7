"""Typed input and output of close_approvals: out of models.py so that the receive_result
function's cold start does not create their dataclasses (docs/benchmarks.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from receive_result.models import detail_strings

EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"
# A waiting approval outlives its workflow in each of these (SUCCEEDED too: a workflow
# can Catch the approval's States.Timeout and succeed on another path).
ENDED_EXECUTION_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


@dataclass(frozen=True)
class WorkflowEndedEvent:
    """A Step Functions execution reached a terminal status."""

    execution_arn: str
    state_machine_arn: str
    status: str

    @classmethod
    def parse(cls, event: Any) -> WorkflowEndedEvent:
        return cls(
            **detail_strings(
                event,
                "aws.states",
                EXECUTION_STATUS_CHANGE,
                {
                    "execution_arn": "executionArn",
                    "state_machine_arn": "stateMachineArn",
                    "status": "status",
                },
            )
        )

    @property
    def has_ended(self) -> bool:
        return self.status in ENDED_EXECUTION_STATUSES


@dataclass(frozen=True)
class ClosedApprovals:
    """What closing a workflow's approvals did."""

    execution_arn: str
    status: str
    closed: tuple[str, ...] = ()
    cancelled_automations: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, str | list[str]]:
        return {
            "execution_arn": self.execution_arn,
            "status": self.status,
            "closed": list(self.closed),
            "cancelled_automations": list(self.cancelled_automations),
        }
