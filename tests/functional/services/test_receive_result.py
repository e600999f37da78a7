"""receive_result against moto + the sandbox's SSM Automation: a real waiting execution is
answered once, with the decision read from SSM."""

from __future__ import annotations

import json

import boto3
import pytest

import sandbox
from approval_core.automations import NON_TERMINAL_STATUSES
from approval_core.records import ApprovalRecord
from receive_result.errors import MalformedEvent, StepNotTerminalYet, UnexpectedEvent


def deliver_all(gate, receive_handler, context) -> list[dict]:
    return [receive_handler(event, context) for event in gate.result_events()]


def test_an_approval_resumes_the_workflow_with_the_decision_and_comment(
    gate, started, receive_handler, context
):
    workflow, reply = started()
    gate.signal("alice", reply["automation_execution_id"], "Approve", comment="looks good")

    results = deliver_all(gate, receive_handler, context)
    assert [r["callback"] for r in results] == ["DELIVERED"]

    execution = gate.execution(workflow.execution_arn)
    assert execution["status"] == "SUCCEEDED"
    approval = json.loads(execution["output"])["approval"]
    assert approval["decision"] == "Approved"
    assert approval["is_approved"] is True
    assert approval["approval_id"] == reply["approval_id"]
    assert approval["automation_execution_id"] == reply["automation_execution_id"]
    assert approval["decided_by"] == [
        {
            "approver": gate.principal("alice"),
            "decision": "Approve",
            "comment": "looks good",
            "decided_at": approval["decided_by"][0]["decided_at"],
        }
    ]
    record = gate.record(reply["approval_id"])
    assert (record["status"]["S"], record["outcome"]["S"], record["callback"]["S"]) == (
        "DECIDED",
        "Approved",
        "DELIVERED",
    )
    # The audit trail in the record: the request as asked, who decided, which path claimed it.
    stored = ApprovalRecord.from_item(record)
    assert (stored.message, stored.approvers, stored.min_required_approvals) == (
        "Ship it?",
        [gate.principal("alice")],
        1,
    )
    assert stored.decided_by == approval["decided_by"]
    assert stored.delivered_by == "receive_result"


@pytest.mark.parametrize("rejection_status", ["Failed", "Success"])
def test_a_rejection_resumes_the_workflow_as_rejected_whatever_status_ssm_gives(
    gate, started, receive_handler, context, rejection_status
):
    sandbox.settings.rejection_status = rejection_status
    workflow, reply = started()
    gate.signal("alice", reply["automation_execution_id"], "Reject", comment="not today")

    deliver_all(gate, receive_handler, context)
    approval = json.loads(gate.execution(workflow.execution_arn)["output"])["approval"]
    assert (approval["decision"], approval["is_approved"]) == ("Rejected", False)
    assert approval["decided_by"][0]["comment"] == "not today"


def test_two_of_three_approvers_make_a_quorum(gate, started, receive_handler, context):
    approvers = [gate.principal(name) for name in ("alice", "bob", "carol")]
    workflow, reply = started(approvers=approvers, min_required_approvals=2)

    gate.signal("alice", reply["automation_execution_id"], "Approve")
    assert deliver_all(gate, receive_handler, context) == []  # one approval is not enough
    assert gate.execution(workflow.execution_arn, settle=0)["status"] == "RUNNING"

    gate.signal("carol", reply["automation_execution_id"], "Approve", comment="ok")
    deliver_all(gate, receive_handler, context)
    approval = json.loads(gate.execution(workflow.execution_arn)["output"])["approval"]
    assert approval["is_approved"] is True
    assert {d["approver"] for d in approval["decided_by"]} == {approvers[0], approvers[2]}


def test_an_expired_approval_fails_the_task_with_approval_expired(
    gate, started, receive_handler, context
):
    workflow, _ = started()
    sandbox.clock.advance(3601)
    sandbox.expire_due()

    deliver_all(gate, receive_handler, context)
    execution = gate.execution(workflow.execution_arn)
    assert execution["status"] == "FAILED"
    history = gate.sfn.get_execution_history(executionArn=workflow.execution_arn)["events"]
    failure = next(e for e in history if e["type"] == "TaskFailed")["taskFailedEventDetails"]
    assert failure["error"] == "Approval.Expired"
    assert "timed out" in failure["cause"]


