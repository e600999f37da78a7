"""SSM Automation behind a small adapter: reads what an approval step says."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from receive_result.models import APPROVE_ACTION, ApprovalStep, ApproverDecision


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


def _approve_step(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((s for s in steps if s.get("Action") == APPROVE_ACTION), None)
