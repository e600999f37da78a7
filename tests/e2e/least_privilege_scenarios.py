"""The gate's scenarios for tests/e2e/test_least_privilege.py: short flows through the
deployed gate, each checking everything it needs the gate's roles for (the outcome, the
approvers' notification, each function's log lines and X-Ray segments). The flows of an
approval are here, its recoveries in least_privilege_recovery_scenarios.py; how a scenario
runs and fails: least_privilege_run.py.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator

from scripts.local_gate import LocalGate
from tests.e2e.least_privilege_recovery_scenarios import (
    a_dead_lettered_result_and_its_redrive,
    a_dead_lettered_workflow_end_and_its_redrive,
    a_failed_start_delivered_again,
    a_retried_next_stage_start_that_ssm_refuses,
    a_retried_start_that_ssm_refuses,
    a_workflow_that_ends_while_its_approval_starts,
    a_workflow_that_ends_while_its_next_stage_starts,
    the_same_start_twice,
    two_stages,
)
from tests.e2e.least_privilege_run import Run
from tests.support.sandbox_account import STEP_EVENT

# --- the scenarios ----------------------------------------------------------------------------


def an_approval(run: Run) -> None:
    """A workflow asks alice, she is notified and approves, the workflow goes on approved;
    start_approval and receive_result logged it and sent their segments."""
    gate = run.gate
    execution_arn = run.start("least privilege: an approval")
    automation = run.waiting_automation(execution_arn)
    run.notified(automation)
    gate.decide("alice", automation, "Approve", "fine")
    run.approved_by(execution_arn, "alice")
    approval_id = (run.record_of(execution_arn) or {})["approval_id"]
    run.logged(gate.outputs["start_approval_function_name"], approval_id)
    run.logged(gate.outputs["receive_result_function_name"], approval_id)
    run.traced(gate.outputs["start_approval_function_name"])
    run.traced(gate.outputs["receive_result_function_name"])


@contextlib.contextmanager
def sweep_disabled(gate: LocalGate) -> Iterator[None]:
    """The sweep's schedule off: it fires in real time too (the sandbox clock runs), and a
    sweep would deliver what a scenario expects the event's path to deliver (or not)."""
    events, rule = gate.client("events"), gate.outputs["sweep_rule_name"]
    events.disable_rule(Name=rule)
    try:
        yield
    finally:
        events.enable_rule(Name=rule)


def _approved_with_its_event_lost(run: Run, automation: str) -> None:
    """alice approves; the local AWS drops SSM's event of it, as EventBridge may."""
    run.gate.aws.api(
        "/moto-api/sandbox/events/drop",
        {"source": "aws.ssm", "detail_type": STEP_EVENT, "detail": {"ExecutionId": automation}},
    )
    run.gate.decide("alice", automation, "Approve", "fine")
    run.wait(lambda: run.automation_status(automation) != "Waiting", "the approval did not end")


def a_lost_event_and_the_sweep(run: Run) -> None:
    """The decision's SSM event is lost; the next sweep delivers it."""
    gate = run.gate
    execution_arn = run.start("least privilege: the event of this one is lost")
    _approved_with_its_event_lost(run, run.waiting_automation(execution_arn))
    # Past the grace left to the event; the outcome, not the sweep's logs, says it ran.
    gate.sweep(later_by=gate.sweep_grace_seconds, wait=False)
    run.approved_by(execution_arn, "alice")
    approval_id = (run.record_of(execution_arn) or {})["approval_id"]
    run.logged(gate.outputs["sweep_function_name"], approval_id)
    run.traced(gate.outputs["sweep_function_name"])


def a_two_stage_approval(run: Run) -> None:
    """alice approves the first stage; receive_result asks the second (its automation in the
    record); bob approves it, and the workflow goes on approved with both stages."""
    gate = run.gate
    execution_arn = two_stages(run, "least privilege: two stages")
    first = run.waiting_automation(execution_arn)
    gate.decide("alice", first, "Approve", "the change is fine")
    second = run.waiting_automation(execution_arn, after=first)
    run.notified(second)
    gate.decide("bob", second, "Approve", "secure")
    run.approved_in_stages(execution_arn, [("change", "alice"), ("security", "bob")])
    run.logged(gate.outputs["receive_result_function_name"], second)


def a_two_stage_approval_whose_first_event_is_lost(run: Run) -> None:
    """The first stage's SSM event is lost: the sweep delivers alice's approval, so it asks
    the second stage; bob approves it (its event arrives)."""
    gate = run.gate
    execution_arn = two_stages(run, "least privilege: two stages, the first event lost")
    first = run.waiting_automation(execution_arn)
    _approved_with_its_event_lost(run, first)
    gate.sweep(later_by=gate.sweep_grace_seconds, wait=False)
    second = run.waiting_automation(execution_arn, after=first)
    run.logged(gate.outputs["sweep_function_name"], second)
    gate.decide("bob", second, "Approve", "secure")
    run.approved_in_stages(execution_arn, [("change", "alice"), ("security", "bob")])


