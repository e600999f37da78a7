"""receive_result where AWS is only eventually right: events ahead of SSM's reads
(docs/aws-behaviour.md#undocumented-read-after-event), stale global secondary indexes
(docs/aws-behaviour.md#dynamodb-gsi-eventual-consistency), and automations SSM keeps queued
past the concurrency quota (docs/aws-behaviour.md#ssm-automation-concurrency-queue). Moto +
the sandbox throughout; the stale indexes are also stubbed, so each case is exact."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

import sandbox
from approval_core.clock import utc_now
from approval_core.records import ApprovalRecords, PendingApproval
from receive_result.automation_supervisor import AutomationSupervisor
from receive_result.errors import StepNotTerminalYet
from receive_result.logic.sweep_approvals import SweepApprovals
from tests.support.eventbridge_events import workflow_ended_event


def automation_status(gate, automation_id: str) -> str:
    return gate.ssm.get_automation_execution(AutomationExecutionId=automation_id)[
        "AutomationExecution"
    ]["AutomationExecutionStatus"]


def callbacks_of(gate, execution_arn: str) -> list[str]:
    gate.execution(execution_arn)  # moto records the callback on its own thread
    history = gate.sfn.get_execution_history(executionArn=execution_arn)["events"]
    return [e["type"] for e in history if e["type"] in ("TaskSucceeded", "TaskFailed")]


def task_failure(gate, execution_arn: str) -> dict:
    gate.execution(execution_arn)
    history = gate.sfn.get_execution_history(executionArn=execution_arn)["events"]
    return next(e for e in history if e["type"] == "TaskFailed")["taskFailedEventDetails"]


def record_state(gate, approval_id: str) -> tuple[str, ...]:
    record = gate.record(approval_id)
    return tuple(record[n]["S"] for n in ("status", "outcome", "callback") if n in record)


def emitted_metrics(output: str) -> dict[str, list[float]]:
    """Metric name -> values, from the EMF lines the functions printed."""
    found: dict[str, list[float]] = {}
    for line in output.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                found.setdefault(metric["Name"], []).extend(
                    value if isinstance(value, list) else [value]
                )
    return found


@pytest.fixture
def app():
    """sweep_approvals' own parts (rebuilt, so environment changes apply), rebuilt again after."""
    from receive_result.handlers import sweep_approvals as handler

    handler._app.cache_clear()
    yield handler._app
    handler._app.cache_clear()


def sweep_at(app, seconds_later: float, max_queued_seconds: int) -> SweepApprovals:
    """The deployed sweep, its clock moved on (the services keep real time)."""
    parts = app().delivery
    return SweepApprovals(
        parts.records,
        parts.automation,
        parts.receiver,
        max_queued_seconds=max_queued_seconds,
        clock=lambda: utc_now() + timedelta(seconds=seconds_later),
    )


# --- an event ahead of SSM's reads ---------------------------------------------------------


def test_an_event_ahead_of_ssm_is_delivered_after_a_few_rereads(
    gate, started, receive_handler, context, monkeypatch
):
    monkeypatch.setattr("receive_result.logic.receive_result.REREAD_DELAYS_SECONDS", (0.0, 0.0))
    sandbox.settings.status_read_lag_reads = 2
    workflow, reply = started()
    gate.signal("alice", reply["automation_execution_id"], "Approve")
    [event] = gate.result_events()

    assert receive_handler(event, context)["callback"] == "DELIVERED"
    assert callbacks_of(gate, workflow.execution_arn) == ["TaskSucceeded"]


