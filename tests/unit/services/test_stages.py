"""Approvals of several stages on the in-memory gate (the logic classes as the handlers wire
them): each stage is asked only once the one before it approved, a rejection or an expiry at
any stage ends the approval and later stages are never asked, who approved one stage does not
count toward a later one, and every guarantee of one stage holds across stages (one callback;
a duplicate or late event of a passed stage changes nothing; a workflow that ends during a
stage cancels it and no later stage starts; a stage's lost event is delivered by the sweep)."""

from __future__ import annotations

import pytest

from approval_core.errors import ApprovalStartThrottled
from approval_core.records import ApprovalStatus, CallbackStatus
from approval_core.stages import Stage
from receive_result.logic.next_stage import NEXT_STAGE
from receive_result.models import ApproverDecision, Outcome
from start_approval.models import ApprovalRequest
from tests.support.in_memory_gate import ACCOUNT_ID, ALICE, BOB, MAX_QUEUED_SECONDS, InMemoryGate

CAROL = f"arn:aws:iam::{ACCOUNT_ID}:user/carol"
DAVE = f"arn:aws:iam::{ACCOUNT_ID}:user/dave"


def staged(*stages: Stage, message: str = "Deploy 2.0?") -> ApprovalRequest:
    return ApprovalRequest(
        message=message,
        approvers=stages[0].approvers,
        min_required_approvals=stages[0].min_required_approvals,
        stages=stages,
    )


THREE = staged(
    Stage("change", (ALICE,), 1),
    Stage("security", (BOB,), 1, message="Security review of 2.0"),
    Stage("release", (CAROL, DAVE), 2),
)


def approve(approver: str, comment: str = "ok") -> ApproverDecision:
    return ApproverDecision(approver, "Approve", comment, "2026-11-28T10:05:00Z")


def reject(approver: str) -> ApproverDecision:
    return ApproverDecision(approver, "Reject", "no", "2026-11-28T10:06:00Z")


def receive(gate: InMemoryGate, automation_execution_id: str, status: str = "Success"):
    decision = gate.receiver.decision_for(gate.event(automation_execution_id, status))
    return None if decision is None else gate.deliver(decision, via="event")


def current_automation(gate: InMemoryGate, approval_id: str) -> str:
    return gate.record(approval_id).automation_execution_id or ""


def test_three_stages_are_asked_in_order_and_the_workflow_answered_once_with_each(gate):
    started = gate.start(request=THREE)
    first = gate.automations[started.automation_execution_id]
    assert (first.launch.number, first.launch.stage_count, first.launch.stage.approvers) == (
        1,
        3,
        (ALICE,),
    )
    assert first.launch.message.startswith("Stage 1 of 3: change.\n\nDeploy 2.0?")

    gate.decide(first.automation_execution_id, "Approved", approve(ALICE, "change ok"))
    assert receive(gate, first.automation_execution_id).callback == NEXT_STAGE
    second = gate.automations[current_automation(gate, started.approval_id)]
    assert (second.launch.number, second.launch.stage.name) == (2, "security")
    assert second.launch.message.startswith("Stage 2 of 3: security.\n\nSecurity review of 2.0")
    assert "  change: Approved by " + ALICE + ' ("change ok")' in second.launch.message
    assert gate.callbacks.answers == []
    assert gate.record(started.approval_id).approvers == [BOB]

    gate.decide(second.automation_execution_id, "Approved", approve(BOB))
    assert receive(gate, second.automation_execution_id).callback == NEXT_STAGE
    third = gate.automations[current_automation(gate, started.approval_id)]
    assert (third.launch.number, third.launch.stage.min_required_approvals) == (3, 2)

    gate.decide(third.automation_execution_id, "Approved", approve(CAROL), approve(DAVE))
    assert receive(gate, third.automation_execution_id).callback == "DELIVERED"

    [answer] = gate.callbacks.answers
    assert (answer.output["decision"], answer.output["is_approved"]) == ("Approved", True)
    assert [(s["name"], s["outcome"]) for s in answer.output["stages"]] == [
        ("change", "Approved"),
        ("security", "Approved"),
        ("release", "Approved"),
    ]
    assert [d["approver"] for d in answer.output["stages"][2]["decided_by"]] == [CAROL, DAVE]
    assert [d["approver"] for d in answer.output["decided_by"]] == [ALICE, BOB, CAROL, DAVE]
    record = gate.record(started.approval_id)
    assert (record.status, record.callback, record.stage_index) == (
        ApprovalStatus.DECIDED,
        CallbackStatus.DELIVERED,
        2,
    )


