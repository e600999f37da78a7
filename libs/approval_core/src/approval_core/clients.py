"""boto3 clients of the services, with one retry policy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, overload

import boto3
from botocore.config import Config

if TYPE_CHECKING:  # the stubs are a development dependency: the Lambda zips do not ship them
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_stepfunctions import SFNClient

# Standard mode backs off with jitter on throttling and transient errors. Three attempts
# in all keep a call well inside the function's timeout; past them the error surfaces and
# the caller's own retries take over (the workflow's Retry, EventBridge/Lambda redelivery).
RETRY_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 3})

# The services the functions call, each typed by its stub.
Service = Literal["ssm", "dynamodb", "stepfunctions"]


@overload
def client(service: Literal["ssm"]) -> SSMClient: ...
@overload
def client(service: Literal["dynamodb"]) -> DynamoDBClient: ...
@overload
def client(service: Literal["stepfunctions"]) -> SFNClient: ...
def client(service: Service) -> SSMClient | DynamoDBClient | SFNClient:
    return boto3.client(service, config=RETRY_CONFIG)
