"""Scheduled EventBridge rules fire on the sandbox clock (sandbox.schedules)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pytest

import sandbox
from sandbox.events import schedule_expressions, schedules
from sandbox.events.settings import schedule_settings
from tests.support.aws_env import ACCOUNT_ID, REGION
from tests.support.lambda_harness import recorder

START = datetime(2030, 1, 1, 11, 59, 0, tzinfo=UTC)  # a Tuesday
RULE_ARN = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/"


def scheduled_queue(aws, name: str, expression: str, **rule: str) -> str:
    """A rule with ``expression`` and an SQS target; returns the queue URL."""
    queue_url, queue_arn = aws.queue(name)
    aws.events.put_rule(Name=name, ScheduleExpression=expression, **rule)
    aws.events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return queue_url


def fire(aws, queue_url: str, seconds: float) -> list[dict]:
    """Advance the clock, fire what is due, and return what reached the queue."""
    sandbox.clock.advance(seconds)
    # The ticker may fire first; either way moto's SQS targets have the messages once
    # fire_due returns (it waits for the ticker's round): a short wait is only a margin.
    schedules.fire_due()
    return aws.drain(queue_url, wait_seconds=0.3)


def nothing_on(aws, queue_url: str) -> bool:
    return aws.drain(queue_url, wait_seconds=0.3) == []


def test_a_rate_rule_fires_each_minute_from_its_creation_with_the_aws_event(aws):
    sandbox.clock.freeze(START)
    queue_url = scheduled_queue(aws, "every-minute", "rate(1 minute)")

    sandbox.clock.advance(59)
    assert schedules.fire_due() == []
    assert nothing_on(aws, queue_url)
    # A schedule-only rule gets no event from the bus (moto's empty pattern matches them all).
    aws.events.put_events(Entries=[{"Source": "shop", "DetailType": "Order", "Detail": "{}"}])
    assert nothing_on(aws, queue_url)

    (event,) = fire(aws, queue_url, 1)
    assert set(event) == {
        "version", "id", "detail-type", "source", "account", "time", "region", "resources",
        "detail",
    }  # fmt: skip
    assert event["version"] == "0"
    assert uuid.UUID(event["id"])
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["account"] == ACCOUNT_ID
    assert event["region"] == REGION
    assert event["time"] == "2030-01-01T12:00:00Z"
    assert event["resources"] == [RULE_ARN + "every-minute"]
    assert event["detail"] == {}

    events = fire(aws, queue_url, 120)
    assert [e["time"] for e in events] == ["2030-01-01T12:01:00Z", "2030-01-01T12:02:00Z"]
    assert len({e["id"] for e in events}) == 2


def test_a_clock_jump_fires_the_last_ten_missed_periods(aws):
    sandbox.clock.freeze(START)
    queue_url = scheduled_queue(aws, "hourly", "rate(1 hour)")

    events = fire(aws, queue_url, 24 * 3600)
    assert sorted(e["time"] for e in events) == [
        f"2030-01-02T{hour:02d}:59:00Z" for hour in range(2, 12)
    ]
    assert fire(aws, queue_url, 1800) == []
    assert [e["time"] for e in fire(aws, queue_url, 1800)] == ["2030-01-02T12:59:00Z"]


def test_a_disabled_rule_does_not_fire_and_counts_again_from_its_enabling(aws):
    sandbox.clock.freeze(START)
    queue_url = scheduled_queue(aws, "paused", "rate(5 minutes)", State="DISABLED")

    assert fire(aws, queue_url, 3600) == []

    aws.events.enable_rule(Name="paused")  # at 12:59
    assert fire(aws, queue_url, 299) == []
    assert [e["time"] for e in fire(aws, queue_url, 1)] == ["2030-01-01T13:04:00Z"]

    aws.events.disable_rule(Name="paused")
    assert fire(aws, queue_url, 3600) == []


def test_a_disabled_pattern_rule_gets_no_bus_event_either(aws):
    queue_url, queue_arn = aws.queue("orders")
    aws.events.put_rule(
        Name="orders", EventPattern=json.dumps({"source": ["shop"]}), State="DISABLED"
    )
    aws.events.put_targets(Rule="orders", Targets=[{"Id": "q", "Arn": queue_arn}])
    entry = {"Source": "shop", "DetailType": "Order", "Detail": "{}"}

    aws.events.put_events(Entries=[entry])
    assert nothing_on(aws, queue_url)
    aws.events.enable_rule(Name="orders")
    aws.events.put_events(Entries=[entry])
    assert len(aws.drain(queue_url, wait_seconds=1)) == 1


def test_a_put_rule_that_changes_nothing_keeps_the_count(aws):
    sandbox.clock.freeze(START)
    queue_url = scheduled_queue(aws, "steady", "rate(2 minutes)")
    sandbox.clock.advance(90)
    aws.events.put_rule(Name="steady", ScheduleExpression="rate(2 minutes)")  # Terraform re-apply
    assert [e["time"] for e in fire(aws, queue_url, 30)] == ["2030-01-01T12:01:00Z"]

    aws.events.put_rule(Name="steady", ScheduleExpression="rate(3 minutes)")  # at 12:01
    assert fire(aws, queue_url, 150) == []
    assert [e["time"] for e in fire(aws, queue_url, 30)] == ["2030-01-01T12:04:00Z"]


def test_deleting_the_rule_stops_it(aws):
    sandbox.clock.freeze(START)
    queue_url = scheduled_queue(aws, "short-lived", "rate(1 minute)")
    assert len(fire(aws, queue_url, 60)) == 1

    aws.events.remove_targets(Rule="short-lived", Ids=["queue"])
    aws.events.delete_rule(Name="short-lived")

    sandbox.clock.advance(600)
    assert schedules.fire_due() == []
    assert nothing_on(aws, queue_url)
    assert schedules.schedules() == []


def test_a_cron_rule_fires_on_its_minutes_in_utc(aws):
    sandbox.clock.freeze(START)  # Tuesday 11:59
    queue_url = scheduled_queue(aws, "tuesdays", "cron(0/30 12 ? * TUE *)")
    (listed,) = schedules.schedules()
    assert listed["next"] == "2030-01-01T12:00:00Z"
    assert listed["valid"] is True

    assert [e["time"] for e in fire(aws, queue_url, 60)] == ["2030-01-01T12:00:00Z"]
    assert fire(aws, queue_url, 29 * 60) == []
    assert [e["time"] for e in fire(aws, queue_url, 60)] == ["2030-01-01T12:30:00Z"]
    assert fire(aws, queue_url, 24 * 3600) == []  # Wednesday: nothing
    assert sorted(e["time"] for e in fire(aws, queue_url, 6 * 24 * 3600)) == [
        "2030-01-08T12:00:00Z",
        "2030-01-08T12:30:00Z",
    ]


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(15 10 * * ? *)", "2030-01-01T10:15:00Z", "2030-01-02T10:15:00Z"),
        ("cron(*/20 * * * ? *)", "2030-01-01T10:15:00Z", "2030-01-01T10:20:00Z"),
        ("cron(0 8-10/2 ? * MON-FRI *)", "2030-01-04T10:00:00Z", "2030-01-07T08:00:00Z"),
        ("cron(0 0 L * ? *)", "2030-02-01T00:00:00Z", "2030-02-28T00:00:00Z"),
        ("cron(0 9 ? * 6#3 *)", "2030-01-01T00:00:00Z", "2030-01-18T09:00:00Z"),
        ("cron(0 9 ? * 2L *)", "2030-01-01T00:00:00Z", "2030-01-28T09:00:00Z"),
        ("cron(0 9 1W * ? *)", "2030-06-01T00:00:00Z", "2030-06-03T09:00:00Z"),
        ("cron(0 0 1 JAN ? 2031)", "2030-01-01T00:00:00Z", "2031-01-01T00:00:00Z"),
        ("rate(1 day)", "2030-01-01T00:00:00Z", "2030-01-02T00:00:00Z"),
    ],
)
def test_cron_and_rate_expressions(expression, after, expected):
    schedule = schedule_expressions.parse(expression)
    moment = datetime.fromisoformat(after)
    assert schedule is not None
    assert schedule.next_after(moment, moment).strftime("%Y-%m-%dT%H:%M:%SZ") == expected


def test_an_expression_moto_accepts_but_the_sandbox_cannot_read_never_fires(aws):
    queue_url = scheduled_queue(aws, "five-fields", "cron(0 12 * * *)")  # AWS needs 6 fields
    (listed,) = schedules.schedules()
    assert (listed["valid"], listed["next"]) == (False, None)
    assert fire(aws, queue_url, 7 * 24 * 3600) == []


def test_the_ticker_fires_without_any_call_and_reset_stops_it(aws):
    queue_url = scheduled_queue(aws, "ticking", "rate(1 minute)")
    assert schedules.running()

    sandbox.clock.advance(60)  # real time otherwise: only the ticker can fire it

    assert len(aws.drain(queue_url, wait_seconds=5)) == 1
    sandbox.reset()
    assert not schedules.running()
    sandbox.clock.advance(600)
    time.sleep(0.2)  # the ticker is stopped: nothing can arrive
    assert nothing_on(aws, queue_url)


def test_a_scheduled_event_reaches_a_missing_function_s_dead_letter_queue(aws):
    sandbox.clock.freeze(START)
    dead_url, dead_arn = aws.queue("dead-letters")
    aws.events.put_rule(Name="orphan", ScheduleExpression="rate(1 minute)")
    aws.events.put_targets(
        Rule="orphan",
        Targets=[
            {
                "Id": "gone",
                "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:gone",
                "DeadLetterConfig": {"Arn": dead_arn},
            }
        ],
    )
    sandbox.clock.advance(60)
    schedules.fire_due()

    messages = []
    deadline = time.monotonic() + 5
    while not messages and time.monotonic() < deadline:
        messages = aws.sqs.receive_message(
            QueueUrl=dead_url, MessageAttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
        time.sleep(0.05)
    (message,) = messages
    assert json.loads(message["Body"])["detail-type"] == "Scheduled Event"
    assert message["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "NO_RESOURCE"
    assert message["MessageAttributes"]["RULE_ARN"]["StringValue"] == RULE_ARN + "orphan"


# --- server mode: a Lambda target, the HTTP controls ---------------------------------------


def test_a_schedule_invokes_a_lambda_target_through_the_http_controls(local_aws, lambdas):
    seen_url, _ = lambdas.queue("seen")
    function_arn = recorder(lambdas, "recorder", "seen")
    local_aws.api("/moto-api/sandbox/clock/freeze", {"at": START.isoformat()})
    lambdas.events.put_rule(Name="nightly", ScheduleExpression="cron(0 0 * * ? *)")
    lambdas.events.put_targets(Rule="nightly", Targets=[{"Id": "fn", "Arn": function_arn}])

    (listed,) = local_aws.api("/moto-api/sandbox/schedules", method="GET")["schedules"]
    assert (listed["name"], listed["next"]) == ("nightly", "2030-01-02T00:00:00Z")
    assert local_aws.api("/moto-api/sandbox/schedules/fire") == {"fired": []}
    assert lambdas.receive(seen_url, wait=0.3) == []

    local_aws.api("/moto-api/sandbox/clock/advance", {"seconds": 12 * 3600 + 60})
    fired = local_aws.api("/moto-api/sandbox/schedules/fire")["fired"]

    (seen,) = lambdas.receive(seen_url)
    event = seen["body"]["event"]
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["time"] == "2030-01-02T00:00:00Z"
    assert event["resources"] == [RULE_ARN + "nightly"]
    assert event["detail"] == {}
    assert [f["rule"] for f in fired] in ([], [RULE_ARN + "nightly"])  # [] if the ticker did
    assert lambdas.receive(seen_url, wait=0.3) == []


def test_schedule_settings_and_reset_over_http(local_aws, lambdas):
    answer = local_aws.api("/moto-api/sandbox/settings", {"schedules": {"max_catch_up": 3}})
    assert answer["schedules"]["max_catch_up"] == 3
    queue_url, queue_arn = lambdas.queue("catch-up")
    local_aws.api("/moto-api/sandbox/clock/freeze", {"at": START.isoformat()})
    lambdas.events.put_rule(Name="often", ScheduleExpression="rate(1 minute)")
    lambdas.events.put_targets(Rule="often", Targets=[{"Id": "q", "Arn": queue_arn}])

    local_aws.api("/moto-api/sandbox/clock/advance", {"seconds": 3600})
    local_aws.api("/moto-api/sandbox/schedules/fire")

    events = lambdas.receive(queue_url, count=3)
    assert sorted(e["body"]["time"] for e in events) == [
        "2030-01-01T12:57:00Z",
        "2030-01-01T12:58:00Z",
        "2030-01-01T12:59:00Z",
    ]
    assert lambdas.receive(queue_url, wait=0.3) == []
    local_aws.api("/moto-api/sandbox/reset")
    assert schedule_settings.max_catch_up == 10
    assert not schedules.running()
