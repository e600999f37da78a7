"""SSM Automation behind a small adapter: reads what an approval's automation says (its
approve step, or the status of many at once), and cancels one nobody waits for any more."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from botocore.exceptions import ClientError

from approval_core.automations import cancel_automation
from approval_core.stages import STAGE_PARAMETER
from receive_result.models import APPROVE_ACTION, ApprovalStep, ApproverDecision

if TYPE_CHECKING:  # type checking only: the Lambda zips do not ship the stubs
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_ssm.type_defs import StepExecutionTypeDef

# DescribeAutomationExecutions takes at most 10 values per filter.
_FILTER_VALUES_LIMIT = 10


class AutomationState(NamedTuple):
    """What DescribeAutomationExecutions lists of one automation."""

    status: str
    ended_at: datetime | None  # its ExecutionEndTime; None while it runs


class AutomationSupervisor:
    def __init__(self, client: SSMClient):
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
        parameters = execution.get("Parameters", {})
        approval_ids = parameters.get("ApprovalId") or []
        stages = parameters.get(STAGE_PARAMETER) or []
        approval_status = _step_output(step, "ApprovalStatus")
        return ApprovalStep(
            automation_execution_id=automation_execution_id,
            approval_id=approval_ids[0] if approval_ids else None,
            # An automation that ended before its approve step ran (stopped while queued,
            # say) has no step: its own status stands in.
            step_status=step.get("StepStatus") or execution.get("AutomationExecutionStatus", ""),
            approval_status=_first(approval_status),
            decisions=ApproverDecision.parse_all(_step_output(step, "ApproverDecisions") or []),
            failure_message=step.get("FailureMessage") or execution.get("FailureMessage"),
            stage=stages[0] if stages else None,
        )

    def states_of(self, automation_execution_ids: list[str]) -> dict[str, AutomationState]:
        """The status (and end time) SSM shows for each automation of the list that it knows: one
        DescribeAutomationExecutions per 10 ids, whatever their status, so that the caller
        tells final from queued itself (which final status an approval ends in is not
        documented: docs/aws-behaviour.md#undocumented-rejection-status). A sweep costs SSM
        calls in proportion to what still waits; the per-approval reads are for the finished
        ones only."""
        states: dict[str, AutomationState] = {}
        for start in range(0, len(automation_execution_ids), _FILTER_VALUES_LIMIT):
            batch = automation_execution_ids[start : start + _FILTER_VALUES_LIMIT]
            pages = self._client.get_paginator("describe_automation_executions").paginate(
                Filters=[{"Key": "ExecutionId", "Values": batch}]
            )
            for page in pages:
                for execution in page.get("AutomationExecutionMetadataList", []):
                    states[execution["AutomationExecutionId"]] = AutomationState(
                        execution.get("AutomationExecutionStatus", ""),
                        execution.get("ExecutionEndTime"),
                    )
        return states

    def cancel(self, automation_execution_id: str) -> bool:
        return cancel_automation(self._client, automation_execution_id)


def _approve_step(steps: Sequence[StepExecutionTypeDef]) -> StepExecutionTypeDef | None:
    return next((s for s in steps if s.get("Action") == APPROVE_ACTION), None)


def _step_output(step: StepExecutionTypeDef, name: str) -> object:
    """A step output, keyed by its name or by `<step name>.<name>` (SSM's own spelling of
    step outputs elsewhere; docs/aws-behaviour.md#undocumented-approver-decisions). The
    stubs promise lists of strings; what an aws:approve step writes there is not
    documented, so the value is checked where it is used."""
    outputs: object = step.get("Outputs")
    if not isinstance(outputs, dict):
        return None
    if name in outputs:
        return outputs[name]
    return outputs.get(f"{step.get('StepName')}.{name}")


def _first(value: object) -> str | None:
    """An output's first value: outputs are lists of strings (a bare string is taken too)."""
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None
