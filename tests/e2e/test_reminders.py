"""Reminders through the gate deployed by Terraform into the local AWS: a request with
remind_after_seconds=60 and max_reminders=1 gets no reminder before a minute, one after it,
and none more, however often the sweep runs; the reminder reaches the approvers' inbox (the
notification topic SSM sent the request to).

The functions read the real clock, not the sandbox's (sandbox/LOCAL_AWS.md, Time): the
sandbox clock is moved only to make the sweep's schedule due, and the test waits the
request's real minute once. The record is never written by the test."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from scripts.local_gate import LocalGate, wait_for

pytestmark = pytest.mark.terraform

MESSAGE = "Deploy 2.0 to production?"


def sweeps_done(gate: LocalGate) -> int:
    """How many sweeps have finished (each logs "Sweep done" once)."""
    logs = gate.client("logs")
    group = f"/aws/lambda/{gate.outputs['sweep_function_name']}"
    try:
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    except ClientError:
        return 0
    return sum(
        '"Sweep done"' in event["message"]
        for stream in streams
        for event in logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])[
            "events"
        ]
    )


def sweep(gate: LocalGate) -> None:
    """The sweep's schedule made due on the sandbox clock and fired; returns once a sweep
    more has finished."""
    before = sweeps_done(gate)
    events, rule = gate.client("events"), gate.outputs["sweep_rule_name"]
    events.enable_rule(Name=rule)
    try:
        gate.aws.api("/moto-api/sandbox/clock/advance", {"seconds": 60})
        gate.aws.api("/moto-api/sandbox/schedules/fire", {})
    finally:
        events.disable_rule(Name=rule)
    wait_for(lambda: sweeps_done(gate) > before, 60, "the fired sweep did not finish")


def reminders_in(notifications: list[dict[str, Any]]) -> list[dict[str, Any]]:
    bodies = [json.loads(message["Body"]) for message in notifications]
    return [body for body in bodies if body.get("Subject", "").startswith("Reminder ")]


def test_one_reminder_after_its_interval_and_none_past_its_bound(gate):
    # The schedule runs in real time too: here only the fired sweeps run.
    gate.client("events").disable_rule(Name=gate.outputs["sweep_rule_name"])
    bob = gate.principal_arn("bob")
    execution_arn = gate.start(
        {
            "message": MESSAGE,
            "approvers": [gate.principal_arn("alice")],
            "requested_by": bob,
            "remind_after_seconds": 60,
            "max_reminders": 1,
        }
    )
    automation_id = gate.automation_of(execution_arn)
    [record] = gate.records_of(execution_arn)
    approval_id, requested_epoch = record["approval_id"], int(record["requested_epoch"])
    assert (int(record["remind_after_seconds"]), int(record["max_reminders"])) == (60, 1)
    wait_for(gate.notifications, 30, "the approvers were not asked")  # SSM's request

    sweep(gate)  # before the minute: nothing
    assert time.time() < requested_epoch + 60, "the first sweep came too late to test 'before'"
    assert reminders_in(gate.notifications()) == []
    assert int(gate.records_of(execution_arn)[0]["reminders_sent"]) == 0

    time.sleep(max(0.0, requested_epoch + 61 - time.time()))  # the request's real minute
    sweep(gate)
    sweep(gate)  # a second sweep: max_reminders is 1

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
    sweep(gate)
    assert reminders_in(gate.notifications()) == []
