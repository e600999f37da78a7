"""Events dropped on purpose: SSM's events are best effort, AWS may never deliver one
(AWS_FACTS.md). ``sandbox.events.drop_events`` and ``/moto-api/sandbox/events/drop``."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

import sandbox
from sandbox.events import drops, schedules
from tests.support.lambda_harness import recorder
from tests.support.sandbox_account import EXECUTION_EVENT, STEP_EVENT, route_to_queue


def approve(aws, alice) -> str:
    execution_id = aws.start([alice.arn])
    alice.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")
    return execution_id


def test_a_dropped_ssm_step_event_never_arrives_and_the_next_one_does(aws, alice, emitted):
    queue_url = route_to_queue(aws, "steps", {"source": ["aws.ssm"], "detail-type": [STEP_EVENT]})
    drop = drops.drop_events(
        source="aws.ssm", detail_type=STEP_EVENT, detail={"Status": "Success"}, times=1
    )

    first = approve(aws, alice)
    statuses = [e["detail"]["Status"] for e in aws.drain(queue_url, wait_seconds=1)]
    assert statuses == ["InProgress", "Waiting"]  # the step's Success was lost
    assert drop.dropped == 1
    assert drop.exhausted
    (lost,) = drop.events
    assert (lost["detail"]["ExecutionId"], lost["detail"]["Status"]) == (first, "Success")

    second = approve(aws, alice)
    events = aws.drain(queue_url, wait_seconds=1)
    assert [(e["detail"]["ExecutionId"], e["detail"]["Status"]) for e in events] == [
        (second, "InProgress"),
        (second, "Waiting"),
        (second, "Success"),
    ]
    assert drop.dropped == 1
    # The listeners see what SSM emitted, the lost event included: only delivery failed.
    successes = [
        e["detail"]["ExecutionId"]
        for e in emitted
        if e["detail-type"] == STEP_EVENT and e["detail"]["Status"] == "Success"
    ]
    assert successes == [first, second]
    # The execution itself is unaffected: the gate must read it when the event never comes.
    assert aws.approve_step(first)["Outputs"]["ApprovalStatus"] == ["Approved"]


def test_a_drop_matches_source_detail_type_and_detail_fields_only(aws, alice):
    queue_url = route_to_queue(aws, "all-ssm", {"source": ["aws.ssm"]})
    drop = drops.drop_events(
        "aws.ssm", EXECUTION_EVENT, {"Status": ["Success", "Failed"]}, times=None
    )

    approve(aws, alice)
    approve(aws, alice)

    events = aws.drain(queue_url, wait_seconds=1)
    kinds = {(e["detail-type"], e["detail"]["Status"]) for e in events}
    assert (EXECUTION_EVENT, "Success") not in kinds
    assert {
        (STEP_EVENT, "Success"),
        (EXECUTION_EVENT, "InProgress"),
        (EXECUTION_EVENT, "Waiting"),
    } <= kinds
    assert drop.dropped == 2  # times=None: every match until cleared
    assert not drop.exhausted

    drops.clear_drops()
    approve(aws, alice)
    kinds = {(e["detail-type"], e["detail"]["Status"]) for e in aws.drain(queue_url, 1)}
    assert (EXECUTION_EVENT, "Success") in kinds


def test_put_events_accepts_a_dropped_entry_and_delivers_the_rest_in_order(aws):
    queue_url = route_to_queue(aws, "orders", {"source": ["shop"]})
    logs = aws.client("logs")
    logs.create_log_group(logGroupName="/orders")
    group_arn = logs.describe_log_groups(logGroupNamePrefix="/orders")["logGroups"][0]["arn"]
    aws.events.put_rule(Name="logged", EventPattern=json.dumps({"source": ["shop"]}))
    aws.events.put_targets(Rule="logged", Targets=[{"Id": "log", "Arn": group_arn.rstrip(":*")}])
    drop = drops.drop_events("shop", "Order", {"id": 2})

    answer = aws.events.put_events(
        Entries=[
            {"Source": "shop", "DetailType": "Order", "Detail": json.dumps({"id": 1})},
            {"Source": "shop", "DetailType": "Order", "Detail": json.dumps({"id": 2})},
            {"Source": "shop", "DetailType": "Order"},  # invalid: moto's own error entry
            {"Source": "shop", "DetailType": "Order", "Detail": json.dumps({"id": 3})},
        ]
    )

    entries = answer["Entries"]
    assert [("EventId" in entry) for entry in entries] == [True, True, False, True]
    assert answer["FailedEntryCount"] == 1
    assert entries[1]["EventId"] == drop.events[0]["id"]
    assert [e["detail"]["id"] for e in aws.drain(queue_url, wait_seconds=1)] == [1, 3]
    logged = logs.filter_log_events(logGroupName="/orders")["events"]
    assert sorted(json.loads(e["message"])["detail"]["id"] for e in logged) == [1, 3]
    assert drop.dropped == 1


def test_a_scheduled_event_can_be_dropped_too(aws):
    sandbox.clock.freeze(datetime(2030, 1, 1, 12, 0, tzinfo=UTC))
    queue_url, queue_arn = aws.queue("ticks")
    aws.events.put_rule(Name="ticks", ScheduleExpression="rate(1 minute)")
    aws.events.put_targets(Rule="ticks", Targets=[{"Id": "q", "Arn": queue_arn}])
    drop = drops.drop_events("aws.events", "Scheduled Event")

    sandbox.clock.advance(120)
    schedules.fire_due()

    (event,) = aws.drain(queue_url, wait_seconds=0.5)
    assert event["time"] == "2030-01-01T12:02:00Z"
    assert drop.dropped == 1


def test_reset_clears_the_drops_and_bad_arguments_are_refused(aws):
    drop = drops.drop_events("shop")
    assert drops.drops() == [drop]
    sandbox.reset()
    assert drops.drops() == []
    with pytest.raises(ValueError):
        drops.drop_events("")
    with pytest.raises(ValueError):
        drops.drop_events("shop", times=0)


def test_drops_over_http_reach_no_target_of_any_kind(local_aws, lambdas):
    seen_url, _ = lambdas.queue("seen")
    copies_url, copies_arn = lambdas.queue("copies")
    function_arn = recorder(lambdas, "recorder", "seen")
    lambdas.events.put_rule(Name="orders", EventPattern=json.dumps({"source": ["shop"]}))
    lambdas.events.put_targets(
        Rule="orders",
        Targets=[{"Id": "fn", "Arn": function_arn}, {"Id": "q", "Arn": copies_arn}],
    )
    answer = local_aws.api(
        "/moto-api/sandbox/events/drop",
        {"source": "shop", "detail_type": "Order", "detail": {"Status": "Paid"}, "times": 1},
    )
    assert answer["drop"]["dropped"] == 0

    def put(status: str) -> None:
        lambdas.events.put_events(
            Entries=[
                {"Source": "shop", "DetailType": "Order", "Detail": json.dumps({"Status": status})}
            ]
        )

    put("Paid")
    assert lambdas.receive(copies_url, wait=0.5) == []
    assert lambdas.receive(seen_url, wait=0.5) == []
    put("Paid")
    (copy,) = lambdas.receive(copies_url)
    (seen,) = lambdas.receive(seen_url)
    assert copy["body"]["detail"] == seen["body"]["event"]["detail"] == {"Status": "Paid"}
    assert lambdas.receive(seen_url, wait=0.3) == []  # the first one never comes

    (listed,) = local_aws.api("/moto-api/sandbox/events/drop", method="GET")["drops"]
    assert (listed["id"], listed["dropped"], listed["exhausted"]) == (answer["drop"]["id"], 1, True)
    local_aws.api("/moto-api/sandbox/events/drop", {"source": "shop"})
    local_aws.api("/moto-api/sandbox/reset")
    assert local_aws.api("/moto-api/sandbox/events/drop", method="GET")["drops"] == []
    put("Paid")
    assert len(lambdas.receive(copies_url)) == 1
