"""Events as AWS puts them on the default EventBridge bus (docs/aws-behaviour.md), for the
handlers of the gate in moto (tests/support/in_process_gate.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.aws_env import ACCOUNT_ID, REGION
from tests.support.in_process_gate import InProcessGate


def scheduled_event() -> dict:
    """As the sweep's schedule puts it on the default bus."""
    return {
        "version": "0",
        "id": "5c1a2a4e-0000-4000-8000-000000000001",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        # Cut to the second as AWS's: the next one, as these tests sweep right after a
        # decision and the sweep judges as of this time.
        "time": (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/approval-gate-sweep"],
        "detail": {},
    }


def workflow_ended_event(gate: InProcessGate, execution_arn: str, status: str) -> dict:
    """As Step Functions puts it on the default bus
    (docs/aws-behaviour.md#sfn-status-change-events)."""
    return {
        "version": "0",
        "id": "5c1a2a4e-0000-4000-8000-000000000002",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": ACCOUNT_ID,
        # Cut to the second as AWS's: the next one, as these tests sweep right after a
        # decision and the sweep judges as of this time.
        "time": (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [execution_arn],
        "detail": {
            "executionArn": execution_arn,
            "stateMachineArn": gate.state_machine_arn,
            "name": execution_arn.rsplit(":", 1)[-1],
            "status": status,
            "startDate": 1764323000000,
            "stopDate": 1764323100000,
            "input": "{}",
            "output": None,
        },
    }
