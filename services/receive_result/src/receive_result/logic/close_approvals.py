"""The close_approvals function's logic: the approvals of a workflow that ended have nobody
left waiting for them, so their automations are cancelled (the approvers' request is
withdrawn) and their records closed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aws_lambda_powertools.metrics import MetricUnit

from approval_core.clock import utc_now
from approval_core.records import ApprovalRecords, ApprovalStatus, RecordNotPending
from receive_result.automation_supervisor import AutomationSupervisor
from receive_result.observability import logger, metrics
from receive_result.workflow_end import ClosedApprovals, WorkflowEndedEvent


class CloseApprovals:
    def __init__(
        self,
        records: ApprovalRecords,
        automation: AutomationSupervisor,
        clock: Callable[[], datetime] = utc_now,
    ):
        self._records = records
        self._automation = automation
        self._clock = clock

    def close(self, event: WorkflowEndedEvent) -> ClosedApprovals:
        """Record first (PENDING -> CLOSED), automation second: a decision that lands in
        between finds the record closed and calls nobody back. A retry (the cancel was
        throttled, say) cancels again; a decided record is left as it is."""
        now = self._clock().isoformat()
        closed: list[str] = []
        cancelled: list[str] = []
        for record in self._records.of_execution(event.execution_arn):
            if record.status is ApprovalStatus.PENDING:
                try:
                    record = self._records.close(record.approval_id, event.status, now)
                except RecordNotPending as moved:
                    record = moved.record
                else:
                    closed.append(record.approval_id)
                    metrics.add_metric(name="ApprovalsClosed", unit=MetricUnit.Count, value=1)
            if record.status is not ApprovalStatus.CLOSED or not record.automation_execution_id:
                continue
            # The waiting stage's automation, and its escalation's when it escalated.
            for automation in (
                record.automation_execution_id,
                record.escalation_automation_execution_id,
            ):
                if automation and self._automation.cancel(automation):
                    cancelled.append(automation)
            logger.info(
                "Approval closed: its workflow ended before a decision",
                extra={
                    "approval_id": record.approval_id,
                    "automation_execution_id": record.automation_execution_id,
                    "execution_arn": event.execution_arn,
                    "workflow_status": event.status,
                },
            )
        return ClosedApprovals(event.execution_arn, event.status, tuple(closed), tuple(cancelled))
