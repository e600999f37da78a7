"""An approval of several stages moves on: when a stage before the last approves, the next
stage's automation is started (its approvers asked, with how the earlier stages were
decided) and the record moves on to it; the workflow keeps waiting. Those who approved an
earlier stage are not asked again (distinct_approvers_across_stages): a stage left with
fewer approvers than its quorum ends the approval (Unsatisfiable).

Exactly once, as every delivery: the next automation's ClientToken is derived from the
approval and the stage (approval_core.launcher.client_token), so two attempts start one
automation; the record moves on only from the stage and automation it was read at; a
workflow that ended meanwhile (record CLOSED) gets the new automation cancelled."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aws_lambda_powertools.metrics import MetricUnit

from approval_core.clock import utc_now
from approval_core.launcher import AutomationLauncher, StageLaunch
from approval_core.records import (
    ApprovalRecord,
    ApprovalRecords,
    ApprovalStatus,
    RecordNotPending,
    StageAdvance,
)
from approval_core.separation import could_be
from approval_core.stages import Stage, deciders_who_approved, stage_message
from receive_result.models import Decision, Delivery, Outcome
from receive_result.observability import logger, metrics

# The callback of a delivery that asked the next stage (the workflow still waits).
NEXT_STAGE = "NEXT_STAGE"


class NextStage:
    def __init__(
        self,
        records: ApprovalRecords,
        launcher: AutomationLauncher,
        distinct_approvers: bool = True,
        clock: Callable[[], datetime] = utc_now,
    ):
        self._records = records
        self._launcher = launcher
        self._distinct_approvers = distinct_approvers
        self._clock = clock

    def advance(self, decision: Decision) -> Delivery | Decision:
        """Asks the stage after the one that approved; the Delivery says what happened. A
        Decision comes back when the approval ends here instead (Unsatisfiable): the caller
        delivers it as any outcome."""
        record = self._records.get(decision.approval_id)
        if record is None:
            logger.warning("Ignored: no approval record for this approval id")
            return Delivery(decision.approval_id, decision.outcome.value, "NO_RECORD")
        if record.status is ApprovalStatus.CLOSED:
            return _closed(decision, record)
        index = decision.stage_number - 1  # the stage that approved, 0-based
        if (
            record.status is not ApprovalStatus.PENDING
            or (record.stage_index or 0) != index
            or decision.automation_execution_id
            not in (record.automation_execution_id, record.escalation_automation_execution_id)
            or not record.stages
        ):
            logger.info(
                "Duplicate: this stage was passed before",
                extra={"stage": decision.stage_number, "record_stage": record.stage_index},
            )
            return Delivery(decision.approval_id, decision.outcome.value, "DUPLICATE")
        stages = [Stage.from_record(s) for s in record.stages]
        earlier = [*(record.stage_results or []), decision.stage_result()]
        following = stages[index + 1]
        approvers = following.approvers
        if self._distinct_approvers:
            approved = deciders_who_approved(earlier)
            approvers = tuple(a for a in approvers if not any(could_be(a, d) for d in approved))
        if len(approvers) < following.min_required_approvals:
            logger.warning(
                "Approval ends: the next stage has too few approvers who did not approve an "
                "earlier stage",
                extra={
                    "stage": decision.stage_number + 1,
                    "approvers": list(approvers),
                    "min_required_approvals": following.min_required_approvals,
                },
            )
            return decision._replace(outcome=Outcome.UNSATISFIABLE)

        now = self._clock()
        launch = StageLaunch(
            stage=following._replace(approvers=approvers),
            number=decision.stage_number + 1,
            stage_count=len(stages),
            message=stage_message(record.message or "", stages, index + 2, earlier),
            requested_by=record.requested_by,
        )
        automation_execution_id = self._launcher.start(decision.approval_id, launch)
        try:
            self._records.advance_stage(
                decision.approval_id,
                StageAdvance(
                    from_index=index,
                    from_automation_execution_id=record.automation_execution_id or "",
                    result=decision.stage_result(),
                    automation_execution_id=automation_execution_id,
                    approvers=approvers,
                    min_required_approvals=following.min_required_approvals,
                    started_epoch=int(now.timestamp()),
                    now=now.isoformat(),
                    reminds=record.reminders_sent is not None,
                ),
            )
        except RecordNotPending as moved:
            if moved.record.status is ApprovalStatus.CLOSED:
                # The workflow ended while the next stage started: nobody waits for it.
                self._launcher.cancel(automation_execution_id)
                return _closed(decision, moved.record)
            logger.info("Duplicate: another attempt asked the next stage first")
            return Delivery(decision.approval_id, decision.outcome.value, "DUPLICATE")
        withdrawn = {record.automation_execution_id, record.escalation_automation_execution_id}
        for other in withdrawn - {decision.automation_execution_id, None}:
            self._launcher.cancel(other or "")  # the escalated stage's other request
        metrics.add_metric(name="StagesAdvanced", unit=MetricUnit.Count, value=1)
        logger.info(
            "Stage approved: the next stage is asked",
            extra={
                "approval_id": decision.approval_id,
                "stage": decision.stage_number,
                "next_stage": launch.number,
                "of": launch.stage_count,
                "decided_by": [d.approver for d in decision.decided_by],
                "automation_execution_id": automation_execution_id,
                "left_out_as_earlier_approvers": [
                    a for a in following.approvers if a not in approvers
                ],
            },
        )
        return Delivery(
            decision.approval_id,
            decision.outcome.value,
            NEXT_STAGE,
            f"stage {launch.number} of {launch.stage_count}: {following.name}",
        )


def _closed(decision: Decision, record: ApprovalRecord) -> Delivery:
    logger.info(
        "Ignored: the workflow ended before the decision",
        extra={"closed_reason": record.closed_reason},
    )
    return Delivery(decision.approval_id, decision.outcome.value, "CLOSED")
