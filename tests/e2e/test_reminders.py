"""Reminders through the gate deployed by Terraform into the local AWS: a request with
remind_after_seconds=600 and max_reminders=1 gets no reminder before its interval, one after
it, and none more, however often the sweep runs; the reminder reaches the approvers' inbox (the
notification topic SSM sent the request to).

No test waits: the sweep judges as of its schedule's time
(docs/aws-behaviour.md#eventbridge-scheduled-events), and `LocalGate.sweep` fires it at a
chosen time on the local AWS's clock.
The record is never written by the test."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scripts.local_gate import wait_for

pytestmark = pytest.mark.terraform

MESSAGE = "Deploy 2.0 to production?"
REMIND_AFTER = 600


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