def test_a_rejection_at_stage_two_ends_the_approval_and_stage_three_is_never_asked(gate):
    started = gate.start(request=THREE)
    gate.decide(started.automation_execution_id, "Approved", approve(ALICE))
    receive(gate, started.automation_execution_id)
    second = current_automation(gate, started.approval_id)

    gate.decide(second, "Rejected", reject(BOB), status="Failed")
    assert receive(gate, second, "Failed").callback == "DELIVERED"

    assert len(gate.automations) == 2  # stage 3 never started
    [answer] = gate.callbacks.answers
    assert (answer.output["decision"], answer.output["is_approved"]) == ("Rejected", False)
    assert [(s["name"], s["outcome"]) for s in answer.output["stages"]] == [
        ("change", "Approved"),
        ("security", "Rejected"),
    ]


def test_an_expired_stage_fails_the_workflow_naming_the_stage(gate):
    started = gate.start(request=THREE)
    gate.decide(started.automation_execution_id, "Approved", approve(ALICE))
    receive(gate, started.automation_execution_id)
    second = current_automation(gate, started.approval_id)

    gate.decide(second, None, status="TimedOut")
    receive(gate, second, "TimedOut")

    [answer] = gate.callbacks.answers
    assert answer.error == "Approval.Expired"
    assert "at stage 2 of 3 (security)" in answer.cause
    assert len(gate.automations) == 2


def test_who_approved_an_earlier_stage_is_not_asked_again(gate):
    request = staged(Stage("change", (ALICE, BOB), 1), Stage("security", (ALICE, CAROL), 1))
    started = gate.start(request=request)
    gate.decide(started.automation_execution_id, "Approved", approve(ALICE))
    receive(gate, started.automation_execution_id)

    second = gate.automations[current_automation(gate, started.approval_id)]
    assert second.launch.stage.approvers == (CAROL,)
    assert gate.record(started.approval_id).approvers == [CAROL]


def test_a_stage_left_short_by_its_earlier_approvers_ends_the_approval_unsatisfiable(gate):
    """Alice approved stage 1; stage 2 needs 2 of alice and bob: only bob is left."""
    request = staged(Stage("change", (ALICE,), 1), Stage("security", (ALICE, BOB), 2))
    started = gate.start(request=request)
    gate.decide(started.automation_execution_id, "Approved", approve(ALICE))
    receive(gate, started.automation_execution_id)

    assert len(gate.automations) == 1  # stage 2 never asked
    [answer] = gate.callbacks.answers
    assert answer.error == "ApprovalPolicyUnsatisfiable"
    assert "stage 2 is left with fewer approvers than its quorum" in answer.cause
    record = gate.record(started.approval_id)
    assert (record.outcome, [r["outcome"] for r in record.stage_results]) == (
        "Unsatisfiable",
        ["Approved"],
    )


def test_distinct_approvers_may_be_turned_off(gate):
    gate.receiver._next_stage._distinct_approvers = False  # the deployment's setting
    request = staged(Stage("change", (ALICE,), 1), Stage("security", (ALICE, BOB), 2))
    started = gate.start(request=request)
    gate.decide(started.automation_execution_id, "Approved", approve(ALICE))
    receive(gate, started.automation_execution_id)

    second = gate.automations[current_automation(gate, started.approval_id)]
    assert second.launch.stage.approvers == (ALICE, BOB)


def test_a_repeated_or_late_event_of_a_passed_stage_changes_nothing(gate):
    started = gate.start(request=THREE)
    first = started.automation_execution_id
    gate.decide(first, "Approved", approve(ALICE))
    receive(gate, first)
    second = current_automation(gate, started.approval_id)

    # The same event again, then the sweep's delivery of it: no second stage-2 automation,
    # nobody called back.
    assert receive(gate, first).callback == "DUPLICATE"
    decision = gate.receiver.decision_of(first)
    assert gate.receiver.deliver(decision, via="sweep").callback == "DUPLICATE"

    assert current_automation(gate, started.approval_id) == second
    assert len(gate.automations) == 2
    assert gate.callbacks.answers == []


