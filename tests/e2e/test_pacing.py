"""The gate at SSM's rates (docs/aws-behaviour.md#ssm-api-rate-quotas), deployed by Terraform
into the local AWS: 20 workflows ask at once while StartAutomationExecution allows one call
per second. The functions take turns (approval_core.pacing), so no start is throttled more
than a bounded number of times (the jitter between a slot and its call, retried in a slot of
its own), no workflow has to retry its start, every approval is started once, and every
decision reaches its workflow."""

from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from scripts.local_gate import wait_for
from tests.support.ssm_rates import restore_ssm_rates

APPROVALS = 20
# Slots are 1/0.95 s apart (ssm_api_rate_share): a call reaches SSM too early only when the
# one before it was late by more than 50 ms (the local AWS's threads on a busy machine), and
# its retry waits for a slot of its own. The functions' clients try a call 3 times, so no
# start is throttled more than twice unless its Task fails, which none may.
MAX_THROTTLES_PER_START = 2


def throttled(endpoint: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{endpoint}/moto-api/sandbox/ssm/throttled") as response:
        return json.load(response)["throttled"]


@pytest.fixture
def at_aws_rates(local_aws):
    restore_ssm_rates()
    before = throttled(local_aws.endpoint)
    yield lambda: {
        action: count - before.get(action, 0)
        for action, count in throttled(local_aws.endpoint).items()
    }


def test_twenty_requests_at_one_start_per_second_are_all_started_and_decided(gate, at_aws_rates):
    request = {"message": "Deploy?", "approvers": [gate.principal_arn("alice")]}
    with ThreadPoolExecutor(APPROVALS) as pool:
        executions = list(pool.map(lambda _: gate.start(request), range(APPROVALS)))

    def automations() -> dict[str, str] | None:
        found = {}
        for arn in executions:
            records = gate.records_of(arn)
            if len(records) != 1 or not records[0].get("automation_execution_id"):
                return None
            found[arn] = records[0]["automation_execution_id"]
        return found

    # About 21 s of starts at 0.95 per second: the records say when each has its automation.
    started = wait_for(automations, 120, "not every approval was started")
    assert len(set(started.values())) == APPROVALS  # one automation each, none twice

    ssm = gate.client("ssm", approver="alice")
    for automation_id in started.values():
        signal(ssm, automation_id)
    for arn in executions:
        ended = gate.finished(arn, timeout=120)
        assert ended["status"] == "SUCCEEDED", ended
        assert json.loads(ended["output"])["approval"]["is_approved"] is True

    refused = at_aws_rates()
    assert refused.get("StartAutomationExecution", 0) <= MAX_THROTTLES_PER_START * APPROVALS
    for arn in executions:
        failed_starts = [
            event
            for event in gate.client("stepfunctions").get_execution_history(executionArn=arn)[
                "events"
            ]
            if event["type"] == "TaskFailed"
        ]
        assert failed_starts == [], failed_starts  # no start needed the workflow's Retry


def signal(ssm, automation_id: str) -> None:
    """alice approves, as a person clicking through 20 requests would: one after the other;
    SendAutomationSignal has its own rate, so a throttled click is tried again."""
    for _ in range(20):
        try:
            ssm.send_automation_signal(
                AutomationExecutionId=automation_id, SignalType="Approve", Payload={}
            )
            return
        except ssm.exceptions.ClientError as error:
            code = error.response["Error"]["Code"]
            if code not in ("ThrottlingException", "InvalidAutomationSignalException"):
                raise
            time.sleep(0.5)  # throttled, or the approve step is not waiting yet
    raise AssertionError(f"alice could not approve {automation_id}")
