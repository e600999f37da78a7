"""The approval lifecycle beyond the event path: a decision whose SSM event was lost is
delivered by the sweep, and the approvals of a workflow that ended are closed and their
automations cancelled. Real moto + sandbox SSM Automation and Step Functions throughout."""

from __future__ import annotations

import json
import threading

import pytest

import sandbox
from approval_core.launcher import AutomationLauncher
from approval_core.records import ApprovalRecords, CallbackAlreadyFinished, CallbackStatus
from receive_result.automation_supervisor import AutomationSupervisor
from receive_result.callbacks import WorkflowCallbacks
from receive_result.errors import MalformedEvent
from tests.support.aws_env import TABLE_NAME
from tests.support.eventbridge_events import scheduled_event, workflow_ended_event


def automation_status(gate, automation_id: str) -> str:
    return gate.ssm.get_automation_execution(AutomationExecutionId=automation_id)[
        "AutomationExecution"
    ]["AutomationExecutionStatus"]


def status_of(gate, approval_id: str) -> tuple[str, ...]:
    record = gate.record(approval_id)
    return tuple(record[name]["S"] for name in ("status",) if name in record) + tuple(
        record[name]["S"] for name in ("outcome", "callback", "closed_reason") if name in record
    )


# --- the sweep -----------------------------------------------------------------------------


def test_the_sweep_delivers_a_decision_whose_event_was_lost(
    gate, started, sweep_approvals_handler, receive_handler, context
):
    workflow, reply = started()
    gate.signal("alice", reply["automation_execution_id"], "Approve", comment="fine")
    lost = gate.result_events()  # SSM's event never reaches receive_result
    assert len(lost) == 1
    assert gate.execution(workflow.execution_arn, settle=0.2)["status"] == "RUNNING"

    report = sweep_approvals_handler(scheduled_event(), context)

    assert report == {
        "pending": 1,
        "finished": 1,
        "delivered": [reply["approval_id"]],
        "unchecked": 0,
        "queued": 0,
        "not_started": [],
    }
    execution = gate.execution(workflow.execution_arn)
    assert execution["status"] == "SUCCEEDED"
    approval = json.loads(execution["output"])["approval"]
    assert (approval["decision"], approval["decided_by"][0]["comment"]) == ("Approved", "fine")
    assert status_of(gate, reply["approval_id"]) == ("DECIDED", "Approved", "DELIVERED")

    # The event turns up late after all: nothing is delivered twice, and the next sweep
    # finds nothing left to do.
    assert receive_handler(lost[0], context)["callback"] == "DUPLICATE"
    assert sweep_approvals_handler(scheduled_event(), context)["pending"] == 0
    history = gate.sfn.get_execution_history(executionArn=workflow.execution_arn)["events"]
    assert [e["type"] for e in history].count("TaskSucceeded") == 1


def test_the_sweep_leaves_waiting_approvals_alone(gate, started, sweep_approvals_handler, context):
    workflow, reply = started()

    report = sweep_approvals_handler(scheduled_event(), context)

    assert (report["pending"], report["finished"], report["delivered"]) == (1, 0, [])
    assert status_of(gate, reply["approval_id"]) == ("PENDING",)
    assert automation_status(gate, reply["automation_execution_id"]) == "Waiting"
    assert gate.execution(workflow.execution_arn, settle=0.2)["status"] == "RUNNING"


def test_the_sweep_checks_pending_approvals_ten_at_a_time_and_delivers_each_once(
    gate, started, sweep_approvals_handler, context
):
    """25 pending, every third one decided without its event: 3 DescribeAutomationExecutions
    batches find exactly those, and each of them is delivered with its own decision."""
    approvals = [started(message=f"change {n}") for n in range(25)]
    decided = {}
    for n, (workflow, reply) in enumerate(approvals):
        if n % 3 == 0:
            signal = "Approve" if n % 2 == 0 else "Reject"
            gate.signal("alice", reply["automation_execution_id"], signal)
            decided[reply["approval_id"]] = (
                workflow,
                "Approved" if signal == "Approve" else "Rejected",
            )
    gate.result_events()

    report = sweep_approvals_handler(scheduled_event(), context)

    assert (report["pending"], report["finished"]) == (25, len(decided))
    assert sorted(report["delivered"]) == sorted(decided)
    for approval_id, (workflow, outcome) in decided.items():
        output = json.loads(gate.execution(workflow.execution_arn)["output"])
        assert output["approval"]["decision"] == outcome
        assert status_of(gate, approval_id) == ("DECIDED", outcome, "DELIVERED")
    waiting = [
        reply["approval_id"] for _, reply in approvals if reply["approval_id"] not in decided
    ]
    assert {status_of(gate, approval_id) for approval_id in waiting} == {("PENDING",)}