def test_two_attempts_at_the_next_stage_start_one_automation(gate):
    """Both read the record at stage 1; the launcher's ClientToken for stage 2 is the same,
    so the second attempt gets the first one's automation, and its record update is refused."""
    started = gate.start(request=THREE)
    first = started.automation_execution_id
    gate.decide(first, "Approved", approve(ALICE))
    decision = gate.receiver.decision_of(first)
    get = gate.records.get
    stale = get(started.approval_id)
    gate.records.get = lambda approval_id: stale  # both read stage 1

    assert gate.receiver.deliver(decision).callback == NEXT_STAGE
    assert gate.receiver.deliver(decision, via="sweep").callback == "DUPLICATE"

    gate.records.get = get
    assert len(gate.automations) == 2


def test_a_workflow_ended_during_stage_two_cancels_it_and_no_later_stage_starts(gate):
    started = gate.start(request=THREE)
    gate.decide(started.automation_execution_id, "Approved", approve(ALICE))
    receive(gate, started.automation_execution_id)
    second = current_automation(gate, started.approval_id)

    gate.closer.close(gate.ended())

    assert gate.automations[second].status == "Cancelled"
    assert gate.record(started.approval_id).status is ApprovalStatus.CLOSED
    gate.decide(second, None, status="Cancelled")
    assert receive(gate, second, "Cancelled").callback == "CLOSED"
    assert len(gate.automations) == 2 and gate.callbacks.answers == []


def test_a_workflow_that_ends_while_the_next_stage_starts_gets_it_cancelled(gate):
    started = gate.start(request=THREE)
    gate.decide(started.automation_execution_id, "Approved", approve(ALICE))
    start = gate.launcher.start

    def started_then_the_workflow_ends(approval_id, launch):
        automation = start(approval_id, launch)
        gate.closer.close(gate.ended())  # finds stage 1's automation: already ended
        return automation

    gate.launcher.start = started_then_the_workflow_ends
    assert receive(gate, started.automation_execution_id).callback == "CLOSED"

    [second] = [a for a in gate.automations.values() if a.launch and a.launch.number == 2]
    assert second.status == "Cancelled"
    assert gate.callbacks.answers == []


def test_a_lost_event_of_stage_one_is_delivered_by_the_sweep_and_stage_two_asked(gate):
    started = gate.start(request=THREE)
    gate.decide(started.automation_execution_id, "Approved", approve(ALICE))

    report = gate.sweeper().run()

    assert report.delivered == (started.approval_id,)
    second = gate.automations[current_automation(gate, started.approval_id)]
    assert second.launch.number == 2
    assert gate.callbacks.answers == []
    # The next sweep sees stage 2 waiting: nothing to do.
    assert gate.sweeper().run().delivered == ()


@pytest.mark.parametrize("stage_count", [1, 2])
def test_the_record_keeps_the_stages_only_when_the_request_gives_them(gate, stage_count):
    stages = (Stage("change", (ALICE,), 1), Stage("security", (BOB,), 1))[:stage_count]
    started = gate.start(request=staged(*stages))
    record = gate.record(started.approval_id)
    assert [s["name"] for s in record.stages] == [s.name for s in stages]
    assert (record.stage_index, record.stage_started_epoch) == (0, record.requested_epoch)
    plain = gate.start("run-2", "token-2")
    assert gate.record(plain.approval_id).stages is None


def test_a_stage_past_its_own_timeout_is_expired_by_the_sweep_and_cancelled(gate):
    request = staged(
        Stage("change", (ALICE,), 1), Stage("security", (BOB,), 1, timeout_seconds=600)
    )
    started = gate.start(request=request)
    gate.decide(started.automation_execution_id, "Approved", approve(ALICE))
    receive(gate, started.automation_execution_id)
    second = current_automation(gate, started.approval_id)

    gate.clock.advance(599)
    gate.sweeper().run()
    assert gate.callbacks.answers == []

    gate.clock.advance(1)
    gate.sweeper().run()

    [answer] = gate.callbacks.answers
    assert answer.error == "Approval.Expired"
    assert "at stage 2 of 2 (security)" in answer.cause
    assert "timeout_seconds (600) passed" in answer.cause
    assert gate.automations[second].status == "Cancelled"
    # SSM's event of the cancel comes afterwards: nothing more happens.
    assert receive(gate, second, "Cancelled").callback == "DUPLICATE"
    assert len(gate.callbacks.answers) == 1


