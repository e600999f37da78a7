"""sweep_approvals' logic (SweepApprovals) on in-memory fakes, through the event path's own
idempotent delivery as the handler wires it: decisions whose event was lost are delivered
once, automations SSM keeps queued are counted, and one queued past MAX_QUEUED_SECONDS is
cancelled and its workflow told Approval.NotStarted, once; approvers of an approval still
undecided are reminded when its request asks for it, once per interval, up to its bound."""

from datetime import UTC, datetime, timedelta

import pytest

from approval_core.environment import ConfigurationError
from approval_core.records import ApprovalStatus, CallbackStatus, DeliveryLeaseHeld
from receive_result.logic.receive_result import LEASE_CLOCK_MARGIN_SECONDS
from receive_result.models import ApproverDecision
from receive_result.reminders import MESSAGE_LIMIT, Reminder, ReminderNotSent
from receive_result.scheduled_event import scheduled_time
from receive_result.settings import DEFAULT_DELIVERY_LEASE_SECONDS, Settings
from receive_result.sweep_report import SweepReport
from tests.support.in_memory_gate import ALICE, BOB, MAX_QUEUED_SECONDS, REQUEST, InMemoryGate

APPROVE = ApproverDecision(ALICE, "Approve", "fine")


def scheduled_event_at(time: str) -> dict:
    """What EventBridge's schedule sends (docs/aws-behaviour.md#eventbridge-scheduled-events)."""
    return {
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": time,
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/approval-gate-sweep"],
        "detail": {},
    }


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
    own delivery: the sweep's finds it delivered (a duplicate), and does not count it."""
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
    assert gate.record(started.approval_id).delivered_by == "receive_result"
    assert len(gate.callbacks.answers) == 1


def claimed_by_the_event_path(gate: InMemoryGate, approval_id: str, lease_seconds: int) -> None:
    """receive_result has claimed the decision and is calling back (or died doing so)."""
    now = gate.clock()
    gate.records.claim_decision(
        approval_id,
        "Approved",
        now.isoformat(),
        delivered_by="receive_result",
        lease_until=int(now.timestamp()) + lease_seconds,
    )


def test_the_sweep_steps_aside_while_the_event_is_being_delivered(gate: InMemoryGate):
    started = gate.start()
    gate.decide(started.automation_execution_id, "Approved", APPROVE)
    claimed_by_the_event_path(gate, started.approval_id, lease_seconds=60)

    report = gate.sweeper().run()

    assert (report.finished, report.delivered) == (1, ())
    assert gate.callbacks.answers == []
    record = gate.record(started.approval_id)
    assert (record.callback, record.delivered_by) == (CallbackStatus.SENDING, "receive_result")


def test_a_delivery_whose_holder_died_is_taken_over_once_its_lease_ran_out(gate: InMemoryGate):
    """The event path's invocation was killed (its timeout) after the claim: no error ran to
    give the lease back. The sweep steps aside until the lease ends, then finishes it."""
    started = gate.start()
    gate.decide(started.automation_execution_id, "Approved", APPROVE)
    claimed_by_the_event_path(gate, started.approval_id, lease_seconds=60)

    gate.clock.advance(60)
    assert gate.sweeper().run().delivered == ()
    gate.clock.advance(1)
    report = gate.sweeper().run()

    assert report.delivered == (started.approval_id,)
    [answer] = gate.callbacks.answers
    assert answer.output["decision"] == "Approved"
    record = gate.record(started.approval_id)
    assert (record.callback, record.delivered_by) == (CallbackStatus.DELIVERED, "sweep_approvals")
    assert record.delivery_lease_until is None


class InvocationKilled(BaseException):
    """Lambda stops an invocation at its timeout: none of its code runs after (no `except
    Exception`, no lease given back)."""


def test_a_killed_holders_lease_outlasts_its_timeout_by_the_clock_margin(gate: InMemoryGate):
    """The sweep claims, then is killed while calling back. Another attempt whose clock runs
    up to LEASE_CLOCK_MARGIN_SECONDS ahead still finds the lease held at the moment the holder
    was killed; past the timeout plus the margin it takes over and delivers once."""
    started = gate.start()
    gate.decide(started.automation_execution_id, "Approved", APPROVE)
    gate.callbacks.fail_next(InvocationKilled())
    with pytest.raises(InvocationKilled):
        gate.sweeper().run()
    timeout = DEFAULT_DELIVERY_LEASE_SECONDS  # the in-memory gate's settings

    gate.clock.advance(timeout + LEASE_CLOCK_MARGIN_SECONDS)
    assert gate.sweeper().run().delivered == ()
    assert gate.callbacks.answers == []
    gate.clock.advance(1)
    assert gate.sweeper().run().delivered == (started.approval_id,)
    assert len(gate.callbacks.answers) == 1