def test_an_event_still_ahead_of_ssm_raises_the_retryable_error_counted_and_a_retry_delivers(
    gate, started, receive_handler, context, monkeypatch, capsys
):
    """Lambda retries the asynchronous invocation that raised; the event is never dropped."""
    monkeypatch.setattr("receive_result.logic.receive_result.REREAD_DELAYS_SECONDS", ())
    sandbox.settings.status_read_lag_reads = 2
    workflow, reply = started()
    gate.signal("alice", reply["automation_execution_id"], "Reject")
    [event] = gate.result_events()
    capsys.readouterr()

    for _ in range(2):  # each attempt reads once, and SSM shows the old status twice
        with pytest.raises(StepNotTerminalYet, match="still shows it Waiting"):
            receive_handler(event, context)
    assert emitted_metrics(capsys.readouterr().out)["ResultEventsNotYetReadable"] == [1.0, 1.0]
    assert record_state(gate, reply["approval_id"]) == ("PENDING",)
    assert gate.execution(workflow.execution_arn, settle=0)["status"] == "RUNNING"

    assert receive_handler(event, context)["callback"] == "DELIVERED"  # Lambda's retry
    output = json.loads(gate.execution(workflow.execution_arn)["output"])["approval"]
    assert output["decision"] == "Rejected"


def test_an_event_that_does_not_say_the_step_ended_is_ignored_not_retried(
    gate, started, receive_handler, context
):
    _, reply = started()
    event = {
        "source": "aws.ssm",
        "detail-type": "EC2 Automation Step Status-change Notification",
        "detail": {
            "ExecutionId": reply["automation_execution_id"],
            "Definition": "ApprovalGate-Approval",
            "StepName": "Approve",
            "Action": "aws:approve",
            "Status": "Waiting",
        },
    }
    assert receive_handler(event, context)["status"] == "IGNORED"


# --- stale indexes ---------------------------------------------------------------------------


def test_a_stale_pending_index_entry_of_a_delivered_decision_costs_no_ssm_read_and_no_callback(
    gate, started, receive_handler, sweep_approvals_handler, context, monkeypatch
):
    """The index still lists an approval whose callback was delivered (the idempotency
    record gone as well): the sweep re-reads the record and leaves it alone."""
    workflow, reply = started()
    stale = list(ApprovalRecords(gate.dynamodb, "approval-gate-records").pending())
    gate.signal("alice", reply["automation_execution_id"], "Approve")
    for event in gate.result_events():
        receive_handler(event, context)
    for item in gate.table_items():
        if not item["pk"]["S"].startswith("approval#"):
            gate.dynamodb.delete_item(TableName="approval-gate-records", Key={"pk": item["pk"]})
    monkeypatch.setattr(ApprovalRecords, "pending", lambda self: iter(stale))
    reads = []
    real_read = AutomationSupervisor.read
    monkeypatch.setattr(
        AutomationSupervisor, "read", lambda self, i: reads.append(i) or real_read(self, i)
    )

    report = sweep_approvals_handler({}, context)

    assert (report["pending"], report["finished"], report["delivered"]) == (1, 1, [])
    assert reads == []
    assert callbacks_of(gate, workflow.execution_arn) == ["TaskSucceeded"]


def test_an_approval_the_index_does_not_show_yet_is_delivered_by_the_next_sweep_once(
    gate, started, sweep_approvals_handler, context, monkeypatch
):
    workflow, reply = started()
    gate.signal("alice", reply["automation_execution_id"], "Approve")
    gate.result_events()  # the event is lost
    real_pending = ApprovalRecords.pending
    monkeypatch.setattr(ApprovalRecords, "pending", lambda self: iter(()))  # not visible yet

    assert sweep_approvals_handler({}, context)["pending"] == 0
    assert gate.execution(workflow.execution_arn, settle=0)["status"] == "RUNNING"

    monkeypatch.setattr(ApprovalRecords, "pending", real_pending)
    assert sweep_approvals_handler({}, context)["delivered"] == [reply["approval_id"]]
    assert sweep_approvals_handler({}, context)["delivered"] == []
    assert callbacks_of(gate, workflow.execution_arn) == ["TaskSucceeded"]


