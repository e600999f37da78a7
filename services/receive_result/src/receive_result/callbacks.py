"""Step Functions behind a small adapter: answers the waiting task."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:  # type checking only: the Lambda zips do not ship the stubs
    from mypy_boto3_stepfunctions import SFNClient

# The workflow is gone (stopped, timed out, already answered): retrying cannot help.
REFUSAL_CODES = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


class CallbackRefused(Exception):
    def __init__(self, code: str):
        super().__init__(f"Step Functions refused the callback: {code}")
        self.code = code


class WorkflowCallbacks:
    """Errors other than a refusal propagate, so the delivery is retried."""

    def __init__(self, client: SFNClient):
        self._client = client

    def succeed(self, task_token: str, output: Mapping[str, object]) -> None:
        with _refusal_raised():
            self._client.send_task_success(taskToken=task_token, output=json.dumps(output))

    def fail(self, task_token: str, error: str, cause: str) -> None:
        with _refusal_raised():
            self._client.send_task_failure(taskToken=task_token, error=error, cause=cause)


@contextmanager
def _refusal_raised() -> Iterator[None]:
    """A refusal (REFUSAL_CODES) raised as CallbackRefused; other errors as they are."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in REFUSAL_CODES:
            raise CallbackRefused(code) from None
        raise
