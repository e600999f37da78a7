"""A request's reminders (remind_after_seconds, max_reminders): the deployment's defaults
from the function's environment, the request's own values, clear errors for bad ones, and
the effective values stored on the approval's record for the sweep."""

import pytest

from approval_core.records import MIN_REMIND_AFTER_SECONDS
from start_approval.errors import InvalidApprovalRequest
from start_approval.settings import DEFAULT_MAX_REMINDERS
from start_approval.validation import parse_invocation, payload_schema
from tests.support.in_memory_gate import REQUEST, InMemoryGate
from tests.unit.services.test_start_validation import ROLE, payload, rejected, settings


def reminders_of(event, config=None) -> tuple[int | None, int]:
    request = parse_invocation(event, config or settings()).request
    return request.remind_after_seconds, request.max_reminders


def test_no_reminders_unless_the_deployment_or_the_request_asks():
    assert reminders_of(payload(message="m", approvers=[ROLE])) == (None, DEFAULT_MAX_REMINDERS)


def test_the_deployment_sets_the_defaults_and_the_request_wins():
    deployment = settings(REMIND_AFTER_SECONDS="3600", MAX_REMINDERS="2")
    assert reminders_of(payload(message="m", approvers=[ROLE]), deployment) == (3600, 2)
    assert reminders_of(
        payload(message="m", approvers=[ROLE], remind_after_seconds=60.0, max_reminders=0),
        deployment,
    ) == (60, 0)


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({"remind_after_seconds": 59}, "request.remind_after_seconds"),
        ({"remind_after_seconds": "600"}, "request.remind_after_seconds"),
        ({"remind_after_seconds": 2592001}, "request.remind_after_seconds"),
        ({"max_reminders": -1}, "request.max_reminders"),
        ({"max_reminders": 11}, "request.max_reminders"),
        ({"max_reminders": 1.5}, "request.max_reminders"),
    ],
)
def test_bad_reminder_fields_are_refused_by_name_with_the_fix(request_fields, field):
    message = rejected(payload(message="m", approvers=[ROLE], **request_fields))
    assert message.startswith(field)
    assert "whole number" in message


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"REMIND_AFTER_SECONDS": "59"}, r"REMIND_AFTER_SECONDS .* 60 or more"),
        ({"REMIND_AFTER_SECONDS": "hourly"}, r"REMIND_AFTER_SECONDS .* 60 or more"),
        ({"MAX_REMINDERS": "11"}, r"MAX_REMINDERS .* from 0 to 10"),
        ({"MAX_REMINDERS": "-1"}, r"MAX_REMINDERS .* whole number"),
    ],
)
def test_bad_deployment_defaults_name_the_variable(environment, expected):
    with pytest.raises(InvalidApprovalRequest, match=expected):
        settings(**environment)


def test_the_schema_and_the_sweep_agree_on_the_shortest_interval():
    fields = payload_schema()["properties"]["request"]["properties"]
    assert fields["remind_after_seconds"]["minimum"] == MIN_REMIND_AFTER_SECONDS


def test_the_record_keeps_the_effective_reminders(gate: InMemoryGate):
    reminded = gate.start(
        "run-1", "token-1", REQUEST._replace(remind_after_seconds=600, max_reminders=2)
    )
    never = gate.start(
        "run-2", "token-2", REQUEST._replace(remind_after_seconds=600, max_reminders=0)
    )

    record = gate.record(reminded.approval_id)
    assert (record.remind_after_seconds, record.max_reminders, record.reminders_sent) == (
        600,
        2,
        0,
    )
    record = gate.record(never.approval_id)
    assert (record.remind_after_seconds, record.max_reminders, record.reminders_sent) == (
        None,
        None,
        None,
    )
