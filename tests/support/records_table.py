"""The approval records table as terraform/modules/approval_gate defines it."""

from __future__ import annotations

from typing import Any

from tests.support.aws_env import TABLE_NAME


def create_records_table(dynamodb: Any) -> None:
    """`dynamodb` is a boto3 DynamoDB client (of moto or the local AWS)."""
    dynamodb.create_table(
        TableName=TABLE_NAME,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "execution_arn", "AttributeType": "S"},
            {"AttributeName": "awaiting", "AttributeType": "S"},
            {"AttributeName": "requested_epoch", "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_execution",
                "KeySchema": [{"AttributeName": "execution_arn", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "pending",
                "KeySchema": [
                    {"AttributeName": "awaiting", "KeyType": "HASH"},
                    {"AttributeName": "requested_epoch", "KeyType": "RANGE"},
                ],
                "Projection": {
                    "ProjectionType": "INCLUDE",
                    "NonKeyAttributes": ["approval_id", "automation_execution_id"],
                },
            },
        ],
        BillingMode="PAY_PER_REQUEST",
    )
