"""A workflow of "your own" that calls the gate (tests/e2e/test_lifecycle.py): the e2e
deployment lists it, so its ended executions close their approvals."""

from __future__ import annotations

from tests.support.aws_env import ACCOUNT_ID, REGION

CLIENT_STATE_MACHINE_NAME = "release-pipeline"
CLIENT_STATE_MACHINE_ARN = (
    f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{CLIENT_STATE_MACHINE_NAME}"
)
