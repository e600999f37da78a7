"""The approvals the bench runs: a mix of approve, reject and 2-of-3 quorum (bench.burst's
plan), in batches, each waited for until its workflow ended. Requests come one every
START_INTERVAL seconds and decisions one every DECISION_INTERVAL, below the rates the gate
paces its SSM calls to (approval_core.pacing):
the measure is what an approval costs outside a burst; a burst's functions also wait for
their slots of SSM's rate, billed as Lambda time (bench.burst measures bursts)."""

from __future__ import annotations

import time

from bench.burst.approvals import Approval, plan
from bench.burst.gate import BurstGate

BATCH = 10  # approvals waiting at once: far below the automations SSM runs at once
START_INTERVAL = 1.5  # seconds: slower than 0.95 starts per second (the module's default)
DECISION_INTERVAL = 0.5  # seconds: slower than 2.85 reads per second


def run_approvals(gate: BurstGate, count: int, run: str) -> list[Approval]:
    approvals = plan(count, reject_every=4, quorum_every=5, run=run)
    for first in range(0, count, BATCH):
        batch = approvals[first : first + BATCH]
        for approval in batch:
            approval.execution_arn = gate.start(approval.request, name=approval.name)
            time.sleep(START_INTERVAL)
        for approval in batch:
            approval.automation_id = gate.automation_of(approval.execution_arn, timeout=120)
            for approver, signal in approval.signals:
                gate.decide(approver, approval.automation_id, signal)
            time.sleep(DECISION_INTERVAL)
        for approval in batch:
            approval.status = gate.finished(approval.execution_arn, timeout=120)["status"]
    return approvals