def test_the_event_path_raises_while_another_attempt_holds_the_callback(gate: InMemoryGate):
    """Lambda retries the event later (by then the holder has finished: a duplicate)."""
    started = gate.start()
    gate.decide(started.automation_execution_id, "Approved", APPROVE)
    decision = gate.receiver.decision_of(started.automation_execution_id)
    claimed_by_the_event_path(gate, started.approval_id, lease_seconds=60)

    with pytest.raises(DeliveryLeaseHeld, match="being delivered by receive_result"):
        gate.receiver.deliver(decision)
    assert gate.callbacks.answers == []


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
    gate.records.pending = lambda: iter([entry._replace(automation_execution_id=None)])

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
    states_of = gate.supervisor.states_of

    def listed_then_decided(ids):
        states = states_of(ids)
        gate.decide(queued.automation_execution_id, "Approved", APPROVE)
        return states

    gate.supervisor.states_of = listed_then_decided

    assert gate.sweeper().run().not_started == ()
    assert gate.callbacks.answers == []
    assert gate.record(queued.approval_id).status is ApprovalStatus.PENDING

    gate.supervisor.states_of = states_of
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


def test_sweep_grace_seconds_defaults_to_a_minute_and_names_a_bad_value():
    environ = {"APPROVALS_TABLE_NAME": "t", "APPROVAL_DOCUMENT_NAME": "d"}
    assert Settings.from_environment(environ).sweep_grace_seconds == 60
    no_grace = Settings.from_environment(environ | {"SWEEP_GRACE_SECONDS": "0"})
    assert no_grace.sweep_grace_seconds == 0
    with pytest.raises(ConfigurationError, match=r"SWEEP_GRACE_SECONDS .* whole number of seconds"):
        Settings.from_environment(environ | {"SWEEP_GRACE_SECONDS": "a minute"})


# --- the grace left to events on their way ------------------------------------------------------


def test_an_automation_that_just_ended_is_left_to_its_event_until_the_grace_is_over(
    gate: InMemoryGate,
):
    """Ended 59 s before the sweep: no SSM read, nobody called back (its event is most likely
    on its way); at 60 s the sweep delivers it as a lost event."""
    started = gate.start()
    gate.decide(started.automation_execution_id, "Approved", APPROVE)
    gate.supervisor.reads.clear()
    gate.clock.advance(59)

    early = gate.sweeper(grace_seconds=60).run()

    assert (early.pending, early.finished, early.delivered) == (1, 0, ())
    assert gate.supervisor.reads == [] and gate.callbacks.answers == []

    gate.clock.advance(1)
    assert gate.sweeper(grace_seconds=60).run().delivered == (started.approval_id,)
    assert gate.callbacks.answers[0].output["decision"] == "Approved"


def test_the_sweep_judges_as_of_its_scheduled_time_not_its_clock(gate: InMemoryGate):
    """A sweep invoked late (its event retried) acts as of the schedule's time: an automation
    that ended after that time is left to its event, and a reminder due only later is not
    sent."""
    started = gate.start(request=REMINDED)
    decided = gate.start("run-2", "token-2")
    scheduled = gate.clock()
    gate.clock.advance(700)  # past the reminder's 600 s on the function's clock
    gate.decide(decided.automation_execution_id, "Approved", APPROVE)  # after the schedule

    late = gate.sweeper(grace_seconds=60).run(now=scheduled)
    assert gate.reminders == []
    assert (late.finished, late.delivered, gate.callbacks.answers) == (0, (), [])

    on_time = gate.sweeper(grace_seconds=60).run(now=scheduled + timedelta(seconds=760))
    assert [(r.approval_id, r.number) for r in gate.reminders] == [(started.approval_id, 1)]
    assert on_time.delivered == (decided.approval_id,)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (scheduled_event_at("2026-11-30T12:05:00Z"), datetime(2026, 11, 30, 12, 5, tzinfo=UTC)),
        ({}, None),  # an operator's sweep: the function's clock
        ({**scheduled_event_at("2026-11-30T12:05:00Z"), "source": "my.app"}, None),
        (scheduled_event_at("yesterday"), None),
        (scheduled_event_at("2026-11-30T12:05:00"), None),  # no zone: not AWS's
    ],
)
def test_the_scheduled_time_comes_from_the_schedules_event_only(event, expected):
    assert scheduled_time(event) == expected


# --- reminders ---------------------------------------------------------------------------------

REMINDED = REQUEST._replace(remind_after_seconds=600, max_reminders=2, requested_by=BOB)


def test_the_first_reminder_is_sent_when_due_and_not_before(gate: InMemoryGate):
    started = gate.start(request=REMINDED)
    gate.clock.advance(599)
    gate.sweeper().run()
    assert gate.reminders == []

    gate.clock.advance(1)
    gate.sweeper().run()

    [reminder] = gate.reminders
    assert (reminder.approval_id, reminder.number, reminder.of) == (started.approval_id, 1, 2)
    assert (reminder.waited_seconds, reminder.requested_by) == (600, BOB)
    text = reminder.text()
    for words in (
        f"Reminder 1 of 2: approval {started.approval_id} still waits",
        "(asked 10 min ago)",
        f"Requested by {BOB}.",
        "Ship it?",
        f'approvals approve {started.approval_id} -m "your comment"',
        f'approvals reject {started.approval_id} -m "your comment"',
    ):
        assert words in text
    assert reminder.subject == f"Reminder 1 of 2: approval {started.approval_id} waits"
    assert gate.record(started.approval_id).reminders_sent == 1

    gate.sweeper().run()  # the same interval again: nothing more
    assert len(gate.reminders) == 1