def a_stopped_workflow(run: Run) -> None:
    """A workflow stopped while its approval waits: the automation is cancelled, the record
    closed."""
    gate = run.gate
    execution_arn = run.start("least privilege: stopped before anyone decides")
    automation = run.waiting_automation(execution_arn)
    gate.client("stepfunctions").stop_execution(executionArn=execution_arn)
    run.wait(
        lambda: run.automation_status(automation) == "Cancelled",
        f"the automation {automation} of a stopped workflow was not cancelled",
    )
    record = run.wait(
        lambda: (r := run.record_of(execution_arn)) and r["status"] == "CLOSED" and r,
        "the record of a stopped workflow was not closed",
    )
    run.logged(gate.outputs["close_approvals_function_name"], record["approval_id"])
    run.traced(gate.outputs["close_approvals_function_name"])


def an_expired_approval(run: Run) -> None:
    """Nobody decides before the approval's timeout: the workflow fails Approval.Expired
    (receive_result answers it with SendTaskFailure)."""
    gate = run.gate
    execution_arn = run.start("least privilege: nobody decides")
    run.waiting_automation(execution_arn)
    gate.aws.api("/moto-api/sandbox/clock/advance", {"seconds": 3601})
    execution = run.ended(execution_arn)
    run.check(
        (execution["status"], execution.get("error")) == ("FAILED", "Approval.Expired"),
        f"{execution_arn} ended {execution['status']} ({execution.get('error')}), not "
        "FAILED with Approval.Expired",
    )


def an_approval_queued_too_long(run: Run) -> None:
    """SSM keeps the automation queued (no slot under the account's concurrency quota)
    longer than the deployment's max_queued_seconds: the sweep cancels it and fails the
    workflow with Approval.NotStarted. The sweep judges as of its schedule's time, so it
    runs an hour and a minute later on the local AWS's clock (the record is left as the gate
    wrote it)."""
    gate = run.gate
    previous = gate.aws.api("/moto-api/sandbox/settings", method="GET")["sandbox"]
    gate.aws.api("/moto-api/sandbox/settings", {"sandbox": {"max_concurrent_executions": 0}})
    try:
        execution_arn = run.start("least privilege: queued past the quota")
        record = run.wait(
            lambda: (r := run.record_of(execution_arn)) and r.get("automation_execution_id") and r,
            f"the approval of {execution_arn} did not record its automation",
        )
        automation = record["automation_execution_id"]
        run.check(
            run.automation_status(automation) == "Pending",
            f"the automation {automation} should be queued (Pending) past the quota",
        )
        gate.sweep(not_before=int(record["requested_epoch"]) + 3660, wait=False)
        execution = run.ended(execution_arn)
    finally:
        gate.aws.api(
            "/moto-api/sandbox/settings",
            {"sandbox": {"max_concurrent_executions": previous["max_concurrent_executions"]}},
        )
    run.check(
        (execution["status"], execution.get("error")) == ("FAILED", "Approval.NotStarted"),
        f"{execution_arn} ended {execution['status']} ({execution.get('error')}), not "
        "FAILED with Approval.NotStarted",
    )
    run.check(
        run.automation_status(automation) == "Cancelled",
        f"the queued automation {automation} was not cancelled",
    )
    run.logged(gate.outputs["sweep_function_name"], record["approval_id"])


def a_reminder(run: Run) -> None:
    """An approval that asks to be reminded after a minute, the shortest interval allowed:
    the sweep, run a minute later on the local AWS's clock, publishes the reminder to the
    approvers' topic (the record is left as the gate wrote it)."""
    gate = run.gate
    execution_arn = gate.start(
        {
            "message": "least privilege: remind the approvers",
            "approvers": [gate.principal_arn("alice")],
            "remind_after_seconds": 60,
            "max_reminders": 1,
        }
    )
    run.executions.append(execution_arn)
    automation = run.waiting_automation(execution_arn)
    run.notified(automation)
    record = run.record_of(execution_arn) or {}
    approval_id = record["approval_id"]
    subject = f"Reminder 1 of 1: approval {approval_id} waits"

    def reminded() -> bool:
        return any(json.loads(m["Body"]).get("Subject") == subject for m in gate.notifications())

    gate.sweep(not_before=int(record["requested_epoch"]) + 60, wait=False)
    run.wait(reminded, f"the approvers got no reminder of {approval_id}")
    run.logged(gate.outputs["sweep_function_name"], "Reminder sent")


SCENARIOS: dict[str, Callable[[Run], None]] = {
    "an approval": an_approval,
    "a two-stage approval": a_two_stage_approval,
    "a two-stage approval whose first event is lost": (
        a_two_stage_approval_whose_first_event_is_lost
    ),
    "a failed start delivered again": a_failed_start_delivered_again,
    "an expired approval": an_expired_approval,
    "the same start twice": the_same_start_twice,
    "a lost event and the sweep": a_lost_event_and_the_sweep,
    "an approval queued too long": an_approval_queued_too_long,
    "a reminder": a_reminder,
    "a stopped workflow": a_stopped_workflow,
    "a dead-lettered result and its redrive": a_dead_lettered_result_and_its_redrive,
    "a dead-lettered workflow end and its redrive": a_dead_lettered_workflow_end_and_its_redrive,
    "a retried start that SSM refuses": a_retried_start_that_ssm_refuses,
    "a workflow that ends while its approval starts": (
        a_workflow_that_ends_while_its_approval_starts
    ),
    "a retried next-stage start that SSM refuses": a_retried_next_stage_start_that_ssm_refuses,
    "a workflow that ends while its next stage starts": (
        a_workflow_that_ends_while_its_next_stage_starts
    ),
}
