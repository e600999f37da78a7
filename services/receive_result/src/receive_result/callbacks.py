"""Step Functions behind a small adapter: answers the waiting task."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

# The workflow is gone (stopped, timed out, already answered): retrying cannot help.
REFUSAL_CODES = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


class CallbackRefused(Exception):
    def __init__(self, code: str):
        super().__init__(f"Step Functions refused the callback: {code}")
        self.code = code


class WorkflowCallbacks:
    """`client` is a boto3 Step Functions client. Errors other than a refusal propagate,
    so the delivery is retried."""

    def __init__(self, client: Any):
        self._client = client

    def succeed(self, task_token: str, output: dict[str, Any]) -> None:
        self._call(self._client.send_task_success, taskToken=task_token, output=json.dumps(output))

    def fail(self, task_token: str, error: str, cause: str) -> None:
        self._call(self._client.send_task_failure, taskToken=task_token, error=error, cause=cause)

    @staticmethod
    def _call(operation: Any, **kwargs: Any) -> None:
        try:
            operation(**kwargs)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in REFUSAL_CODES:
                raise CallbackRefused(code) from None
            raise