def test_reminders_stop_at_max_reminders(gate: InMemoryGate):
    started = gate.start(request=REMINDED)
    for _ in range(10):
        gate.clock.advance(300)
        gate.sweeper().run()

    assert [(r.number, r.waited_seconds) for r in gate.reminders] == [(1, 600), (2, 1200)]
    assert gate.record(started.approval_id).reminders_sent == 2
    assert gate.record(started.approval_id).status is ApprovalStatus.PENDING


def test_two_overlapping_sweeps_send_one_reminder(gate: InMemoryGate):
    """Both find reminder 1 due; the second finishes first; the first one's claim (from 0
    reminders sent) then fails: one reminder."""
    started = gate.start(request=REMINDED)
    gate.clock.advance(600)
    get = gate.records.get
    overlapping = []

    def read_while_another_sweep_runs(approval_id):
        record = get(approval_id)
        if not overlapping:
            overlapping.append(approval_id)
            gate.sweeper().run()
        return record

    gate.records.get = read_while_another_sweep_runs

    gate.sweeper().run()

    assert [r.number for r in gate.reminders] == [1]
    assert gate.record(started.approval_id).reminders_sent == 1


def test_a_decided_approval_gets_no_reminder(gate: InMemoryGate):
    decided = gate.start("run-1", "token-1", REMINDED)
    gate.decide(decided.automation_execution_id, "Approved", APPROVE)
    gate.clock.advance(600)

    report = gate.sweeper().run()

    assert report.delivered == (decided.approval_id,)
    gate.clock.advance(600)
    gate.sweeper().run()
    assert gate.reminders == []


def test_an_approval_decided_while_the_sweep_looks_gets_no_reminder(gate: InMemoryGate):
    """SSM still shows the automation waiting, but the record is decided when it is read."""
    started = gate.start(request=REMINDED)
    gate.clock.advance(600)
    get = gate.records.get

    def decided_meanwhile(approval_id):
        gate.records.claim_decision(approval_id, "Approved", "now")
        return get(approval_id)

    gate.records.get = decided_meanwhile

    gate.sweeper().run()

    assert gate.reminders == []
    assert gate.record(started.approval_id).reminders_sent == 0


def test_only_an_approval_that_asks_for_reminders_is_read_and_not_while_young(
    gate: InMemoryGate,
):
    """The pending index says which records need attention while they wait: one without
    reminders (nor a stage timeout) costs no read, however old; one with them none before
    the shortest interval any request may ask."""
    gate.start("run-1", "token-1")  # no reminders asked
    reminded = gate.start("run-2", "token-2", request=REMINDED)
    gate.clock.advance(59)
    gate.journal.clear()
    gate.sweeper().run()
    assert "records.get" not in gate.journal

    gate.clock.advance(10 * 86400)
    gate.journal.clear()
    gate.sweeper().run()
    assert gate.journal.count("records.get") == 1  # the one with reminders
    assert [r.approval_id for r in gate.reminders] == [reminded.approval_id]


def test_a_queued_approval_gets_no_reminder(gate: InMemoryGate):
    started = gate.start(request=REMINDED)
    gate.automations[started.automation_execution_id].status = "Pending"
    gate.clock.advance(600)

    gate.sweeper(max_queued_seconds=0).run()

    assert gate.reminders == []


def test_a_reminder_sns_refused_stays_counted_and_the_next_comes_on_time(gate: InMemoryGate):
    started = gate.start(request=REMINDED)
    gate.clock.advance(600)
    refusals = [ReminderNotSent("throttled")]

    def refuse_once(reminder):
        if refusals:
            raise refusals.pop()
        gate.reminders.append(reminder)

    sweep = gate.sweeper(remind=refuse_once)
    sweep.run()
    sweep.run()
    assert gate.reminders == []
    assert gate.record(started.approval_id).reminders_sent == 1

    gate.clock.advance(600)
    sweep.run()
    assert [r.number for r in gate.reminders] == [2]


def test_a_long_message_is_cut_in_a_reminder_and_says_where_it_is_whole():
    reminder = Reminder("id-1", 1, 3, 7200 + 300, "x" * 5000)

    text = reminder.text()

    assert "x" * MESSAGE_LIMIT in text
    assert "x" * (MESSAGE_LIMIT + 1) not in text
    assert "(cut: `approvals show id-1` has it whole)" in text
    assert "(asked 2 h 5 min ago)" in text
    assert "Requested by" not in text
