"""Approval policies through the gate deployed by Terraform into the local AWS (one deployment
for all of them):

- Reminders: a request with remind_after_seconds=600 and max_reminders=1 gets no reminder
  before its interval, one after it, and none more, however often the sweep runs; the reminder
  reaches the approvers' inbox (the notification topic SSM sent the request to).
- Separation of duties (the module's prevent_self_approval, on by default): a requester listed
  as an approver is left out of the automation's approvers, so SSM refuses their own signal and
  another approver decides; a request left short of its quorum fails the workflow with
  ApprovalPolicyUnsatisfiable, asking nobody.
- Stages: three stages asked in order, each only once the one before it approved (its own SNS
  notification, with the earlier stages' decisions in its message); a rejection at stage 2 ends
  the approval and stage 3 is never asked (the approvers' inbox shows it); whoever approved
  stage 1 is not asked at stage 2 (SSM refuses their signal); a stage's lost event is delivered
  by the sweep; a workflow stopped during stage 2 cancels it and no stage 3 starts.
- Escalation: a stage left undecided is escalated by the sweep and settled by an escalation
  approver.

No test waits: the sweep judges as of its schedule's time
(docs/aws-behaviour.md#eventbridge-scheduled-events), and `LocalGate.sweep` fires it at a
chosen time on the local AWS's clock; the reminder test runs first, while that clock is still
close to the functions' own. No record is written by a test."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from scripts.local_gate import wait_for
from tests.support.sandbox_account import STEP_EVENT

pytestmark = pytest.mark.terraform

MESSAGE = "Deploy 2.0 to production?"
REMIND_AFTER = 600


def assert_signal_refused(gate, approver: str, automation_id: str) -> None:
    """The approver's signal is refused (by SSM, or by IAM): they are not an approver of this
    automation."""
    with pytest.raises(ClientError) as refused:
        gate.decide(approver, automation_id, "Approve", "not mine to decide")
    assert refused.value.response["Error"]["Code"] in (
        "InvalidAutomationSignalException",
        "AccessDeniedException",
    )


def reminders_in(notifications: list[dict[str, Any]]) -> list[dict[str, Any]]:
    bodies = [json.loads(message["Body"]) for message in notifications]
    return [body for body in bodies if body.get("Subject", "").startswith("Reminder ")]


def test_one_reminder_after_its_interval_and_none_past_its_bound(gate):
    bob = gate.principal_arn("bob")
    execution_arn = gate.start(
        {
            "message": MESSAGE,
            "approvers": [gate.principal_arn("alice")],
            "requested_by": bob,
            "remind_after_seconds": REMIND_AFTER,
            "max_reminders": 1,
        }
    )
    automation_id = gate.automation_of(execution_arn)
    [record] = gate.records_of(execution_arn)
    approval_id, requested_epoch = record["approval_id"], int(record["requested_epoch"])
    assert (int(record["remind_after_seconds"]), int(record["max_reminders"])) == (600, 1)
    wait_for(gate.notifications, 30, "the approvers were not asked")  # SSM's request

    early = gate.sweep()  # before the interval: nothing
    assert early.timestamp() < requested_epoch + REMIND_AFTER, "the clock was already too far"
    assert reminders_in(gate.notifications()) == []
    assert int(gate.records_of(execution_arn)[0]["reminders_sent"]) == 0

    gate.sweep(not_before=requested_epoch + REMIND_AFTER)
    gate.sweep(not_before=requested_epoch + 2 * REMIND_AFTER)  # max_reminders is 1

    [reminder] = wait_for(
        lambda: reminders_in(gate.notifications()), 30, "no reminder reached the approvers"
    )
    assert reminder["Subject"] == f"Reminder 1 of 1: approval {approval_id} waits"
    for words in (
        f"approval {approval_id} still waits for a decision",
        f"Requested by {bob}.",
        MESSAGE,
        f'approvals approve {approval_id} -m "your comment"',
    ):
        assert words in reminder["Message"]
    assert int(gate.records_of(execution_arn)[0]["reminders_sent"]) == 1

    gate.decide("alice", automation_id, "Approve", "reminded")
    assert gate.finished(execution_arn)["status"] == "SUCCEEDED"
    gate.sweep(later_by=REMIND_AFTER)
    assert reminders_in(gate.notifications()) == []


# --- separation of duties ---------------------------------------------------------------------


def test_the_requester_is_not_asked_and_cannot_approve_their_own_request(gate):
    alice, bob = gate.principal_arn("alice"), gate.principal_arn("bob")
    execution_arn = gate.start(
        {"message": "Deploy 1.2?", "approvers": [alice, bob], "requested_by": alice}
    )
    automation_id = gate.automation_of(execution_arn)
    parameters = gate.client("ssm").get_automation_execution(AutomationExecutionId=automation_id)[
        "AutomationExecution"
    ]["Parameters"]
    assert parameters["Approvers"] == [bob]
    assert f"Requested by {alice}." in "".join(
        value[0] for name, value in parameters.items() if name.startswith("Message")
    )

    assert_signal_refused(gate, "alice", automation_id)
    gate.decide("bob", automation_id, "Approve", "reviewed")

    execution = gate.finished(execution_arn)
    assert execution["status"] == "SUCCEEDED"
    approval = json.loads(execution["output"])["approval"]
    assert [d["approver"] for d in approval["decided_by"]] == [bob]
    [record] = gate.records_of(execution_arn)
    assert record["requested_by"] == alice


def test_a_request_only_its_requester_could_approve_fails_by_name(gate):
    alice = gate.principal_arn("alice")
    execution_arn = gate.start(
        {"message": "Deploy 1.3?", "approvers": [alice], "requested_by": alice}
    )
    execution = gate.finished(execution_arn)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "ApprovalPolicyUnsatisfiable"
    assert "may not approve their own request" in execution["cause"]
    assert gate.records_of(execution_arn) == []  # nothing stored, nobody asked


# --- stages and escalation ---------------------------------------------------------------------


def stages(gate, *approvers_per_stage: list[str], **extra) -> list[dict]:
    names = ("change", "security", "release")
    return [
        {"name": names[i], "approvers": [gate.principal_arn(a) for a in approvers], **extra}
        for i, approvers in enumerate(approvers_per_stage)
    ]


def parameters_of(gate, automation_id: str) -> dict:
    return gate.client("ssm").get_automation_execution(AutomationExecutionId=automation_id)[
        "AutomationExecution"
    ]["Parameters"]


def message_of(parameters: dict) -> str:
    return "".join(v[0] for k, v in sorted(parameters.items()) if k.startswith("Message"))


def next_automation(gate, execution_arn: str, after: str) -> str:
    """The automation of the stage after the one whose automation is `after`."""

    def moved_on() -> str | None:
        [record] = gate.records_of(execution_arn)
        current = record.get("automation_execution_id")
        return current if current and current != after else None

    return wait_for(moved_on, 60, f"the approval of {execution_arn} did not move on")


def asked(notifications: list[dict]) -> list[str]:
    """The stages SSM asked the approvers about, in the order they were asked: each request's
    message opens with "Stage n of m: <name>." (SSM's own text around it is not documented)."""
    bodies = [json.loads(n["Body"])["Message"] for n in notifications]
    return [
        found.group(1) for b in bodies if (found := re.search(r"(Stage \d of \d: [\w -]+)\.", b))
    ]


def test_three_stages_are_asked_in_order_and_the_workflow_gets_each(gate):
    gate.notifications()  # an empty inbox
    execution_arn = gate.start(
        {"message": "Deploy 3.0?", "stages": stages(gate, ["alice"], ["bob"], ["carol"])}
    )
    first = gate.automation_of(execution_arn)
    assert parameters_of(gate, first)["Stage"] == ["1/3"]
    gate.decide("alice", first, "Approve", "change board ok")

    second = next_automation(gate, execution_arn, first)
    parameters = parameters_of(gate, second)
    assert (parameters["Stage"], parameters["Approvers"]) == (["2/3"], [gate.principal_arn("bob")])
    text = message_of(parameters)
    assert text.startswith("Stage 2 of 3: security.")
    assert f'change: Approved by {gate.principal_arn("alice")} ("change board ok")' in text
    gate.decide("bob", second, "Approve", "security ok")

    third = next_automation(gate, execution_arn, second)
    gate.decide("carol", third, "Approve", "ship it")

    execution = gate.finished(execution_arn)
    assert execution["status"] == "SUCCEEDED"
    approval = json.loads(execution["output"])["approval"]
    assert (approval["decision"], approval["is_approved"]) == ("Approved", True)
    assert [
        (s["name"], s["outcome"], s["decided_by"][0]["approver"]) for s in approval["stages"]
    ] == [
        ("change", "Approved", gate.principal_arn("alice")),
        ("security", "Approved", gate.principal_arn("bob")),
        ("release", "Approved", gate.principal_arn("carol")),
    ]
    received: list[dict] = []
    wait_for(
        lambda: received.extend(gate.notifications()) or len(asked(received)) >= 3,
        30,
        "the approvers of the 3 stages were not all asked",
    )
    assert sorted(asked(received)) == [
        "Stage 1 of 3: change",
        "Stage 2 of 3: security",
        "Stage 3 of 3: release",
    ]


def test_a_rejection_at_stage_two_ends_it_and_stage_three_is_never_asked(gate):
    gate.notifications()
    execution_arn = gate.start(
        {"message": "Deploy 3.1?", "stages": stages(gate, ["alice"], ["bob"], ["carol"])}
    )
    first = gate.automation_of(execution_arn)
    gate.decide("alice", first, "Approve", "ok")
    second = next_automation(gate, execution_arn, first)
    gate.decide("bob", second, "Reject", "not this week")

    execution = gate.finished(execution_arn)
    assert execution["status"] == "SUCCEEDED"  # the example's workflow ends on either answer
    approval = json.loads(execution["output"])["approval"]
    assert approval["decision"] == "Rejected"
    assert [(s["name"], s["outcome"]) for s in approval["stages"]] == [
        ("change", "Approved"),
        ("security", "Rejected"),
    ]
    [record] = gate.records_of(execution_arn)
    assert record["automation_execution_id"] == second  # no third automation recorded
    received: list[dict] = []
    wait_for(
        lambda: (
            received.extend(gate.notifications()) or "Stage 2 of 3: security" in asked(received)
        ),
        30,
        "the approvers of stage 2 were not asked",
    )
    assert not any(m.startswith("Stage 3 of 3") for m in asked(received))


def test_who_approved_stage_one_is_not_asked_at_stage_two(gate):
    alice, bob = gate.principal_arn("alice"), gate.principal_arn("bob")
    execution_arn = gate.start(
        {"message": "Deploy 3.2?", "stages": stages(gate, ["alice", "bob"], ["alice", "bob"])}
    )
    first = gate.automation_of(execution_arn)
    gate.decide("alice", first, "Approve", "stage 1")
    second = next_automation(gate, execution_arn, first)
    assert parameters_of(gate, second)["Approvers"] == [bob]

    assert_signal_refused(gate, "alice", second)
    gate.decide("bob", second, "Approve", "stage 2")

    approval = json.loads(gate.finished(execution_arn)["output"])["approval"]
    assert [s["decided_by"][0]["approver"] for s in approval["stages"]] == [alice, bob]


def test_the_requester_is_left_out_of_every_stage(gate):
    alice, bob, carol = (gate.principal_arn(n) for n in ("alice", "bob", "carol"))
    execution_arn = gate.start(
        {
            "message": "Deploy 3.3?",
            "requested_by": alice,
            "stages": stages(gate, ["alice", "bob"], ["alice", "carol"]),
        }
    )
    first = gate.automation_of(execution_arn)
    assert parameters_of(gate, first)["Approvers"] == [bob]
    gate.decide("bob", first, "Approve", "ok")
    second = next_automation(gate, execution_arn, first)
    assert parameters_of(gate, second)["Approvers"] == [carol]
    gate.decide("carol", second, "Approve", "ok")
    assert json.loads(gate.finished(execution_arn)["output"])["approval"]["is_approved"]


def test_a_lost_event_of_stage_one_is_delivered_by_the_sweep_and_stage_two_asked(gate):
    execution_arn = gate.start(
        {"message": "Deploy 3.4?", "stages": stages(gate, ["alice"], ["bob"])}
    )
    first = gate.automation_of(execution_arn)
    gate.aws.api(
        "/moto-api/sandbox/events/drop",
        {"source": "aws.ssm", "detail_type": STEP_EVENT, "detail": {"ExecutionId": first}},
    )
    gate.decide("alice", first, "Approve", "its event is lost")

    gate.sweep(later_by=gate.sweep_grace_seconds)

    second = next_automation(gate, execution_arn, first)
    gate.decide("bob", second, "Approve", "ok")
    approval = json.loads(gate.finished(execution_arn)["output"])["approval"]
    assert [s["outcome"] for s in approval["stages"]] == ["Approved", "Approved"]


def test_a_workflow_stopped_during_stage_two_cancels_it_and_no_stage_three_starts(gate):
    execution_arn = gate.start(
        {"message": "Deploy 3.5?", "stages": stages(gate, ["alice"], ["bob"], ["carol"])}
    )
    first = gate.automation_of(execution_arn)
    gate.decide("alice", first, "Approve", "ok")
    second = next_automation(gate, execution_arn, first)

    gate.client("stepfunctions").stop_execution(executionArn=execution_arn)

    def status_of(automation_id: str) -> str:
        return gate.client("ssm").get_automation_execution(AutomationExecutionId=automation_id)[
            "AutomationExecution"
        ]["AutomationExecutionStatus"]

    wait_for(lambda: status_of(second) == "Cancelled", 60, "stage 2 was not cancelled")
    record = wait_for(
        lambda: (r := gate.records_of(execution_arn)[0])["status"] == "CLOSED" and r,
        60,
        "the record was not closed",
    )
    assert record["automation_execution_id"] == second
    with pytest.raises(ClientError):
        gate.decide("bob", second, "Approve", "too late")


def test_an_escalation_approver_decides_a_stage_that_waited_too_long(gate):
    """Nobody decides for a minute: the sweep, run a minute later on the local AWS's clock,
    opens the request to carol too; her decision settles it and alice's request is withdrawn."""
    carol = gate.principal_arn("carol")
    execution_arn = gate.start(
        {
            "message": "Deploy 3.6?",
            "approvers": [gate.principal_arn("alice")],
            "escalate_after_seconds": 60,
            "escalation_approvers": [carol],
        }
    )
    first = gate.automation_of(execution_arn)
    [record] = gate.records_of(execution_arn)
    gate.sweep(not_before=int(record["requested_epoch"]) + 60)

    escalation = wait_for(
        lambda: gate.records_of(execution_arn)[0].get("escalation_automation_execution_id"),
        60,
        "the stage was not escalated",
    )
    parameters = parameters_of(gate, escalation)
    assert (parameters["Stage"], parameters["Approvers"]) == (["1/1 escalation"], [carol])
    assert message_of(parameters).startswith("Escalated: this approval has waited")
    gate.decide("carol", escalation, "Approve", "on call: go")

    approval = json.loads(gate.finished(execution_arn)["output"])["approval"]
    [stage] = approval["stages"]
    assert (stage["outcome"], stage["escalated"], stage["decided_by"][0]["approver"]) == (
        "Approved",
        True,
        carol,
    )
    assert stage["automation_execution_id"] == escalation
    wait_for(
        lambda: (
            gate.client("ssm").get_automation_execution(AutomationExecutionId=first)[
                "AutomationExecution"
            ]["AutomationExecutionStatus"]
            == "Cancelled"
        ),
        60,
        "alice's request was not withdrawn",
    )