def test_a_stopped_automation_fails_the_task_with_approval_cancelled(
    gate, started, receive_handler, context
):
    workflow, reply = started()
    gate.ssm.stop_automation_execution(AutomationExecutionId=reply["automation_execution_id"])

    deliver_all(gate, receive_handler, context)
    assert gate.execution(workflow.execution_arn)["status"] == "FAILED"
    history = gate.sfn.get_execution_history(executionArn=workflow.execution_arn)["events"]
    failure = next(e for e in history if e["type"] == "TaskFailed")["taskFailedEventDetails"]
    assert failure["error"] == "Approval.Cancelled"
    assert "stopped" in failure["cause"]


def test_a_duplicated_event_gives_one_callback(gate, started, receive_handler, context):
    workflow, reply = started()
    gate.signal("alice", reply["automation_execution_id"], "Approve")
    [event] = gate.result_events()

    first = receive_handler(event, context)
    again = receive_handler(event, context)
    assert first["callback"] == "DELIVERED"
    assert again == {**first, "callback": "DUPLICATE"}  # the record says it was delivered
    # moto records the callback on the execution's own thread: wait for it to end first.
    assert gate.execution(workflow.execution_arn)["status"] == "SUCCEEDED"
    history = gate.sfn.get_execution_history(executionArn=workflow.execution_arn)["events"]
    assert [e["type"] for e in history].count("TaskSucceeded") == 1


def test_a_delivery_keeps_nothing_but_the_approval_record(gate, started, receive_handler, context):
    """Exactly once by the record's conditional writes alone: no other item is written (no
    idempotency store), and the delivery's lease is gone once the callback is recorded."""
    _, reply = started()
    gate.signal("alice", reply["automation_execution_id"], "Approve")
    [event] = gate.result_events()
    receive_handler(event, context)

    [item] = gate.table_items()
    assert item["pk"]["S"] == f"approval#{reply['approval_id']}"
    assert (item["callback"]["S"], "delivery_lease_until" in item) == ("DELIVERED", False)
    assert receive_handler(event, context)["callback"] == "DUPLICATE"


def test_a_callback_refused_because_the_workflow_is_gone_is_recorded_not_retried(
    gate, started, receive_handler, context
):
    workflow, reply = started()
    # The workflow's task is answered elsewhere: its token is closed.
    gate.sfn.send_task_success(taskToken=workflow.payload["task_token"], output="{}")
    assert gate.execution(workflow.execution_arn)["status"] == "SUCCEEDED"  # gone, not waiting
    gate.signal("alice", reply["automation_execution_id"], "Approve")

    [result] = deliver_all(gate, receive_handler, context)
    assert result["callback"] == "REFUSED"
    record = gate.record(reply["approval_id"])
    assert record["callback"]["S"] == "REFUSED"
    assert record["callback_error"]["S"] in {"InvalidToken", "TaskTimedOut", "TaskDoesNotExist"}


def test_a_transient_callback_error_raises_and_the_retry_delivers_once(
    gate, started, receive_handler, context
):
    workflow, reply = started()
    gate.signal("alice", reply["automation_execution_id"], "Approve")
    [event] = gate.result_events()

    sandbox.faults.inject(
        "stepfunctions", "SendTaskSuccess", "ServiceUnavailable", status=503, times=3
    )
    with pytest.raises(Exception, match="ServiceUnavailable"):
        receive_handler(event, context)
    assert gate.record(reply["approval_id"])["callback"]["S"] == "SENDING"

    assert receive_handler(event, context)["callback"] == "DELIVERED"
    assert gate.execution(workflow.execution_arn)["status"] == "SUCCEEDED"


