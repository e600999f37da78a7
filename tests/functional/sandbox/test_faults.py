"""Fault injection at moto's dispatch: real AWS errors for any service."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from sandbox import faults
from tests.support.aws_env import REGION, TABLE_NAME
from tests.support.records_table import create_records_table


def failure(call, *args, **kwargs) -> tuple[str, int] | None:
    """(error code, HTTP status) of a failed call, None if it succeeded."""
    try:
        call(*args, **kwargs)
    except ClientError as error:
        return error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]
    return None


def test_an_operation_fails_n_times_then_works(aws, alice):
    fault = faults.inject("ssm", "StartAutomationExecution", "ThrottlingException", times=2)
    for _ in range(2):
        with pytest.raises(ClientError) as raised:
            aws.start([alice.arn])
        assert raised.value.response["Error"]["Code"] == "ThrottlingException"
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert "ThrottlingException" in raised.value.response["Error"]["Message"]
    aws.start([alice.arn])
    assert fault.injected == 2
    assert faults.active() == []
    # Other operations of the service were never touched.
    assert len(aws.ssm.describe_automation_executions()["AutomationExecutionMetadataList"]) == 1


def test_a_step_functions_callback_fails_with_a_5xx(aws):
    sfn = aws.client("stepfunctions")
    faults.inject(
        "stepfunctions", "SendTaskSuccess", "ServiceUnavailable", status=503, message="busy"
    )
    with pytest.raises(ClientError) as raised:
        sfn.send_task_success(taskToken="token", output="{}")
    error = raised.value.response
    assert (error["Error"]["Code"], error["Error"]["Message"]) == ("ServiceUnavailable", "busy")
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 503

    faults.clear()
    # moto's own answer again (whatever it is for an unknown token)
    assert failure(sfn.send_task_success, taskToken="token", output="{}") != (
        "ServiceUnavailable",
        503,
    )


@pytest.mark.parametrize(
    ("service", "operation", "call"),
    [
        ("sns", "ListTopics", lambda aws: aws.sns.list_topics()),  # query protocol (XML)
        ("sqs", "ListQueues", lambda aws: aws.sqs.list_queues()),  # JSON, query-compatible
        (
            "events",
            "PutRule",
            lambda aws: aws.events.put_rule(Name="r", ScheduleExpression="rate(1 minute)"),
        ),
    ],
)
def test_any_service_and_protocol(aws, service, operation, call):
    faults.inject(service, operation, "ThrottlingException", times=1)
    assert failure(call, aws) == ("ThrottlingException", 400)
    assert failure(call, aws) is None


def test_a_seeded_probability_is_reproducible(aws):
    def pattern() -> list[bool]:
        faults.clear()
        faults.inject("sns", "ListTopics", "ThrottlingException", probability=0.5, seed=7)
        return [failure(aws.sns.list_topics) is not None for _ in range(20)]

    first = pattern()
    assert first == pattern()
    assert 0 < sum(first) < 20


def test_probability_and_times_together_cap_the_failures(aws):
    fault = faults.inject("sns", "ListTopics", "ThrottlingException", probability=0.9, times=3)
    results = [failure(aws.sns.list_topics) for _ in range(30)]
    assert sum(result is not None for result in results) == 3
    assert fault.exhausted


def test_botocore_retries_an_injected_throttle(aws, alice):
    fault = faults.inject("ssm", "DescribeAutomationExecutions", "ThrottlingException", times=2)
    retrying = boto3.client("ssm", region_name=REGION)  # default retry policy
    retrying.describe_automation_executions()
    assert fault.injected == 2


def test_remove_and_clear(aws):
    first = faults.inject("sns", "ListTopics", "ThrottlingException")
    faults.inject("sqs", "ListQueues", "ThrottlingException")
    faults.remove(first)
    assert failure(aws.sns.list_topics) is None
    assert failure(aws.sqs.list_queues) == ("ThrottlingException", 400)
    faults.clear()
    assert failure(aws.sqs.list_queues) is None


def test_a_fault_narrowed_to_a_body_fails_only_the_requests_that_hold_it(aws):
    dynamodb = aws.client("dynamodb")
    create_records_table(dynamodb)
    fault = faults.inject(
        "dynamodb", "PutItem", "ResourceNotFoundException", times=1, body_contains='"approval#'
    )

    def put(key: str) -> tuple[str, int] | None:
        return failure(dynamodb.put_item, TableName=TABLE_NAME, Item={"pk": {"S": key}})

    assert put("pacer#StartAutomationExecution") is None  # not narrowed to it: untouched
    assert put("approval#1") == ("ResourceNotFoundException", 400)
    assert put("approval#2") is None  # times=1
    assert fault.injected == 1