def test_a_later_stage_reminds_counting_from_its_own_start(gate):
    request = staged(Stage("change", (ALICE,), 1), Stage("security", (BOB,), 1))._replace(
        remind_after_seconds=600,
        max_reminders=1,
    )
    started = gate.start(request=request)
    gate.clock.advance(600)
    gate.sweeper().run()
    assert [(r.approval_id, r.number) for r in gate.reminders] == [(started.approval_id, 1)]

    gate.clock.advance(300)
    gate.decide(started.automation_execution_id, "Approved", approve(ALICE))
    receive(gate, started.automation_execution_id)
    assert gate.record(started.approval_id).reminders_sent == 0  # stage 2's count

    gate.clock.advance(599)
    gate.sweeper().run()
    assert len(gate.reminders) == 1
    gate.clock.advance(1)
    gate.sweeper().run()
    assert [r.number for r in gate.reminders] == [1, 1]


def test_a_late_failure_of_a_passed_stage_does_not_end_the_approval(gate):
    """Stage 1's automation reads Cancelled afterwards (stopped by hand, say): its event
    claims nothing, stage 2 still waits."""
    started = gate.start(request=THREE)
    first = started.automation_execution_id
    gate.decide(first, "Approved", approve(ALICE))
    receive(gate, first)
    second = current_automation(gate, started.approval_id)

    late = gate.receiver.decision_of(first)._replace(outcome=Outcome.CANCELLED, decided_by=())
    assert gate.receiver.deliver(late).callback == "DUPLICATE"

    record = gate.record(started.approval_id)
    assert (record.status, record.automation_execution_id) == (ApprovalStatus.PENDING, second)
    assert gate.callbacks.answers == []


# --- escalation --------------------------------------------------------------------------------

ESCALATING = staged(
    Stage("change", (ALICE,), 1),
    Stage(
        "security",
        (BOB,),
        1,
        escalate_after_seconds=3600,
        escalation_approvers=(CAROL,),
    ),
)


def escalated_stage_two(gate: InMemoryGate):
    """Stage 1 approved by alice; stage 2 (bob) undecided for an hour: escalated to carol."""
    started = gate.start(request=ESCALATING)
    gate.decide(started.automation_execution_id, "Approved", approve(ALICE))
    receive(gate, started.automation_execution_id)
    second = current_automation(gate, started.approval_id)
    gate.clock.advance(3599)
    gate.sweeper().run()
    assert gate.record(started.approval_id).escalation_automation_execution_id is None
    gate.clock.advance(1)
    gate.sweeper().run()
    escalation = gate.record(started.approval_id).escalation_automation_execution_id
    assert escalation is not None
    return started, second, escalation


def test_an_undecided_stage_is_opened_to_its_escalation_approvers_once(gate):
    _started, second, escalation = escalated_stage_two(gate)
    launch = gate.automations[escalation].launch
    assert (launch.number, launch.stage_count, launch.escalation) == (2, 2, True)
    assert (launch.stage.approvers, launch.stage.min_required_approvals) == ((CAROL,), 1)
    assert launch.message.startswith(
        f"Escalated: stage 2 of 2 (security) has waited 1 h 0 min for its approvers ({BOB})."
    )
    gate.clock.advance(600)
    gate.sweeper().run()  # already escalated: no second request
    assert len(gate.automations) == 3
    assert gate.automations[second].status == "Waiting"


def test_an_escalation_approver_settles_the_stage_and_the_first_request_is_withdrawn(gate):
    _started, second, escalation = escalated_stage_two(gate)
    gate.decide(escalation, "Approved", approve(CAROL, "on behalf of security"))

    assert receive(gate, escalation).callback == "DELIVERED"

    [answer] = gate.callbacks.answers
    assert answer.output["decision"] == "Approved"
    security = answer.output["stages"][1]
    assert (security["name"], security["escalated"]) == ("security", True)
    assert [d["approver"] for d in security["decided_by"]] == [CAROL]
    assert answer.output["stages"][0]["escalated"] is False
    assert gate.automations[second].status == "Cancelled"  # bob's request withdrawn
    # bob's withdrawn request's event changes nothing.
    gate.decide(second, None, status="Cancelled")
    assert receive(gate, second, "Cancelled").callback == "DUPLICATE"
    assert len(gate.callbacks.answers) == 1


def test_the_first_approver_still_settles_an_escalated_stage_and_the_escalation_is_withdrawn(gate):
    _started, second, escalation = escalated_stage_two(gate)
    gate.decide(second, "Rejected", reject(BOB), status="Failed")

    assert receive(gate, second, "Failed").callback == "DELIVERED"

    [answer] = gate.callbacks.answers
    assert answer.output["decision"] == "Rejected"
    assert answer.output["stages"][1]["escalated"] is False
    assert gate.automations[escalation].status == "Cancelled"
    gate.decide(escalation, None, status="Cancelled")
    assert receive(gate, escalation, "Cancelled").callback == "IGNORED"


