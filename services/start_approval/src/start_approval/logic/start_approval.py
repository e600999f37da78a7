"""The start_approval function's logic: record the approval, then start its automation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from approval_core.clock import utc_now
from approval_core.launcher import AutomationLauncher
from approval_core.records import (
    ApprovalRecord,
    ApprovalRecords,
    ApprovalStatus,
    RecordNotPending,
)
from start_approval.errors import ApprovalAlreadyDecided
from start_approval.models import StartedApproval, TaskInvocation
from start_approval.observability import logger, metrics
from start_approval.settings import Settings


class StartApproval:
    def __init__(
        self,
        records: ApprovalRecords,
        automation: AutomationLauncher,
        settings: Settings,
        clock: Callable[[], datetime] = utc_now,
    ):
        self._records = records
        self._automation = automation
        self._settings = settings
        self._clock = clock

    def start(self, invocation: TaskInvocation) -> StartedApproval:
        """The record is written first, so the token is stored before any approver can
        decide. A retry reuses the automation: the record's id when it holds one, else the
        ClientToken (or the automation's tag, AutomationLauncher.start)."""
        now = self._clock()
        approval_id = invocation.approval_id
        request = invocation.request
        requested_epoch = int(now.timestamp())
        record = ApprovalRecord(
            approval_id=approval_id,
            task_token=invocation.task_token,
            execution_arn=invocation.execution_arn,
            state_name=invocation.state_name,
            state_entered_time=invocation.state_entered_time,
            requested_at=now.isoformat(),
            requested_epoch=requested_epoch,
            expiration=requested_epoch
            + self._settings.approval_timeout_seconds
            + self._settings.record_retention_days * 86400,
            message=invocation.request.message,
            approvers=list(invocation.request.approvers),
            min_required_approvals=invocation.request.min_required_approvals,
            requested_by=invocation.request.requested_by,
            # Absent when nobody is reminded: the sweep skips a record without an interval.
            remind_after_seconds=request.remind_after_seconds if request.reminds else None,
            max_reminders=request.max_reminders if request.reminds else None,
            reminders_sent=0 if request.reminds else None,
            # Absent for a request without stages: the record reads as before stages existed.
            stages=[s.to_record() for s in request.stages] if request.stages else None,
            stage_index=0 if request.stages else None,
            stage_started_epoch=requested_epoch if request.stages else None,
        )
        try:
            stored = self._records.create_or_refresh(record)
        except RecordNotPending as decided:
            ended = decided.record.outcome or f"closed: workflow {decided.record.closed_reason}"
            raise ApprovalAlreadyDecided(
                f"Approval {approval_id} of this Task state entry was already decided "
                f"({ended}): its workflow task was answered before. Start a new execution "
                "to ask again."
            ) from None
        created = stored is record

        if stored.automation_execution_id:
            # A retry after the record was completed: the automation runs already, and a
            # second StartAutomationExecution with the same ClientToken may be refused
            # (docs/aws-behaviour.md#undocumented-client-token-reuse).
            automation_execution_id = stored.automation_execution_id
        else:
            automation_execution_id = self._automation.start(approval_id, request.first_stage())
        if stored.automation_execution_id != automation_execution_id:
            updated = self._records.set_automation(
                approval_id, automation_execution_id, now.isoformat()
            )
            if updated.status is ApprovalStatus.CLOSED:
                # The workflow ended between the record and the automation: close_approvals
                # found no automation to cancel, so this start cancels its own.
                self._automation.cancel(automation_execution_id)
                logger.warning(
                    "Workflow ended while its approval started: automation cancelled",
                    extra={
                        "approval_id": approval_id,
                        "automation_execution_id": automation_execution_id,
                        "closed_reason": updated.closed_reason,
                    },
                )

        if created:
            metrics.add_metric(name="ApprovalsRequested", unit="Count", value=1)
        logger.info(
            "Approval requested" if created else "Approval request retried",
            extra={
                "approval_id": approval_id,
                "automation_execution_id": automation_execution_id,
                "execution_arn": invocation.execution_arn,
                "state_name": invocation.state_name,
                "stages": [s.name for s in request.all_stages],
                "approvers": list(invocation.request.approvers),
                "min_required_approvals": invocation.request.min_required_approvals,
                "requested_by": invocation.request.requested_by,
                "left_out_as_requester": list(invocation.request.left_out),
                "remind_after_seconds": record.remind_after_seconds,
                "max_reminders": record.max_reminders,
            },
        )
        return StartedApproval(
            approval_id=approval_id,
            automation_execution_id=automation_execution_id,
            created=created,
        )