def test_a_sweep_short_of_time_stops_and_the_next_one_finishes(
    gate, started, sweep_approvals_handler, context, monkeypatch
):
    first, second = started(message="one"), started(message="two")
    for _, reply in (first, second):
        gate.signal("alice", reply["automation_execution_id"], "Approve")
    gate.result_events()
    remaining = iter([60_000, 1_000])  # time for one delivery, then too little
    monkeypatch.setattr(context, "get_remaining_time_in_millis", lambda: next(remaining, 1_000))

    report = sweep_approvals_handler(scheduled_event(), context)
    assert (len(report["delivered"]), report["unchecked"]) == (1, 1)

    monkeypatch.setattr(context, "get_remaining_time_in_millis", lambda: 60_000)
    report = sweep_approvals_handler(scheduled_event(), context)
    assert (report["pending"], len(report["delivered"])) == (1, 1)
    for workflow, _ in (first, second):
        assert gate.execution(workflow.execution_arn)["status"] == "SUCCEEDED"


def test_a_sweep_throttled_by_ssm_fails_loudly_and_loses_nothing(
    gate, started, sweep_approvals_handler, context
):
    workflow, reply = started()
    gate.signal("alice", reply["automation_execution_id"], "Approve")
    gate.result_events()
    sandbox.faults.inject("ssm", "DescribeAutomationExecutions", "ThrottlingException", times=3)

    with pytest.raises(Exception, match="ThrottlingException"):
        sweep_approvals_handler(scheduled_event(), context)
    assert status_of(gate, reply["approval_id"]) == ("PENDING",)

    report = sweep_approvals_handler(scheduled_event(), context)
    assert report["delivered"] == [reply["approval_id"]]
    assert gate.execution(workflow.execution_arn)["status"] == "SUCCEEDED"


# --- a workflow that ends while its approval waits -------------------------------------------


@pytest.mark.parametrize("status", ["ABORTED", "TIMED_OUT", "FAILED", "SUCCEEDED"])
def test_a_workflow_that_ends_closes_its_approval_and_cancels_the_automation(
    gate, started, close_approvals_handler, receive_handler, context, status
):
    workflow, reply = started()
    gate.sfn.stop_execution(executionArn=workflow.execution_arn, error="Operator.Stopped")

    result = close_approvals_handler(
        workflow_ended_event(gate, workflow.execution_arn, status), context
    )

    assert result == {
        "execution_arn": workflow.execution_arn,
        "status": status,
        "closed": [reply["approval_id"]],
        "cancelled_automations": [reply["automation_execution_id"]],
    }
    assert status_of(gate, reply["approval_id"]) == ("CLOSED", status)
    assert automation_status(gate, reply["automation_execution_id"]) == "Cancelled"
    # The approvers can no longer approve it.
    with pytest.raises(Exception, match=r"InvalidAutomationSignal|not waiting|Cancelled"):
        gate.signal("alice", reply["automation_execution_id"], "Approve")

    # SSM's Cancelled event reaches receive_result: the record stays closed, nobody is
    # called back.
    deliveries = [receive_handler(event, context) for event in gate.result_events()]
    assert [d["callback"] for d in deliveries] == ["CLOSED"]
    assert status_of(gate, reply["approval_id"]) == ("CLOSED", status)