def test_a_forged_event_does_not_resume_the_workflow_and_is_retried_not_dropped(
    gate, started, receive_handler, context, monkeypatch, caplog
):
    """An event that says the step ended while SSM shows it waiting (forged, or ahead of
    SSM's reads) raises the named retryable error: Lambda retries it, then the dead-letter
    queue keeps it, and the operator sees it."""
    monkeypatch.setattr("receive_result.logic.receive_result.REREAD_DELAYS_SECONDS", (0.0, 0.0))
    workflow, reply = started()
    forged = {
        "id": "forged-1",
        "source": "aws.ssm",
        "detail-type": "EC2 Automation Step Status-change Notification",
        "detail": {
            "ExecutionId": reply["automation_execution_id"],
            "Definition": "ApprovalGate-Approval",
            "StepName": "Approve",
            "Action": "aws:approve",
            "Status": "Success",
        },
    }
    with pytest.raises(StepNotTerminalYet, match="SSM still shows it Waiting after 3 reads"):
        receive_handler(forged, context)
    assert any(
        "does not show the approval step ended yet" in record.getMessage()
        and record.step_status == "Waiting"
        for record in caplog.records
    )
    assert gate.execution(workflow.execution_arn, settle=0)["status"] == "RUNNING"
    assert gate.record(reply["approval_id"])["status"]["S"] == "PENDING"

    # The real decision still goes through afterwards.
    gate.signal("alice", reply["automation_execution_id"], "Reject")
    deliver_all(gate, receive_handler, context)
    assert json.loads(gate.execution(workflow.execution_arn)["output"])["approval"]["decision"] == (
        "Rejected"
    )


def test_an_automation_not_started_by_the_gate_is_ignored(gate, receive_handler, context):
    event = {
        "source": "aws.ssm",
        "detail-type": "EC2 Automation Step Status-change Notification",
        "detail": {
            "ExecutionId": "00000000-0000-0000-0000-000000000000",
            "Definition": "ApprovalGate-Approval",
            "StepName": "Approve",
            "Action": "aws:approve",
            "Status": "Success",
        },
    }
    assert receive_handler(event, context)["status"] == "IGNORED"


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ([], "not a JSON object"),
        ({"source": "aws.ec2", "detail-type": "x"}, "source 'aws.ec2'"),
        (
            {"source": "aws.ssm", "detail-type": "EC2 Automation Step Status-change Notification"},
            "detail is missing",
        ),
        (
            {
                "source": "aws.ssm",
                "detail-type": "EC2 Automation Step Status-change Notification",
                "detail": {"Definition": "ApprovalGate-Approval", "Status": "Success"},
            },
            "detail.ExecutionId",
        ),
    ],
)
def test_a_malformed_event_raises_and_logs_what_was_wrong(
    gate, receive_handler, context, caplog, event, problem
):
    with pytest.raises(MalformedEvent, match=problem):
        receive_handler(event, context)
    assert any(
        record.getMessage() == "Malformed event" and problem in record.problem
        for record in caplog.records
    )


def test_an_event_of_another_document_is_refused(gate, receive_handler, context):
    event = {
        "source": "aws.ssm",
        "detail-type": "EC2 Automation Step Status-change Notification",
        "detail": {
            "ExecutionId": "abc",
            "Definition": "SomeoneElsesDocument",
            "StepName": "Approve",
            "Action": "aws:approve",
            "Status": "Success",
        },
    }
    with pytest.raises(UnexpectedEvent, match="fix the EventBridge rule"):
        receive_handler(event, context)


# --- the undocumented SSM behaviours, as the local AWS plays them ---------------------------

NON_TERMINAL = sorted(NON_TERMINAL_STATUSES)
# Every value of every decision-related setting in at least one profile (the full product
# is tests/unit/services/test_decision_variants.py, against a model of SSM; these run
# the sandbox's).
PROFILES = {
    "defaults": {},
    "success-approved-dropped-past-array-unreachable-lag": {
        "rejection_status": "Success",
        "approval_status": "Approved",
        "failed_step_outputs": "dropped",
        "decision_values": "past",
        "decisions_serialization": "json_array",
        "reject_under_quorum": "rejects_when_quorum_unreachable",
        "status_read_lag_reads": 2,
    },
    "rejected-completed-dropped-verb-array": {
        "rejection_status": "Rejected",
        "approval_status": "CompletedWithSuccess",
        "failed_step_outputs": "dropped",
        "decisions_serialization": "json_array",
    },
    "completedwithfailure-kept-past-unreachable": {
        "rejection_status": "CompletedWithFailure",
        "decision_values": "past",
        "reject_under_quorum": "rejects_when_quorum_unreachable",
    },
    "failed-dropped-past": {
        "rejection_status": "Failed",
        "approval_status": "Approved",
        "failed_step_outputs": "dropped",
        "decision_values": "past",
    },
}