def test_a_stale_index_image_without_the_automation_id_is_skipped_until_the_index_catches_up(
    gate, started, sweep_approvals_handler, context, monkeypatch
):
    workflow, reply = started()
    gate.signal("alice", reply["automation_execution_id"], "Approve")
    gate.result_events()
    [entry] = ApprovalRecords(gate.dynamodb, "approval-gate-records").pending()
    monkeypatch.setattr(
        ApprovalRecords,
        "pending",
        lambda self: iter([entry._replace(automation_execution_id=None)]),
    )
    assert sweep_approvals_handler({}, context)["finished"] == 0
    monkeypatch.undo()
    assert sweep_approvals_handler({}, context)["delivered"] == [reply["approval_id"]]
    assert callbacks_of(gate, workflow.execution_arn) == ["TaskSucceeded"]


def test_closing_from_a_stale_execution_index_never_closes_a_decided_approval(
    gate, started, receive_handler, close_approvals_handler, context, monkeypatch
):
    """by_execution shows the approval PENDING, but it was decided and delivered: the
    conditional close finds it DECIDED, closes nothing and cancels nothing."""
    workflow, reply = started()
    records = ApprovalRecords(gate.dynamodb, "approval-gate-records")
    stale = records.of_execution(workflow.execution_arn)
    gate.signal("alice", reply["automation_execution_id"], "Approve")
    for event in gate.result_events():
        receive_handler(event, context)
    monkeypatch.setattr(ApprovalRecords, "of_execution", lambda self, arn: stale)

    result = close_approvals_handler(
        workflow_ended_event(gate, workflow.execution_arn, "SUCCEEDED"), context
    )

    assert (result["closed"], result["cancelled_automations"]) == ([], [])
    assert record_state(gate, reply["approval_id"]) == ("DECIDED", "Approved", "DELIVERED")
    assert callbacks_of(gate, workflow.execution_arn) == ["TaskSucceeded"]


def test_closing_from_an_index_image_without_the_automation_id_still_cancels_it(
    gate, started, close_approvals_handler, context, monkeypatch
):
    """The close returns the record as the table has it, so the automation id stored after
    the index image is cancelled."""
    workflow, reply = started()
    records = ApprovalRecords(gate.dynamodb, "approval-gate-records")
    [record] = records.of_execution(workflow.execution_arn)
    monkeypatch.setattr(
        ApprovalRecords,
        "of_execution",
        lambda self, arn: [record._replace(automation_execution_id=None)],
    )

    result = close_approvals_handler(
        workflow_ended_event(gate, workflow.execution_arn, "ABORTED"), context
    )

    assert result["cancelled_automations"] == [reply["automation_execution_id"]]
    assert automation_status(gate, reply["automation_execution_id"]) == "Cancelled"


def test_with_the_local_aws_index_lag_a_sweep_right_after_a_delivery_calls_nobody_twice(
    gate, started, receive_handler, sweep_approvals_handler, context
):
    """The sandbox's own lagging index (gsi_lag_seconds), not a stub: right after the event
    path delivered, the pending index still lists the approval as it was."""
    consistency = pytest.importorskip("sandbox.dynamodb.consistency")
    consistency.install()
    sandbox.settings.gsi_lag_seconds = 2
    workflow, reply = started()
    time.sleep(2.1)  # the index shows the PENDING record from here on
    gate.signal("alice", reply["automation_execution_id"], "Approve")
    for event in gate.result_events():
        receive_handler(event, context)

    report = sweep_approvals_handler({}, context)

    assert (report["pending"], report["finished"], report["delivered"]) == (1, 1, [])
    assert callbacks_of(gate, workflow.execution_arn) == ["TaskSucceeded"]
    assert record_state(gate, reply["approval_id"]) == ("DECIDED", "Approved", "DELIVERED")


# --- automations SSM keeps queued --------------------------------------------------------------


