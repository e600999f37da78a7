"""Settings of the local AWS for reads that lag behind writes (an automation's status read
right after its event, a DynamoDB global secondary index), one value at a time, through boto3
(docs/aws-behaviour.md, the anchors in sandbox/ssm/settings.py)."""

from __future__ import annotations

import time
from typing import Any

import pytest

import sandbox
from sandbox import dynamodb
from tests.support.approval_document import TIMEOUT_SECONDS
from tests.support.sandbox_variants import signal

settings = sandbox.settings

# --- read after event ---------------------------------------------------------------------


def test_status_read_lag_reads_zero_reads_what_the_event_says(aws, alice, emitted):
    execution_id = aws.start([alice.arn])
    signal(alice, execution_id, "Approve")
    assert emitted[-1]["detail"]["Status"] == "Success"
    assert aws.execution(execution_id)["AutomationExecutionStatus"] == "Success"


def test_status_read_lag_reads_two_reads_show_the_previous_status(aws, alice, emitted):
    settings.status_read_lag_reads = 2
    execution_id = aws.start([alice.arn])
    # A new execution has no previous state: it reads as it is.
    assert aws.execution(execution_id)["AutomationExecutionStatus"] == "Waiting"

    signal(alice, execution_id, "Approve")
    assert emitted[-1]["detail"]["Status"] == "Success"  # the event is already out
    first = aws.execution(execution_id)
    assert first["AutomationExecutionStatus"] == "Waiting"
    assert first["StepExecutions"][0]["StepStatus"] == "Waiting"
    assert first["StepExecutions"][0]["Outputs"]["ApprovalStatus"] == ["Waiting"]
    steps = aws.ssm.describe_automation_step_executions(AutomationExecutionId=execution_id)
    assert steps["StepExecutions"][0]["StepStatus"] == "Waiting"
    third = aws.execution(execution_id)
    assert third["AutomationExecutionStatus"] == "Success"
    assert third["StepExecutions"][0]["Outputs"]["ApprovalStatus"] == ["Approved"]


def test_status_read_lag_counts_describe_automation_executions(aws, alice):
    settings.status_read_lag_reads = 2
    execution_id = aws.start([alice.arn])
    other = aws.start([alice.arn])
    signal(alice, execution_id, "Reject")
    by_status = {"Key": "ExecutionStatus", "Values": ["Failed"]}
    listed = aws.ssm.describe_automation_executions(Filters=[by_status])
    assert listed["AutomationExecutionMetadataList"] == []  # still Waiting to readers
    listed = aws.ssm.describe_automation_executions()["AutomationExecutionMetadataList"]
    statuses = {item["AutomationExecutionId"]: item["AutomationExecutionStatus"] for item in listed}
    assert statuses == {execution_id: "Waiting", other: "Waiting"}
    listed = aws.ssm.describe_automation_executions(Filters=[by_status])
    assert [
        item["AutomationExecutionId"] for item in listed["AutomationExecutionMetadataList"]
    ] == [execution_id]


def test_status_read_lag_applies_to_expiry_and_stop(aws, alice):
    settings.status_read_lag_reads = 2
    expired = aws.start([alice.arn])
    stopped = aws.start([alice.arn])
    aws.ssm.stop_automation_execution(AutomationExecutionId=stopped)
    assert [aws.execution(stopped)["AutomationExecutionStatus"] for _ in range(3)] == [
        "Waiting",
        "Waiting",
        "Cancelled",
    ]
    sandbox.clock.advance(TIMEOUT_SECONDS + 1)
    sandbox.expire_due()
    assert [aws.execution(expired)["AutomationExecutionStatus"] for _ in range(3)] == [
        "Waiting",
        "Waiting",
        "TimedOut",
    ]


# --- DynamoDB global secondary indexes ----------------------------------------------------


@pytest.fixture
def records(aws) -> Any:
    dynamodb.install()
    client = aws.client("dynamodb")
    client.create_table(
        TableName="records",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "status", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_status",
                "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    return client


def _by_status(client: Any, status: str) -> list[str]:
    items = client.query(
        TableName="records",
        IndexName="by_status",
        KeyConditionExpression="#s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": status}},
    )["Items"]
    return sorted(item["id"]["S"] for item in items)


def _scan_index(client: Any) -> list[str]:
    items = client.scan(TableName="records", IndexName="by_status")["Items"]
    return sorted(item["id"]["S"] for item in items)


def test_gsi_lag_zero_the_index_shows_every_write_at_once(records):
    records.put_item(TableName="records", Item={"id": {"S": "a"}, "status": {"S": "PENDING"}})
    assert _by_status(records, "PENDING") == ["a"]


@pytest.mark.parametrize("lag", [2, 0.4])
def test_gsi_lag_the_index_shows_items_as_they_were_lag_seconds_ago(records, lag):
    sandbox.settings.gsi_lag_seconds = lag
    put = records.put_item
    put(TableName="records", Item={"id": {"S": "old"}, "status": {"S": "PENDING"}})
    put(TableName="records", Item={"id": {"S": "gone"}, "status": {"S": "PENDING"}})
    time.sleep(lag + 0.1)
    assert _by_status(records, "PENDING") == ["gone", "old"]

    put(TableName="records", Item={"id": {"S": "new"}, "status": {"S": "PENDING"}})
    records.update_item(
        TableName="records",
        Key={"id": {"S": "old"}},
        UpdateExpression="SET #s = :d",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":d": {"S": "DECIDED"}},
    )
    records.delete_item(TableName="records", Key={"id": {"S": "gone"}})
    # The index: as lag seconds ago (new absent, old still PENDING, gone still there).
    assert _by_status(records, "PENDING") == ["gone", "old"]
    assert _by_status(records, "DECIDED") == []
    assert _scan_index(records) == ["gone", "old"]
    # The base table: strongly consistent when asked.
    item = records.get_item(TableName="records", Key={"id": {"S": "old"}}, ConsistentRead=True)
    assert item["Item"]["status"]["S"] == "DECIDED"
    assert "Item" not in records.get_item(
        TableName="records", Key={"id": {"S": "gone"}}, ConsistentRead=True
    )
    scanned = records.scan(TableName="records", ConsistentRead=True)["Items"]
    assert sorted(i["id"]["S"] for i in scanned) == ["new", "old"]

    time.sleep(lag + 0.1)
    assert _by_status(records, "PENDING") == ["new"]
    assert _by_status(records, "DECIDED") == ["old"]


def test_gsi_lag_covers_transactions_and_batches(records):
    sandbox.settings.gsi_lag_seconds = 0.4
    records.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": "records",
                    "Item": {"id": {"S": "t"}, "status": {"S": "PENDING"}},
                }
            }
        ]
    )
    records.batch_write_item(
        RequestItems={
            "records": [{"PutRequest": {"Item": {"id": {"S": "b"}, "status": {"S": "PENDING"}}}}]
        }
    )
    assert _by_status(records, "PENDING") == []
    time.sleep(0.5)
    assert _by_status(records, "PENDING") == ["b", "t"]
