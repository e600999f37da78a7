"""Step Functions executions: status-change events on EventBridge, StopExecution of a workflow
waiting for a task token, task and execution timeouts (sandbox.stepfunctions.lifecycle)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.aws_env import ACCOUNT_ID, REGION
from tests.support.lambda_harness import LambdaHarness

DETAIL_TYPE = "Step Functions Execution Status Change"
TASK_CLOSED = "Task Timed Out: 'Provided task does not exist anymore'"


def same_time(epoch_millis: int, moment: datetime) -> bool:
    """An event's epoch milliseconds are the API's timestamp (to the millisecond)."""
    return isinstance(epoch_millis, int) and abs(epoch_millis - moment.timestamp() * 1000) < 1.5


def route(lambdas: LambdaHarness, name: str, state_machine_arn: str) -> str:
    """A rule for the status changes of ``state_machine_arn`` to a new queue; its URL."""
    queue_url, queue_arn = lambdas.queue(name)
    pattern = {
        "source": ["aws.states"],
        "detail-type": [DETAIL_TYPE],
        "detail": {"stateMachineArn": [state_machine_arn]},
    }
    lambdas.events.put_rule(Name=name, EventPattern=json.dumps(pattern))
    lambdas.events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return queue_url


def events(lambdas: LambdaHarness, queue_url: str, count: int) -> list[dict[str, Any]]:
    """``count`` events from the queue (waiting up to 10 s), in the order they were sent."""
    return [message["body"] for message in lambdas.receive(queue_url, count)]


def nothing_on(lambdas: LambdaHarness, queue_url: str) -> bool:
    """The queue is empty (events are put on it synchronously: no need to wait)."""
    return not lambdas.sqs.receive_message(QueueUrl=queue_url).get("Messages")


def single_state(state: dict) -> dict:
    return {"StartAt": "Only", "States": {"Only": state}}


GREET = single_state(
    {"Type": "Pass", "Result": {"hello": "world"}, "ResultPath": "$.greeting", "End": True}
)


def wait_for_token(token_queue: str) -> dict:
    return {
        "StartAt": "WaitForApproval",
        "States": {
            "WaitForApproval": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {
                    "QueueUrl": token_queue,
                    "MessageBody": {"token.$": "$$.Task.Token", "execution.$": "$$.Execution.Id"},
                },
                "End": True,
            }
        },
    }


def parked_token(lambdas: LambdaHarness, token_queue: str, execution_arn: str) -> str:
    (parked,) = lambdas.receive(token_queue)
    assert parked["body"]["execution"] == execution_arn
    return str(parked["body"]["token"])


def assert_task_closed(lambdas: LambdaHarness, token: str) -> None:
    with pytest.raises(ClientError) as success:
        lambdas.sfn.send_task_success(taskToken=token, output=json.dumps({"late": True}))
    with pytest.raises(ClientError) as failure:
        lambdas.sfn.send_task_failure(taskToken=token, error="Late", cause="too late")
    for raised in (success, failure):
        assert raised.value.response["Error"]["Code"] == "TaskTimedOut"
        assert raised.value.response["Error"]["Message"] == TASK_CLOSED


def test_a_workflow_sends_running_then_succeeded_to_its_rule_only(any_lambdas):
    lambdas = any_lambdas
    machine = lambdas.state_machine("greet", GREET)
    other = lambdas.state_machine("other", single_state({"Type": "Pass", "End": True}))
    queue = route(lambdas, "greet-status", machine)
    other_queue = route(lambdas, "other-status", other)

    execution_arn = lambdas.sfn.start_execution(
        stateMachineArn=machine, name="greet-1", input=json.dumps({"who": "alice"})
    )["executionArn"]
    running, succeeded = events(lambdas, queue, 2)
    described = lambdas.wait_execution(execution_arn)

    assert described["status"] == "SUCCEEDED"
    for event in (running, succeeded):
        assert event["source"] == "aws.states"
        assert event["detail-type"] == DETAIL_TYPE
        assert event["account"] == ACCOUNT_ID
        assert event["region"] == REGION
        assert event["resources"] == [execution_arn]
        assert event["detail"]["executionArn"] == execution_arn
        assert event["detail"]["stateMachineArn"] == machine
        assert event["detail"]["name"] == "greet-1"
        assert json.loads(event["detail"]["input"]) == {"who": "alice"}
        assert same_time(event["detail"]["startDate"], described["startDate"])
    assert running["detail"]["status"] == "RUNNING"
    assert running["detail"]["stopDate"] is None
    assert running["detail"]["output"] is None
    assert succeeded["detail"]["status"] == "SUCCEEDED"
    assert same_time(succeeded["detail"]["stopDate"], described["stopDate"])
    assert json.loads(succeeded["detail"]["output"]) == {
        "who": "alice",
        "greeting": {"hello": "world"},
    }
    assert "error" not in succeeded["detail"]
    assert nothing_on(lambdas, other_queue)

    # Stopping a finished execution changes nothing and sends nothing.
    stopped = lambdas.sfn.stop_execution(executionArn=execution_arn, error="Late")
    assert stopped["stopDate"] == described["stopDate"]
    again = lambdas.sfn.describe_execution(executionArn=execution_arn)
    assert again["status"] == "SUCCEEDED"
    assert "error" not in again
    assert nothing_on(lambdas, queue)


def test_a_fail_state_sends_failed_with_error_and_cause(any_lambdas):
    lambdas = any_lambdas
    machine = lambdas.state_machine(
        "reject", single_state({"Type": "Fail", "Error": "Rejected", "Cause": "alice said no"})
    )
    queue = route(lambdas, "reject-status", machine)

    described = lambdas.run(machine, {"approval": 7})
    running, failed = events(lambdas, queue, 2)

    assert described["status"] == "FAILED"
    assert running["detail"]["status"] == "RUNNING"
    assert failed["detail"]["status"] == "FAILED"
    assert failed["detail"]["error"] == "Rejected"
    assert failed["detail"]["cause"] == "alice said no"
    assert failed["detail"]["output"] is None
    assert same_time(failed["detail"]["stopDate"], described["stopDate"])
    assert nothing_on(lambdas, queue)


def test_stop_aborts_a_workflow_waiting_for_a_task_token(any_lambdas):
    lambdas = any_lambdas
    token_queue, _ = lambdas.queue("tokens")
    machine = lambdas.state_machine("gate", wait_for_token(token_queue))
    queue = route(lambdas, "gate-status", machine)
    execution_arn = lambdas.start(machine, {"change": 42})
    token = parked_token(lambdas, token_queue, execution_arn)
    assert lambdas.sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"

    stopped = lambdas.sfn.stop_execution(
        executionArn=execution_arn, error="Cancelled", cause="the change was withdrawn"
    )

    described = lambdas.sfn.describe_execution(executionArn=execution_arn)  # at once
    assert described["status"] == "ABORTED"
    assert described["stopDate"] == stopped["stopDate"]
    assert described["error"] == "Cancelled"
    assert described["cause"] == "the change was withdrawn"
    history = lambdas.sfn.get_execution_history(executionArn=execution_arn)["events"]
    assert history[-1]["type"] == "ExecutionAborted"
    assert history[-1]["executionAbortedEventDetails"] == {
        "error": "Cancelled",
        "cause": "the change was withdrawn",
    }
    running, aborted = events(lambdas, queue, 2)
    assert running["detail"]["status"] == "RUNNING"
    assert aborted["detail"]["status"] == "ABORTED"
    assert same_time(aborted["detail"]["stopDate"], stopped["stopDate"])
    assert aborted["detail"]["error"] == "Cancelled"
    assert aborted["detail"]["cause"] == "the change was withdrawn"

    assert_task_closed(lambdas, token)
    lambdas.sfn.stop_execution(executionArn=execution_arn)  # again: no error, no change
    assert lambdas.sfn.describe_execution(executionArn=execution_arn)["error"] == "Cancelled"
    assert nothing_on(lambdas, queue)  # ABORTED was sent once
    after = lambdas.sfn.get_execution_history(executionArn=execution_arn)["events"]
    assert [event["type"] for event in after] == [event["type"] for event in history]


def test_a_task_timeout_fails_the_execution_with_states_timeout(any_lambdas):
    lambdas = any_lambdas
    token_queue, _ = lambdas.queue("tokens")
    definition = wait_for_token(token_queue)
    definition["States"]["WaitForApproval"]["TimeoutSeconds"] = 1
    machine = lambdas.state_machine("gate", definition)
    queue = route(lambdas, "gate-status", machine)
    execution_arn = lambdas.start(machine, {})
    token = parked_token(lambdas, token_queue, execution_arn)

    described = lambdas.wait_execution(execution_arn, timeout=10)
    running, failed = events(lambdas, queue, 2)

    assert described["status"] == "FAILED"
    assert described["error"] == "States.Timeout"
    assert running["detail"]["status"] == "RUNNING"
    assert failed["detail"]["status"] == "FAILED"
    assert failed["detail"]["error"] == "States.Timeout"
    assert_task_closed(lambdas, token)


def test_an_execution_timeout_times_out_a_workflow_waiting_for_a_token(any_lambdas):
    lambdas = any_lambdas
    token_queue, _ = lambdas.queue("tokens")
    definition = {**wait_for_token(token_queue), "TimeoutSeconds": 1}
    machine = lambdas.state_machine("gate", definition)
    queue = route(lambdas, "gate-status", machine)
    execution_arn = lambdas.start(machine, {})
    token = parked_token(lambdas, token_queue, execution_arn)

    described = lambdas.wait_execution(execution_arn, timeout=10)
    running, timed_out = events(lambdas, queue, 2)

    assert described["status"] == "TIMED_OUT"
    assert same_time(timed_out["detail"]["stopDate"], described["stopDate"])
    assert running["detail"]["status"] == "RUNNING"
    assert timed_out["detail"]["status"] == "TIMED_OUT"
    history = lambdas.sfn.get_execution_history(executionArn=execution_arn)["events"]
    assert history[-1]["type"] == "ExecutionTimedOut"
    assert_task_closed(lambdas, token)
    assert nothing_on(lambdas, queue)
