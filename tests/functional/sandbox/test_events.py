"""The EventBridge events of SSM Automation: routed by moto's rules, in AWS's format."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

import sandbox
from sandbox.ssm.events import event_time
from tests.support.aws_env import ACCOUNT_ID, REGION
from tests.support.sandbox_account import (
    DOCUMENT_NAME,
    EXECUTION_EVENT,
    STEP_EVENT,
    route_to_queue,
)

AWS_EVENT_TIME = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}:\d{2} [AP]M$")


def test_an_approval_reaches_a_rule_with_the_original_stacks_pattern(aws, alice):
    queue_url = route_to_queue(
        aws,
        "approval-results",
        {
            "source": ["aws.ssm"],
            "detail-type": [STEP_EVENT],
            "detail": {
                "Definition": [DOCUMENT_NAME],
                "Status": ["Success", "Failed"],
                "Action": ["aws:approve"],
            },
        },
    )
    execution_id = aws.start([alice.arn])
    assert aws.drain(queue_url) == []  # Waiting is not a result
    alice.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")

    (event,) = aws.drain(queue_url, wait_seconds=2)
    execution_arn = f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:automation-execution/{execution_id}"
    definition_arn = f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:automation-definition/{DOCUMENT_NAME}:1"
    assert event["source"] == "aws.ssm"
    assert event["detail-type"] == STEP_EVENT
    # moto's default target input template leaves out "account"; the listener has it.
    assert event.get("account", ACCOUNT_ID) == ACCOUNT_ID
    assert event["region"] == REGION
    assert event["resources"] == [execution_arn, definition_arn]
    assert datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")
    detail = event["detail"]
    assert set(detail) == {
        "ExecutionId",
        "Definition",
        "DefinitionVersion",
        "Status",
        "StartTime",
        "EndTime",
        "Time",
        "StepName",
        "Action",
    }
    assert detail["ExecutionId"] == execution_id
    assert detail["Definition"] == DOCUMENT_NAME
    assert detail["DefinitionVersion"] == 1.0
    assert isinstance(detail["DefinitionVersion"], float)
    assert (detail["Status"], detail["StepName"], detail["Action"]) == (
        "Success",
        "Approve",
        "aws:approve",
    )
    assert AWS_EVENT_TIME.match(detail["StartTime"])
    assert AWS_EVENT_TIME.match(detail["EndTime"])
    assert isinstance(detail["Time"], float)


def test_execution_events_carry_executed_by(aws, alice):
    queue_url = route_to_queue(
        aws, "executions", {"source": ["aws.ssm"], "detail-type": [EXECUTION_EVENT]}
    )
    starter = aws.user("starter")
    execution_id = starter.ssm.start_automation_execution(
        DocumentName=DOCUMENT_NAME,
        Parameters={
            "ApprovalId": ["7d6f5b8e-0000-4000-8000-000000000001"],
            "Message": ["m"],
            "Approvers": [alice.arn],
            "NotificationArn": [aws.topic_arn],
        },
    )["AutomationExecutionId"]
    aws.ssm.stop_automation_execution(AutomationExecutionId=execution_id)

    events = aws.drain(queue_url, wait_seconds=2)
    assert [e["detail"]["Status"] for e in events] == [
        "InProgress",
        "Waiting",
        "Cancelling",
        "Cancelled",
    ]
    for event in events:
        assert event["detail"]["ExecutedBy"] == starter.arn
        assert "StepName" not in event["detail"]
        assert "Action" not in event["detail"]
    assert "EndTime" not in events[0]["detail"]  # not ended yet
    assert AWS_EVENT_TIME.match(events[-1]["detail"]["EndTime"])


def test_a_timeout_is_an_event_too(aws, alice):
    queue_url = route_to_queue(
        aws,
        "timeouts",
        {"source": ["aws.ssm"], "detail-type": [STEP_EVENT], "detail": {"Status": ["TimedOut"]}},
    )
    execution_id = aws.start([alice.arn])
    sandbox.clock.advance(7200)
    sandbox.expire_due()
    (event,) = aws.drain(queue_url, wait_seconds=2)
    assert event["detail"]["ExecutionId"] == execution_id
    assert event["detail"]["Time"] >= 3600 * 1000  # milliseconds from start to end


def test_the_listener_sees_every_status_change_in_order(aws, alice, emitted):
    execution_id = aws.start([alice.arn])
    alice.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")

    assert [(e["detail-type"] == STEP_EVENT, e["detail"]["Status"]) for e in emitted] == [
        (False, "InProgress"),
        (True, "InProgress"),
        (True, "Waiting"),
        (False, "Waiting"),
        (True, "Success"),
        (False, "InProgress"),
        (False, "Success"),
    ]
    assert {e["detail"]["ExecutionId"] for e in emitted} == {execution_id}
    assert all(e["source"] == "aws.ssm" and e["id"] for e in emitted)


def test_a_rejection_event_has_the_configured_status(aws, alice, emitted):
    sandbox.settings.rejection_status = "Success"
    execution_id = aws.start([alice.arn])
    alice.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Reject")
    step_statuses = [e["detail"]["Status"] for e in emitted if e["detail-type"] == STEP_EVENT]
    assert step_statuses[-1] == "Success"  # the decision itself is only in ApprovalStatus


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2024, 11, 29, 19, 43, 25, tzinfo=UTC), "Nov 29, 2024 7:43:25 PM"),
        (datetime(2024, 12, 5, 0, 0, 7, tzinfo=UTC), "Dec 5, 2024 12:00:07 AM"),
        (datetime(2025, 1, 1, 12, 30, 0, tzinfo=UTC), "Jan 1, 2025 12:30:00 PM"),
    ],
)
def test_event_time_format(moment, text):
    assert event_time(moment) == text