def test_closing_twice_cancels_once_and_a_decided_approval_is_left_alone(
    gate, started, close_approvals_handler, receive_handler, context
):
    (waiting, waiting_reply), (decided, decided_reply) = started(), started()
    gate.signal("alice", decided_reply["automation_execution_id"], "Approve")
    for event in gate.result_events():
        receive_handler(event, context)

    ended = workflow_ended_event(gate, waiting.execution_arn, "ABORTED")
    assert close_approvals_handler(ended, context)["cancelled_automations"] == [
        waiting_reply["automation_execution_id"]
    ]
    again = close_approvals_handler(ended, context)
    assert (again["closed"], again["cancelled_automations"]) == ([], [])

    other = close_approvals_handler(
        workflow_ended_event(gate, decided.execution_arn, "SUCCEEDED"), context
    )
    assert (other["closed"], other["cancelled_automations"]) == ([], [])
    assert status_of(gate, decided_reply["approval_id"]) == ("DECIDED", "Approved", "DELIVERED")


def test_a_throttled_cancel_is_retried_until_the_automation_is_cancelled(
    gate, started, close_approvals_handler, context
):
    workflow, reply = started()
    ended = workflow_ended_event(gate, workflow.execution_arn, "ABORTED")
    sandbox.faults.inject("ssm", "StopAutomationExecution", "ThrottlingException", times=3)

    with pytest.raises(Exception, match="ThrottlingException"):
        close_approvals_handler(ended, context)
    # Closed already, so no decision can reach the ended workflow; the automation still waits.
    assert status_of(gate, reply["approval_id"]) == ("CLOSED", "ABORTED")
    assert automation_status(gate, reply["automation_execution_id"]) == "Waiting"

    retried = close_approvals_handler(ended, context)  # Lambda's async retry
    assert retried["cancelled_automations"] == [reply["automation_execution_id"]]
    assert automation_status(gate, reply["automation_execution_id"]) == "Cancelled"


def test_a_workflow_that_ends_while_its_approval_starts_gets_no_automation_left_behind(
    gate, start_handler, close_approvals_handler, context, monkeypatch
):
    """The end event is handled after the record exists and before the automation's id is
    stored: the close finds nothing to cancel, so start_approval cancels what it started."""
    workflow = gate.start_workflow({"message": "Ship it?", "approvers": [gate.principal("alice")]})
    original_start = AutomationLauncher.start

    def start_while_the_workflow_ends(self, approval_id, request):
        closed = close_approvals_handler(
            workflow_ended_event(gate, workflow.execution_arn, "ABORTED"), context
        )
        assert closed["closed"] == [approval_id]
        assert closed["cancelled_automations"] == []
        return original_start(self, approval_id, request)

    monkeypatch.setattr(AutomationLauncher, "start", start_while_the_workflow_ends)
    reply = start_handler(workflow.payload, context)

    assert automation_status(gate, reply["automation_execution_id"]) == "Cancelled"
    assert status_of(gate, reply["approval_id"]) == ("CLOSED", "ABORTED")


def test_an_execution_that_has_not_ended_closes_nothing(
    gate, started, close_approvals_handler, context
):
    workflow, reply = started()
    result = close_approvals_handler(
        workflow_ended_event(gate, workflow.execution_arn, "RUNNING"), context
    )
    assert result["closed"] == []
    assert status_of(gate, reply["approval_id"]) == ("PENDING",)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"source": "aws.ssm"}, "expected 'aws.states'"),
        ({"detail": None}, "detail is missing"),
        ({"detail": {"status": "ABORTED"}}, "detail.executionArn"),
    ],
)
def test_a_malformed_workflow_event_is_refused_by_name(
    gate, close_approvals_handler, context, change, problem
):
    event = workflow_ended_event(
        gate, "arn:aws:states:us-east-1:123456789012:execution:F:x", "ABORTED"
    )
    with pytest.raises(MalformedEvent, match=problem):
        close_approvals_handler(event | change, context)


