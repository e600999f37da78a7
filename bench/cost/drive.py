"""The approvals the bench runs, in batches, each waited for until its workflow ended: by
default a mix of approve, reject and 2-of-3 quorum (bench.burst's plan); with `stages`, every
approval gives that many stages, each approved by a different approver. Requests come one
every START_INTERVAL seconds and decisions one every DECISION_INTERVAL (START_INTERVAL for a
decision that starts the next stage's automation), below the rates the gate paces its SSM
calls to (approval_core.pacing): the measure is what an approval costs outside a burst; a
burst's functions also wait for their slots of SSM's rate, billed as Lambda time
(bench.burst measures bursts)."""

from __future__ import annotations

import time

from bench.burst.approvals import Approval, plan
from bench.burst.gate import BurstGate
from scripts.local_gate import LocalGate, wait_for

BATCH = 10  # approvals waiting at once: far below the automations SSM runs at once
START_INTERVAL = 1.5  # seconds: slower than 0.95 starts per second (the module's default)
DECISION_INTERVAL = 0.5  # seconds: slower than 2.85 reads per second
# The approver of each stage, in order: distinct, as the gate asks across stages by default.
STAGE_APPROVERS = ("alice", "bob", "carol", "dave", "erin")
MAX_STAGES = len(STAGE_APPROVERS)  # the module's max_approval_stages at most


def stage_plan(count: int, stages: int, run: str) -> list[Approval]:
    """`count` approvals of `stages` stages each, every stage approved by its one approver."""
    approvers = STAGE_APPROVERS[:stages]
    return [
        Approval(
            index=index,
            name=f"stages-{run}-{index:04d}",
            request={
                "message": f"Cost {run}: release {index}?",
                "stages": [
                    {"name": f"stage-{number}", "approvers": [LocalGate.principal_arn(who)]}
                    for number, who in enumerate(approvers, start=1)
                ],
            },
            signals=tuple((who, "Approve") for who in approvers),
            expected="Approved",
        )
        for index in range(count)
    ]


def run_approvals(gate: BurstGate, count: int, run: str, stages: int = 0) -> list[Approval]:
    """`stages` 0: the mix of one-stage approvals; else every approval that many stages."""
    if stages:
        approvals = stage_plan(count, stages, run)
    else:
        approvals = plan(count, reject_every=4, quorum_every=5, run=run)
    for first in range(0, count, BATCH):
        batch = approvals[first : first + BATCH]
        for approval in batch:
            approval.execution_arn = gate.start(approval.request, name=approval.name)
            time.sleep(START_INTERVAL)
        if stages:
            decide_stages(gate, batch, stages)
        else:
            decide_mix(gate, batch)
        for approval in batch:
            approval.status = gate.finished(approval.execution_arn, timeout=120)["status"]
    return approvals


def decide_mix(gate: BurstGate, batch: list[Approval]) -> None:
    for approval in batch:
        approval.automation_id = gate.automation_of(approval.execution_arn, timeout=120)
        for approver, signal in approval.signals:
            gate.decide(approver, approval.automation_id, signal)
        time.sleep(DECISION_INTERVAL)


def decide_stages(gate: BurstGate, batch: list[Approval], stages: int) -> None:
    """Stage by stage across the batch: each approval's stage is decided once its automation
    waits; a decision before the last starts the next stage's automation, so it is spaced as
    the requests are."""
    for number in range(stages):
        for approval in batch:
            approval.automation_id = waiting_automation(
                gate, approval.execution_arn, after=approval.automation_id
            )
            approver, signal = approval.signals[number]
            gate.decide(approver, approval.automation_id, signal)
            time.sleep(START_INTERVAL if number < stages - 1 else DECISION_INTERVAL)


def waiting_automation(
    gate: BurstGate, execution_arn: str, after: str, timeout: float = 120
) -> str:
    """The automation the approval's record names once it is not `after` (the stage before's;
    "" for the first) and waits for its approvers (a signal sent earlier is refused)."""
    ssm = gate.client("ssm")

    def moved_on() -> str | None:
        for record in gate.records_of(execution_arn):
            current = record.get("automation_execution_id")
            if current and current != after:
                status = ssm.get_automation_execution(AutomationExecutionId=current)[
                    "AutomationExecution"
                ]["AutomationExecutionStatus"]
                if status == "Waiting":
                    return str(current)
        return None

    return str(wait_for(moved_on, timeout, f"no next stage waits for {execution_arn}"))