def expected_rejection(profile: dict) -> str:
    """A rejection SSM ends Failed/CompletedWithFailure with its outputs dropped says nothing
    of a decision: the workflow gets Approval.Failed (named, with SSM's status)."""
    status = profile.get("rejection_status", "Failed")
    dropped = profile.get("failed_step_outputs") == "dropped"
    return (
        "Approval.Failed"
        if dropped and status in ("Failed", "CompletedWithFailure")
        else ("Rejected")
    )


@pytest.fixture
def any_final_status_rule(gate):
    """The rule as the gate deploys it: any final status, not a list of four."""
    boto3.client("events").put_rule(
        Name="approval-results",
        EventPattern=json.dumps(
            {
                "source": ["aws.ssm"],
                "detail-type": ["EC2 Automation Step Status-change Notification"],
                "detail": {
                    "Definition": ["ApprovalGate-Approval"],
                    "Action": ["aws:approve"],
                    "Status": [{"anything-but": NON_TERMINAL}],
                },
            }
        ),
    )


def outcome_of(gate, execution_arn: str) -> tuple[str, list]:
    execution = gate.execution(execution_arn)
    if execution["status"] == "SUCCEEDED":
        approval = json.loads(execution["output"])["approval"]
        return approval["decision"], [
            (d["approver"], d["decision"]) for d in approval["decided_by"]
        ]
    history = gate.sfn.get_execution_history(executionArn=execution_arn)["events"]
    failure = next(e for e in history if e["type"] == "TaskFailed")["taskFailedEventDetails"]
    return failure["error"], []


@pytest.mark.parametrize("profile", PROFILES.values(), ids=PROFILES.keys())
@pytest.mark.parametrize("flow", ["approve", "reject", "2of3-one-reject"])
def test_each_flow_reaches_the_workflow_right_under_each_profile_of_the_local_aws(
    gate, started, receive_handler, context, any_final_status_rule, monkeypatch, profile, flow
):
    monkeypatch.setattr("receive_result.logic.receive_result.REREAD_DELAYS_SECONDS", (0.0, 0.0))
    for name, value in profile.items():
        setattr(sandbox.settings, name, value)
    alice, bob, carol = (gate.principal(name) for name in ("alice", "bob", "carol"))
    if flow == "2of3-one-reject":
        workflow, reply = started(approvers=[alice, bob, carol], min_required_approvals=2)
        signals = [("alice", "Approve"), ("bob", "Reject"), ("carol", "Approve")]
    else:
        workflow, reply = started()
        signals = [("alice", "Approve" if flow == "approve" else "Reject")]
    automation_id = reply["automation_execution_id"]
    signalled = []
    for name, signal in signals:
        status = gate.ssm.get_automation_execution(AutomationExecutionId=automation_id)
        if status["AutomationExecution"]["AutomationExecutionStatus"] not in NON_TERMINAL:
            break  # the step has ended (one Reject ends it at once)
        gate.signal(name, automation_id, signal)
        signalled.append((gate.principal(name), signal))

    events = gate.result_events()
    assert events, "the rule must take the step's final status, whatever it is"
    for event in events:
        receive_handler(event, context)

    outcome, decided_by = outcome_of(gate, workflow.execution_arn)
    if flow == "approve" or (
        flow == "2of3-one-reject"
        and profile.get("reject_under_quorum") == "rejects_when_quorum_unreachable"
    ):
        assert (outcome, decided_by) == ("Approved", signalled)
    else:
        assert outcome == expected_rejection(profile)
        if outcome == "Rejected" and profile.get("failed_step_outputs") != "dropped":
            assert decided_by == signalled