@pytest.mark.parametrize("event_path_state", ["calling back", "finished"])
def test_a_sweep_during_the_events_own_delivery_skips_it_and_the_record_says_delivered(
    gate, started, sweep_approvals_handler, receive_handler, context, monkeypatch, event_path_state
):
    """The sweep lists the approval as pending; then receive_result claims it and, while it
    is calling back, the sweep tries to deliver: receive_result holds the callback's lease,
    so the sweep steps aside instead of resuming a delivery that is still under way (found
    by bench/burst.py)."""
    workflow, reply = started()
    gate.signal("alice", reply["automation_execution_id"], "Approve")
    (event,) = gate.result_events()
    calling_back, may_finish = threading.Event(), threading.Event()
    real_succeed, real_states_of = WorkflowCallbacks.succeed, AutomationSupervisor.states_of
    delivered = []

    def slow_succeed(self, task_token, output):
        calling_back.set()
        if event_path_state == "calling back":
            assert may_finish.wait(10)
        real_succeed(self, task_token, output)

    def finished_while_the_event_is_delivered(self, ids):
        finished = real_states_of(self, ids)
        event_path.start()
        assert calling_back.wait(10)  # claimed, calling back
        if event_path_state == "finished":
            event_path.join(10)  # the sweep then finds it delivered: not its delivery
        return finished

    monkeypatch.setattr(WorkflowCallbacks, "succeed", slow_succeed)
    monkeypatch.setattr(AutomationSupervisor, "states_of", finished_while_the_event_is_delivered)
    event_path = threading.Thread(
        target=lambda: delivered.append(receive_handler(event, type(context)()))
    )

    report = sweep_approvals_handler(scheduled_event(), context)
    may_finish.set()
    event_path.join(10)

    assert (report["finished"], report["delivered"]) == (1, [])
    assert [d["callback"] for d in delivered] == ["DELIVERED"]
    assert status_of(gate, reply["approval_id"]) == ("DECIDED", "Approved", "DELIVERED")
    gate.execution(workflow.execution_arn)  # moto records the callback on its own thread
    history = gate.sfn.get_execution_history(executionArn=workflow.execution_arn)["events"]
    assert [e["type"] for e in history].count("TaskSucceeded") == 1


def test_a_finished_callback_is_never_overwritten(gate, started):
    """Defence in depth below the lease: the callback's result is recorded once, by
    whichever attempt finishes first."""
    _, reply = started()
    records = ApprovalRecords(gate.dynamodb, TABLE_NAME)
    records.claim_decision(reply["approval_id"], "Approved", "2026-11-28T10:00:00+00:00")
    records.finish_callback(reply["approval_id"], CallbackStatus.DELIVERED, "2026-11-28T10:00:01")

    with pytest.raises(CallbackAlreadyFinished) as raised:
        records.finish_callback(
            reply["approval_id"], CallbackStatus.REFUSED, "2026-11-28T10:00:02", "TaskTimedOut"
        )
    assert raised.value.record.callback is CallbackStatus.DELIVERED
    assert status_of(gate, reply["approval_id"]) == ("DECIDED", "Approved", "DELIVERED")


def test_a_sweep_that_stops_mid_delivery_is_finished_by_the_next_one(
    gate, started, sweep_approvals_handler, context, monkeypatch
):
    """The sweep claims a decision whose event was lost, then its invocation dies before
    the callback: the record stays listed, and the next sweep resumes the delivery."""
    workflow, reply = started()
    gate.signal("alice", reply["automation_execution_id"], "Approve")
    gate.result_events()  # lost
    real_succeed = WorkflowCallbacks.succeed

    def crash(self, task_token, output):
        raise RuntimeError("the sandbox killed the invocation")

    monkeypatch.setattr(WorkflowCallbacks, "succeed", crash)
    with pytest.raises(RuntimeError):
        sweep_approvals_handler(scheduled_event(), context)
    assert status_of(gate, reply["approval_id"]) == ("DECIDED", "Approved", "SENDING")

    monkeypatch.setattr(WorkflowCallbacks, "succeed", real_succeed)
    report = sweep_approvals_handler(scheduled_event(), context)

    assert (report["pending"], report["delivered"]) == (1, [reply["approval_id"]])
    assert status_of(gate, reply["approval_id"]) == ("DECIDED", "Approved", "DELIVERED")
    assert gate.execution(workflow.execution_arn)["status"] == "SUCCEEDED"
    assert sweep_approvals_handler(scheduled_event(), context)["pending"] == 0
