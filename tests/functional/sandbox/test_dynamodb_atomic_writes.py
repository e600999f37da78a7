"""The local AWS's DynamoDB applies each write request atomically, its ReturnValues included
(docs/aws-behaviour.md#dynamodb-atomic-writes): many threads incrementing one counter each get
a different old value, and every conditional claim of one item but one is refused."""

from __future__ import annotations

import threading

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

import sandbox

THREADS = 32


@pytest.fixture
def table():
    with mock_aws():
        sandbox.install()
        sandbox.reset()
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.put_item(TableName="t", Item={"pk": {"S": "counter"}, "n": {"N": "0"}})
        yield client
        sandbox.reset()


def in_threads(action) -> list:
    results: list = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def run() -> None:
        start.wait()
        result = action()
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_increments_each_return_a_different_old_value(table):
    def increment() -> int:
        old = table.update_item(
            TableName="t",
            Key={"pk": {"S": "counter"}},
            UpdateExpression="SET n = n + :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_OLD",
        )["Attributes"]["n"]["N"]
        return int(old)

    assert sorted(in_threads(increment)) == list(range(THREADS))


def test_one_conditional_claim_of_an_item_wins(table):
    def claim() -> bool:
        try:
            table.update_item(
                TableName="t",
                Key={"pk": {"S": "counter"}},
                UpdateExpression="SET claimed = :yes",
                ConditionExpression="attribute_not_exists(claimed)",
                ExpressionAttributeValues={":yes": {"BOOL": True}},
            )
        except ClientError as error:
            assert error.response["Error"]["Code"] == "ConditionalCheckFailedException"
            return False
        return True

    assert sorted(in_threads(claim)) == [False] * (THREADS - 1) + [True]
