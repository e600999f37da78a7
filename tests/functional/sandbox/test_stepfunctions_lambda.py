"""Step Functions' ``lambda:invoke`` and ``lambda:invoke.waitForTaskToken`` run the function's
zip, in server mode and in-process; its errorType drives Retry and Catch."""

from __future__ import annotations

import json

from sandbox import faults

APP = """
import json
import os

import boto3


class FlakyError(Exception):
    pass


class InvalidApprovalRequest(Exception):
    pass


def handler(event, context):
    print("attempt", event.get("retry"))
    if event.get("invalid"):
        raise InvalidApprovalRequest("message is required")
    if event.get("retry", 0) < event.get("fail_times", 0):
        raise FlakyError(f"attempt {event.get('retry')} failed")
    return {"answer": 42, "attempt": event.get("retry")}


def park_token(event, context):
    if event.get("invalid"):
        raise InvalidApprovalRequest("message is required")
    sqs = boto3.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=os.environ["QUEUE_NAME"])["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(event))
    return {"parked": True}
"""


def invoke_state(function_arn: str) -> dict:
    return {
        "StartAt": "Invoke",
        "States": {
            "Invoke": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {
                    "FunctionName": function_arn,
                    "Payload": {
                        "retry.$": "$$.State.RetryCount",
                        "fail_times.$": "$.fail_times",
                        "invalid.$": "$.invalid",
                    },
                },
                "OutputPath": "$.Payload",
                "Retry": [
                    {
                        "ErrorEquals": ["FlakyError", "Lambda.TooManyRequestsException"],
                        "IntervalSeconds": 1,
                        "MaxAttempts": 1,
                        "BackoffRate": 1,
                    }
                ],
                "Catch": [
                    {
                        "ErrorEquals": ["InvalidApprovalRequest", "FlakyError"],
                        "ResultPath": "$.error",
                        "Next": "Rejected",
                    }
                ],
                "End": True,
            },
            "Rejected": {"Type": "Pass", "End": True},
        },
    }


def test_lambda_invoke_with_retry_and_catch_on_the_error_type(any_lambdas):
    lambdas = any_lambdas
    arn = lambdas.function("answer", {"app.py": APP})
    machine = lambdas.state_machine("answer", invoke_state(arn))

    started = [  # at once: the retries' one-second intervals overlap
        lambdas.start(machine, {"fail_times": fail_times, "invalid": invalid})
        for fail_times, invalid in ((0, False), (1, False), (0, True), (5, False))
    ]
    succeeded, retried, caught, exhausted = map(lambdas.wait_execution, started)

    assert succeeded["status"] == "SUCCEEDED"
    assert json.loads(succeeded["output"]) == {"answer": 42, "attempt": 0}
    assert retried["status"] == "SUCCEEDED"
    assert json.loads(retried["output"]) == {"answer": 42, "attempt": 1}
    assert caught["status"] == "SUCCEEDED"
    error = json.loads(caught["output"])["error"]
    assert error["Error"] == "InvalidApprovalRequest"
    assert json.loads(error["Cause"])["errorMessage"] == "message is required"
    assert json.loads(exhausted["output"])["error"]["Error"] == "FlakyError"
    assert any(line == "attempt 1" for line in lambdas.log_messages("answer"))


def test_an_invoke_error_is_a_lambda_error_name(any_lambdas):
    lambdas = any_lambdas
    arn = lambdas.function("answer", {"app.py": APP})
    machine = lambdas.state_machine("answer", invoke_state(arn))
    fault = faults.inject("lambda", "Invoke", "TooManyRequestsException", status=429, times=1)

    retried = lambdas.run(machine, {"fail_times": 0, "invalid": False})

    assert fault.injected == 1
    assert retried["status"] == "SUCCEEDED"  # retried on Lambda.TooManyRequestsException
    assert json.loads(retried["output"]) == {"answer": 42, "attempt": 1}


def wait_state(alias_arn: str) -> dict:
    return {
        "StartAt": "RequestApproval",
        "States": {
            "RequestApproval": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": alias_arn,
                    "Payload": {
                        "task_token.$": "$$.Task.Token",
                        "execution_arn.$": "$$.Execution.Id",
                        "invalid.$": "$.invalid",
                    },
                },
                "ResultPath": "$.approval",
                "Catch": [
                    {
                        "ErrorEquals": ["InvalidApprovalRequest"],
                        "ResultPath": "$.error",
                        "Next": "Invalid",
                    }
                ],
                "End": True,
            },
            "Invalid": {"Type": "Pass", "End": True},
        },
    }


def test_wait_for_task_token_round_trip_through_the_function(any_lambdas):
    lambdas = any_lambdas
    tokens_url, _ = lambdas.queue("tokens")
    lambdas.function("start-approval", {"app.py": APP}, "app.park_token",
                     environment={"QUEUE_NAME": "tokens"})  # fmt: skip
    lambdas.lam.publish_version(FunctionName="start-approval")
    alias_arn = lambdas.lam.create_alias(
        FunctionName="start-approval", Name="live", FunctionVersion="1"
    )["AliasArn"]
    machine = lambdas.state_machine("gate", wait_state(alias_arn))
    execution_arn = lambdas.sfn.start_execution(
        stateMachineArn=machine, name="approve-1", input=json.dumps({"invalid": False})
    )["executionArn"]

    (parked,) = lambdas.receive(tokens_url)
    assert parked["body"]["execution_arn"] == execution_arn
    assert lambdas.sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"
    lambdas.sfn.send_task_success(
        taskToken=parked["body"]["task_token"], output=json.dumps({"decision": "Approved"})
    )

    done = lambdas.wait_execution(execution_arn)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"])["approval"] == {"decision": "Approved"}

    caught = lambdas.run(machine, {"invalid": True})
    assert caught["status"] == "SUCCEEDED"
    assert json.loads(caught["output"])["error"]["Error"] == "InvalidApprovalRequest"
