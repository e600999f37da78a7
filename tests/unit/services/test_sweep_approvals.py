"""sweep_approvals' logic (SweepApprovals) on in-memory fakes, through the event path's own
idempotent delivery as the handler wires it: decisions whose event was lost are delivered
once, automations SSM keeps queued are counted, and one queued past MAX_QUEUED_SECONDS is
cancelled and its workflow told Approval.NotStarted, once."""

import dataclasses

import pytest

from approval_core.environment import ConfigurationError
from approval_core.records import ApprovalStatus, CallbackStatus
from receive_result.models import ApproverDecision, SweepReport
from receive_result.settings import Settings
from tests.support.in_memory_gate import ALICE, MAX_QUEUED_SECONDS, InMemoryGate

APPROVE = ApproverDecision(ALICE, "Approve", "fine")


def queue(gate: InMemoryGate, run: str, token: str):
    """An approval whose automation SSM keeps queued (past the concurrency quota)."""
    started = gate.start(run, token)
    gate.automations[started.automation_execution_id].status = "Pending"
    return started


def test_the_sweep_delivers_a_decision_whose_event_was_lost_once(gate: InMemoryGate):
    lost, waiting = gate.start("run-1", "token-1"), gate.start("run-2", "token-2")
    gate.decide(lost.automation_execution_id, "Approved", APPROVE)

    report = gate.sweeper().run()

    assert report == SweepReport(pending=2, finished=1, delivered=(lost.approval_id,))
    [answer] = gate.callbacks.answers
    assert (answer.task_token, answer.output["decision"]) == ("token-1", "Approved")
    record = gate.record(lost.approval_id)
    assert (record.outcome, record.callback) == ("Approved", CallbackStatus.DELIVERED)
    assert record.delivered_by == "sweep_approvals"
    assert gate.record(waiting.approval_id).status is ApprovalStatus.PENDING

    assert gate.sweeper().run() == SweepReport(pending=1, finished=0)
    assert len(gate.callbacks.answers) == 1


def test_a_decision_the_event_path_delivered_is_not_counted_by_the_sweep(gate: InMemoryGate):
    """The pending index still lists it (it lags), the record no longer waits: no SSM read,
    nobody called back."""
    started = gate.start()
    stale = list(gate.records.pending())
    gate.decide(started.automation_execution_id, "Approved", APPROVE)
    gate.deliver(gate.receiver.decision_of(started.automation_execution_id), via="event")
    gate.records.pending = lambda: iter(stale)
    gate.supervisor.reads.clear()

    report = gate.sweeper().run()

    assert (report.pending, report.finished, report.delivered) == (1, 1, ())
    assert gate.supervisor.reads == []
    assert len(gate.callbacks.answers) == 1


def test_a_decision_the_event_path_delivers_meanwhile_is_not_counted_by_the_sweep(
    gate: InMemoryGate,
):
    """The sweep finds the record waiting, then the event path delivers before the sweep's
    own delivery: the idempotency store gives the sweep the event path's result (via event),
    which the sweep does not count as its own."""
    started = gate.start()
    gate.decide(started.automation_execution_id, "Approved", APPROVE)
    get = gate.records.get

    def waiting_then_delivered_by_the_event(approval_id):
        record = get(approval_id)
        decision = gate.receiver.decision_of(started.automation_execution_id)
        gate.deliver(decision, via="event")
        return record

    gate.records.get = waiting_then_delivered_by_the_event

    report = gate.sweeper().run()

    assert (report.finished, report.delivered) == (1, ())
    assert gate.deliver.results[started.approval_id].via == "event"
    assert len(gate.callbacks.answers) == 1


def test_the_sweep_steps_aside_while_the_event_is_being_delivered(gate: InMemoryGate):
    started = gate.start()
    gate.decide(started.automation_execution_id, "Approved", APPROVE)
    gate.deliver.in_progress.add(started.approval_id)

    report = gate.sweeper().run()

    assert (report.finished, report.delivered) == (1, ())
    assert gate.callbacks.answers == []
    assert gate.record(started.approval_id).status is ApprovalStatus.PENDING


def test_a_delivery_stopped_half_way_is_finished_by_the_next_sweep(gate: InMemoryGate):
    started = gate.start()
    gate.decide(started.automation_execution_id, "Approved", APPROVE)
    gate.callbacks.fail_next(RuntimeError("the invocation died"))

    with pytest.raises(RuntimeError):
        gate.sweeper().run()
    assert gate.record(started.approval_id).callback is CallbackStatus.SENDING

    report = gate.sweeper().run()

    assert (report.pending, report.delivered) == (1, (started.approval_id,))
    assert len(gate.callbacks.answers) == 1
    assert gate.sweeper().run().pending == 0


