"""boto3 clients of the services, with one retry policy."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

# Standard mode backs off with jitter on throttling and transient errors. Three attempts
# in all keep a call well inside the function's timeout; past them the error surfaces and
# the caller's own retries take over (the workflow's Retry, EventBridge/Lambda redelivery).
RETRY_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 3})


def client(service: str) -> Any:
    return boto3.client(service, config=RETRY_CONFIG)
