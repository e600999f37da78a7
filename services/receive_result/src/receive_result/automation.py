"""SSM Automation behind a small adapter: reads what an approval step says."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from approval_core.automations import cancel_automation
from receive_result.models import APPROVE_ACTION, ApprovalStep, ApproverDecision

# Automation statuses after which nothing changes: the approval step has its result.
FINISHED_AUTOMATION_STATUSES = ("Success", "Failed", "TimedOut", "Cancelled")
# DescribeAutomationExecutions takes at most 10 values per filter.
_FILTER_VALUES_LIMIT = 10


class ApprovalAutomation:
    """`client` is a boto3 SSM client."""

    def __init__(self, client: Any):
        self._client = client

    def read(self, automation_execution_id: str) -> ApprovalStep | None:
        """One GetAutomationExecution call (its StepExecutions carry the step's outputs);
        DescribeAutomationStepExecutions only when SSM truncated the steps. None when the
        automation does not exist."""
        try:
            execution = self._client.get_automation_execution(
                AutomationExecutionId=automation_execution_id
            )["AutomationExecution"]
        except ClientError as error:
            if (
                error.response.get("Error", {}).get("Code")
                == "AutomationExecutionNotFoundException"
            ):
                return None
            raise
        step = _approve_step(execution.get("StepExecutions", []))
        if step is None and execution.get("StepExecutionsTruncated"):
            step = _approve_step(
                self._client.describe_automation_step_executions(
                    AutomationExecutionId=automation_execution_id,
                    Filters=[{"Key": "Action", "Values": [APPROVE_ACTION]}],
                )["StepExecutions"]
            )
        step = step or {}
        outputs = step.get("Outputs", {})
        approval_ids = execution.get("Parameters", {}).get("ApprovalId") or [None]
        return ApprovalStep(
            automation_execution_id=automation_execution_id,
            approval_id=approval_ids[0],
            # An automation that ended before its approve step ran (stopped, say) has no
            # step: its own status stands in.
            step_status=step.get("StepStatus") or execution.get("AutomationExecutionStatus", ""),
            approval_status=(outputs.get("ApprovalStatus") or [None])[0],
            decisions=tuple(
                d
                for d in map(ApproverDecision.parse, outputs.get("ApproverDecisions", []))
                if d is not None
            ),
            failure_message=step.get("FailureMessage") or execution.get("FailureMessage"),
        )

    def finished_among(self, automation_execution_ids: list[str]) -> list[str]:
        """The automations of the list that have finished: one DescribeAutomationExecutions
        per 10 ids, so a sweep costs SSM calls in proportion to what still waits (the
        per-approval reads are for the finished ones only)."""
        finished: list[str] = []
        for start in range(0, len(automation_execution_ids), _FILTER_VALUES_LIMIT):
            batch = automation_execution_ids[start : start + _FILTER_VALUES_LIMIT]
            pages = self._client.get_paginator("describe_automation_executions").paginate(
                Filters=[
                    {"Key": "ExecutionId", "Values": batch},
                    {"Key": "ExecutionStatus", "Values": list(FINISHED_AUTOMATION_STATUSES)},
                ]
            )
            for page in pages:
                finished += [
                    execution["AutomationExecutionId"]
                    for execution in page.get("AutomationExecutionMetadataList", [])
                ]
        return finished

    def cancel(self, automation_execution_id: str) -> bool:
        return cancel_automation(self._client, automation_execution_id)


def _approve_step(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((s for s in steps if s.get("Action") == APPROVE_ACTION), None)
