"""boto3 clients of the sandbox (moto extended by sandbox/, in-process or its server) and the
SQS queues the sandbox's tests read what it delivers from (sandbox/LOCAL_AWS.md)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from tests.support.aws_env import REGION

# A refused or failed call is the answer under test: boto3 must not hide it by retrying.
NO_RETRIES = Config(retries={"total_max_attempts": 1})


def sandbox_client(
    service: str, endpoint_url: str | None, config: Config = NO_RETRIES, **credentials: Any
) -> Any:
    """A client of the sandbox's server at ``endpoint_url``, or of moto in-process (None)."""
    return boto3.client(
        service, region_name=REGION, endpoint_url=endpoint_url, config=config, **credentials
    )


def create_queue(sqs: Any, name: str) -> tuple[str, str]:
    """An SQS queue: (url, arn)."""
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn
