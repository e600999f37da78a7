"""The periodic sweep: SSM's events are best effort, so every interval the pending
approvals whose automation has finished are delivered as their event would have been."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)

from approval_core.records import ApprovalRecords
from receive_result.automation import ApprovalAutomation
from receive_result.models import Decision, Delivery, SweepReport
from receive_result.observability import logger, metrics
from receive_result.service import ResultReceiver


class PendingSweep:
    """`deliver` is the event path's own (idempotent) delivery, so a decision delivered
    both by its event and by the sweep reaches the workflow once."""

    def __init__(
        self,
        records: ApprovalRecords,
        automation: ApprovalAutomation,
        receiver: ResultReceiver,
        deliver: Callable[[Decision], Delivery],
    ):
        self._records = records
        self._automation = automation
        self._receiver = receiver
        self._deliver = deliver

    def run(self, has_time: Callable[[], bool] = lambda: True) -> SweepReport:
        """Sweeps until done or until `has_time()` is False (the function's remaining time);
        what is left is counted and picked up by the next interval."""
        pending = list(self._records.pending())
        started = [p.automation_execution_id for p in pending if p.automation_execution_id]
        finished = self._automation.finished_among(started) if started else []
        delivered: list[str] = []
        for index, automation_execution_id in enumerate(finished):
            if not has_time():
                logger.warning(
                    "Sweep stopped for lack of time; the next one continues",
                    extra={"unchecked": len(finished) - index},
                )
                return SweepReport(
                    len(pending), len(finished), tuple(delivered), len(finished) - index
                )
            decision = self._receiver.decision_of(automation_execution_id)
            if decision is None:
                continue
            try:
                delivery = self._deliver(decision)
            except IdempotencyAlreadyInProgressError:
                logger.info(
                    "Skipped: the decision's event is being delivered right now",
                    extra={"approval_id": decision.approval_id},
                )
                continue
            if delivery.via == "sweep" and delivery.callback in ("DELIVERED", "REFUSED"):
                # This sweep delivered it: its event never came (or has not come yet). A
                # delivery by the event path comes back from the idempotency store as it was.
                delivered.append(decision.approval_id)
                metrics.add_metric(name="DecisionsRecoveredBySweep", unit=MetricUnit.Count, value=1)
                logger.warning(
                    "Sweep delivered a decision its event had not delivered",
                    extra={
                        "approval_id": decision.approval_id,
                        "automation_execution_id": automation_execution_id,
                        "callback": delivery.callback,
                    },
                )
        logger.info(
            "Sweep done",
            extra={"pending": len(pending), "finished": len(finished), "delivered": len(delivered)},
        )
        return SweepReport(len(pending), len(finished), tuple(delivered))
