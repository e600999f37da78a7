"""A stand-in for the context Lambda passes a handler (what Powertools reads of it)."""

from __future__ import annotations

import uuid

from tests.support.aws_env import ACCOUNT_ID, REGION


class LambdaContext:
    function_name = "approval-gate"
    function_version = "1"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:approval-gate:live"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000