def test_an_index_entry_without_the_automation_id_waits_for_the_index(gate: InMemoryGate):
    started = gate.start()
    gate.decide(started.automation_execution_id, "Approved", APPROVE)
    [entry] = gate.records.pending()
    real_pending = gate.records.pending
    gate.records.pending = lambda: iter([dataclasses.replace(entry, automation_execution_id=None)])

    assert gate.sweeper().run() == SweepReport(pending=1, finished=0)

    gate.records.pending = real_pending
    assert gate.sweeper().run().delivered == (started.approval_id,)


def test_a_sweep_short_of_time_stops_and_the_next_one_finishes(gate: InMemoryGate):
    first, second = gate.start("run-1", "token-1"), gate.start("run-2", "token-2")
    for started in (first, second):
        gate.decide(started.automation_execution_id, "Approved", APPROVE)
    time_left = iter([True, False])

    report = gate.sweeper().run(has_time=lambda: next(time_left))

    assert (report.finished, len(report.delivered), report.unchecked) == (2, 1, 1)
    assert gate.sweeper().run().delivered == (second.approval_id,)
    assert len(gate.callbacks.answers) == 2


def test_queued_approvals_are_counted_and_left_while_young(gate: InMemoryGate):
    gate.start("run-1", "token-1")
    queued = queue(gate, "run-2", "token-2")
    gate.clock.advance(MAX_QUEUED_SECONDS)

    report = gate.sweeper().run()

    assert (report.pending, report.queued, report.not_started) == (2, 1, ())
    assert gate.automations[queued.automation_execution_id].status == "Pending"
    assert gate.callbacks.answers == []


def test_an_approval_queued_too_long_is_cancelled_and_its_workflow_told_once(gate: InMemoryGate):
    running = gate.start("run-1", "token-1")
    queued = queue(gate, "run-2", "token-2")
    gate.clock.advance(MAX_QUEUED_SECONDS + 1)

    report = gate.sweeper().run()

    assert (report.queued, report.not_started) == (1, (queued.approval_id,))
    assert gate.automations[queued.automation_execution_id].status == "Cancelled"
    assert gate.automations[running.automation_execution_id].status == "Waiting"
    [answer] = gate.callbacks.answers
    assert (answer.task_token, answer.error) == ("token-2", "Approval.NotStarted")
    for words in (f"for {MAX_QUEUED_SECONDS + 1} s", f"MAX_QUEUED_SECONDS = {MAX_QUEUED_SECONDS}"):
        assert words in answer.cause
    record = gate.record(queued.approval_id)
    assert (record.outcome, record.callback) == ("NotStarted", CallbackStatus.DELIVERED)

    assert gate.sweeper().run().not_started == ()
    assert len(gate.callbacks.answers) == 1


def test_max_queued_seconds_zero_never_gives_up(gate: InMemoryGate):
    queued = queue(gate, "run-1", "token-1")
    gate.clock.advance(10 * 86400)

    report = gate.sweeper(max_queued_seconds=0).run()

    assert (report.queued, report.not_started) == (1, ())
    assert gate.automations[queued.automation_execution_id].status == "Pending"


def test_a_queued_automation_that_ended_meanwhile_is_not_given_up(gate: InMemoryGate):
    """Listed as queued, then it ran and was decided before the sweep's cancel: nobody is
    told NotStarted; its decision is delivered as any other."""
    queued = queue(gate, "run-1", "token-1")
    gate.clock.advance(MAX_QUEUED_SECONDS + 1)
    statuses_of = gate.supervisor.statuses_of

    def listed_then_decided(ids):
        statuses = statuses_of(ids)
        gate.decide(queued.automation_execution_id, "Approved", APPROVE)
        return statuses

    gate.supervisor.statuses_of = listed_then_decided

    assert gate.sweeper().run().not_started == ()
    assert gate.callbacks.answers == []
    assert gate.record(queued.approval_id).status is ApprovalStatus.PENDING

    gate.supervisor.statuses_of = statuses_of
    assert gate.sweeper().run().delivered == (queued.approval_id,)
    assert gate.callbacks.answers[0].output["decision"] == "Approved"


@pytest.mark.parametrize("raw", ["-1", "soon", "1.5"])
def test_a_bad_max_queued_seconds_names_the_variable_and_the_fix(raw):
    environ = {
        "APPROVALS_TABLE_NAME": "t",
        "APPROVAL_DOCUMENT_NAME": "d",
        "MAX_QUEUED_SECONDS": raw,
    }
    with pytest.raises(ConfigurationError, match=r"MAX_QUEUED_SECONDS .* whole number of seconds"):
        Settings.from_environment(environ)


def test_max_queued_seconds_defaults_to_an_hour():
    environ = {"APPROVALS_TABLE_NAME": "t", "APPROVAL_DOCUMENT_NAME": "d"}
    assert Settings.from_environment(environ).max_queued_seconds == 3600
    assert Settings.from_environment(environ | {"MAX_QUEUED_SECONDS": "0"}).max_queued_seconds == 0