def test_the_sweep_counts_queued_approvals_and_leaves_them_while_young(
    gate, started, sweep_approvals_handler, context, capsys
):
    sandbox.settings.max_concurrent_executions = 1
    started()
    queued_workflow, queued = started()
    assert automation_status(gate, queued["automation_execution_id"]) == "Pending"
    capsys.readouterr()

    report = sweep_approvals_handler({}, context)

    assert (report["pending"], report["queued"], report["not_started"]) == (2, 1, [])
    assert emitted_metrics(capsys.readouterr().out)["ApprovalsQueued"] == [1.0]
    assert automation_status(gate, queued["automation_execution_id"]) == "Pending"
    assert record_state(gate, queued["approval_id"]) == ("PENDING",)
    assert gate.execution(queued_workflow.execution_arn, settle=0)["status"] == "RUNNING"


def test_an_approval_queued_too_long_is_cancelled_and_its_workflow_told_once(
    gate, started, receive_handler, context, app, monkeypatch
):
    sandbox.settings.max_concurrent_executions = 1
    (running_workflow, running), (workflow, queued) = started(), started()
    stale = list(ApprovalRecords(gate.dynamodb, "approval-gate-records").pending())

    report = sweep_at(app, 601, max_queued_seconds=600).run()

    assert (report.queued, report.not_started) == (1, (queued["approval_id"],))
    assert automation_status(gate, queued["automation_execution_id"]) == "Cancelled"
    assert automation_status(gate, running["automation_execution_id"]) == "Waiting"
    failure = task_failure(gate, workflow.execution_arn)
    assert failure["error"] == "Approval.NotStarted"
    for words in ("queued", "MAX_QUEUED_SECONDS = 600", "concurrent-automation quota", "raise"):
        assert words in failure["cause"]
    assert record_state(gate, queued["approval_id"]) == ("DECIDED", "NotStarted", "DELIVERED")

    # Again, from a stale index that still lists it, and with every event SSM sent: the
    # workflow was told once.
    monkeypatch.setattr(ApprovalRecords, "pending", lambda self: iter(stale))
    again = sweep_at(app, 1200, max_queued_seconds=600).run()
    assert again.not_started == ()
    for event in gate.result_events():
        receive_handler(event, context)
    assert callbacks_of(gate, workflow.execution_arn) == ["TaskFailed"]
    assert gate.execution(running_workflow.execution_arn, settle=0)["status"] == "RUNNING"


def test_max_queued_seconds_zero_never_gives_up(gate, started, app):
    sandbox.settings.max_concurrent_executions = 1
    started()
    _, queued = started()

    report = sweep_at(app, 10 * 86400, max_queued_seconds=0).run()

    assert (report.queued, report.not_started) == (1, ())
    assert automation_status(gate, queued["automation_execution_id"]) == "Pending"


def test_the_deployed_sweep_reads_max_queued_seconds_from_its_environment(
    gate, started, sweep_approvals_handler, context, app, monkeypatch
):
    monkeypatch.setenv("MAX_QUEUED_SECONDS", "1")
    sandbox.settings.max_concurrent_executions = 1
    started()
    workflow, queued = started()
    time.sleep(2.1)  # the services keep real time (not the sandbox clock): wait past it

    assert sweep_approvals_handler({}, context)["not_started"] == [queued["approval_id"]]
    assert task_failure(gate, workflow.execution_arn)["error"] == "Approval.NotStarted"


def test_a_queued_automation_that_started_meanwhile_is_not_given_up(gate, started, app):
    """Listed as queued, then a slot frees before the sweep acts: the sweep's cancel finds it
    running and cancels it (the race is short), or finds it ended and tells nobody."""
    sandbox.settings.max_concurrent_executions = 1
    _, running = started()
    _, queued = started()
    gate.signal("alice", running["automation_execution_id"], "Approve")
    gate.signal("alice", queued["automation_execution_id"], "Approve")  # it started, decided
    entry = PendingApproval(queued["approval_id"], 0, queued["automation_execution_id"])
    sweep = sweep_at(app, 7200, max_queued_seconds=600)

    assert sweep._give_up_queued(entry, utc_now()) is False  # the automation has ended
    assert record_state(gate, queued["approval_id"]) == ("PENDING",)