def test_an_escalation_that_ends_undecided_leaves_the_stage_waiting(gate):
    started, second, escalation = escalated_stage_two(gate)
    gate.decide(escalation, None, status="TimedOut")

    assert receive(gate, escalation, "TimedOut").callback == "IGNORED"

    record = gate.record(started.approval_id)
    assert (record.status, record.automation_execution_id) == (ApprovalStatus.PENDING, second)
    assert gate.callbacks.answers == []


def test_an_escalated_stage_approved_moves_on_and_withdraws_the_other_request(gate):
    request = staged(
        Stage("change", (ALICE,), 1, escalate_after_seconds=600, escalation_approvers=(DAVE,)),
        Stage("security", (BOB,), 1),
    )
    started = gate.start(request=request)
    first = started.automation_execution_id
    gate.clock.advance(600)
    gate.sweeper().run()
    escalation = gate.record(started.approval_id).escalation_automation_execution_id
    gate.decide(escalation, "Approved", approve(DAVE))

    assert receive(gate, escalation).callback == NEXT_STAGE

    record = gate.record(started.approval_id)
    assert record.escalation_automation_execution_id is None
    assert gate.automations[first].status == "Cancelled"
    assert record.stage_results[0]["escalated"] is True
    assert gate.automations[record.automation_execution_id].launch.stage.name == "security"


def test_a_lost_event_of_an_escalation_is_delivered_by_the_sweep(gate):
    _started, second, escalation = escalated_stage_two(gate)
    gate.decide(escalation, "Approved", approve(CAROL))

    gate.sweeper().run()

    [answer] = gate.callbacks.answers
    assert answer.output["stages"][1]["escalated"] is True
    assert gate.automations[second].status == "Cancelled"


def test_a_one_stage_approval_stores_its_decision_once(gate):
    """Its stage result would repeat decided_by on the record: a record past 1 KB costs two
    write units a write. The output still lists its one stage."""
    started = gate.start()
    gate.decide(started.automation_execution_id, "Approved", approve(ALICE))
    receive(gate, started.automation_execution_id)

    record = gate.record(started.approval_id)
    assert (record.stage_results, [d["approver"] for d in record.decided_by]) == (None, [ALICE])
    [answer] = gate.callbacks.answers
    assert [(s["name"], s["outcome"]) for s in answer.output["stages"]] == [
        ("approval", "Approved")
    ]


def test_a_workflow_ended_during_an_escalated_stage_withdraws_both_requests(gate):
    started, second, escalation = escalated_stage_two(gate)

    closed = gate.closer.close(gate.ended())

    assert set(closed.cancelled_automations) == {second, escalation}
    assert gate.automations[second].status == gate.automations[escalation].status == "Cancelled"
    assert gate.record(started.approval_id).status is ApprovalStatus.CLOSED


def test_a_later_stage_queued_by_ssm_counts_its_queue_time_from_its_own_start(gate):
    started = gate.start(request=THREE)
    gate.clock.advance(MAX_QUEUED_SECONDS * 2)  # stage 1 took long to decide
    gate.decide(started.automation_execution_id, "Approved", approve(ALICE))
    receive(gate, started.automation_execution_id)
    second = current_automation(gate, started.approval_id)
    gate.automations[second].status = "Pending"  # SSM queues stage 2

    gate.clock.advance(MAX_QUEUED_SECONDS - 1)
    assert gate.sweeper().run().not_started == ()
    gate.clock.advance(2)
    assert gate.sweeper().run().not_started == (started.approval_id,)
    [answer] = gate.callbacks.answers
    assert answer.error == "Approval.NotStarted"
    assert "at stage 2 of 3 (security)" in answer.cause


def test_a_next_stage_ssm_will_not_start_now_is_left_to_the_next_sweep(gate):
    started = gate.start(request=THREE)
    first = started.automation_execution_id
    gate.decide(first, "Approved", approve(ALICE))  # its event is lost
    gate.launcher.fail_next(ApprovalStartThrottled("SSM's StartAutomationExecution rate"))

    report = gate.sweeper().run()

    assert (report.delivered, report.unchecked) == ((), 1)
    assert current_automation(gate, started.approval_id) == first
    assert gate.sweeper().run().delivered == (started.approval_id,)
    assert gate.automations[current_automation(gate, started.approval_id)].launch.number == 2
