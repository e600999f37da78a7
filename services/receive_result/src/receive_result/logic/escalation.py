"""A stage that escalates (escalate_after_seconds, escalation_approvers): undecided that long
after it started, the sweep opens it to its escalation approvers too, by a second automation
of the same stage (its own ClientToken, so two sweeps start one), recorded on the approval
(only while it still waits at that stage). The first decision of either automation settles
the stage and the other is withdrawn (logic/receive_result.py, logic/next_stage.py); the
stage's result says it was escalated."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aws_lambda_powertools.metrics import MetricUnit

from approval_core.clock import utc_now
from approval_core.launcher import AutomationLauncher, StageLaunch
from approval_core.records import ApprovalRecord, ApprovalRecords, RecordNotPending
from approval_core.stages import Stage, stage_message
from receive_result.observability import logger, metrics
from receive_result.reminders import duration


class Escalation:
    def __init__(
        self,
        records: ApprovalRecords,
        launcher: AutomationLauncher,
        clock: Callable[[], datetime] = utc_now,
    ):
        self._records = records
        self._launcher = launcher
        self._clock = clock

    def escalate(self, record: ApprovalRecord, waited: int) -> bool:
        """Opens the waiting stage to its escalation approvers. True when this call did."""
        stages = [Stage.from_record(s) for s in record.stages or []]
        index = record.stage_index or 0
        stage = stages[index]
        number, count = index + 1, len(stages)
        asked = ", ".join(record.approvers or stage.approvers)
        earlier = stage_message(record.message or "", stages, number, record.stage_results or [])
        launch = StageLaunch(
            stage=Stage(stage.name, stage.escalation_approvers, 1),
            number=number,
            stage_count=count,
            message=(
                f"Escalated: {_which(stage, number, count)} has waited {duration(waited)} for "
                f"its approvers ({asked}). You may decide it instead: the first decision "
                f"settles it.\n\n{earlier}"
            ),
            requested_by=record.requested_by,
            escalation=True,
        )
        escalation = self._launcher.start(record.approval_id, launch)
        try:
            self._records.set_escalation(
                record.approval_id,
                index,
                record.automation_execution_id or "",
                escalation,
                self._clock().isoformat(),
            )
        except RecordNotPending as moved:
            if moved.record.escalation_automation_execution_id != escalation:
                # Decided or moved on meanwhile: nobody waits for this request.
                self._launcher.cancel(escalation)
            return False
        metrics.add_metric(name="StagesEscalated", unit=MetricUnit.Count, value=1)
        logger.warning(
            "Stage escalated: opened to its escalation approvers too",
            extra={
                "approval_id": record.approval_id,
                "stage": stage.name,
                "escalate_after_seconds": stage.escalate_after_seconds,
                "waited_seconds": waited,
                "escalation_approvers": list(stage.escalation_approvers),
                "automation_execution_id": escalation,
            },
        )
        return True


def _which(stage: Stage, number: int, count: int) -> str:
    return f"stage {number} of {count} ({stage.name})" if count > 1 else "this approval"
