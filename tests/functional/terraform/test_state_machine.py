"""The state machine definition, rendered by Terraform: valid ASL, and what the gate needs.

The Ruby statelint cannot be installed here; asl-validator (npm, pinned in package.json) is
the maintained Amazon States Language linter and checks the same: the schema of every state,
that every Next names a state and every state is reachable, JSONPath and ARN syntax.
"""

from __future__ import annotations

import copy
import json
import re

import pytest

from tests.functional.terraform.helpers import REPO, validate_asl

pytestmark = pytest.mark.terraform

TASK_RESOURCE = "arn:aws:states:::lambda:invoke.waitForTaskToken"
LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
THROTTLE_ERRORS = {"ApprovalStartThrottled", "ApprovalConcurrencyLimitExceeded"}
NOT_RETRIED = {
    "InvalidApprovalRequest",
    "ApprovalAlreadyDecided",
    "ApprovalStartConflict",
    "States.ALL",
}


def contract_payload() -> dict[str, str]:
    """The Task's payload as docs/contracts.md states it."""
    text = (REPO / "docs" / "contracts.md").read_text()
    section = text.split("## start_approval: the Task state's payload", 1)[1]
    block = re.search(r"```json\n(.*?)```", section, re.DOTALL)
    assert block, (
        "docs/contracts.md: no JSON payload under 'start_approval: the Task state's payload'"
    )
    return json.loads(block[1])


@pytest.fixture(scope="module")
def definition(terraform):
    return terraform.render_state_machine()


@pytest.fixture(scope="module")
def task(definition):
    tasks = {
        name: state
        for name, state in definition["States"].items()
        if state.get("Resource") == TASK_RESOURCE
    }
    assert len(tasks) == 1, f"one waitForTaskToken Task expected, found {sorted(tasks)}"
    (state,) = tasks.values()
    return state


def test_asl_validator_accepts_the_definition(require, definition):
    result = require(validate_asl, definition)
    assert result.returncode == 0, f"asl-validator:\n{result.stdout}{result.stderr}"


def test_asl_validator_refuses_a_broken_definition(require, definition):
    """The linter really checks: a Next to no state is refused."""
    broken = copy.deepcopy(definition)
    broken["States"][broken["StartAt"]]["Next"] = "NoSuchState"
    result = require(validate_asl, broken)
    assert result.returncode != 0, f"asl-validator accepted a broken definition:\n{result.stdout}"


def test_starts_with_the_task_that_waits_for_the_token(definition, task):
    assert definition["States"][definition["StartAt"]] is task
    assert task["Type"] == "Task"
    assert task["Parameters"]["Payload"] == contract_payload()
    assert task["Parameters"]["FunctionName"].startswith("arn:aws:lambda:")
    assert task["ResultPath"] == "$.approval"
    assert isinstance(task.get("TimeoutSeconds"), int) and task["TimeoutSeconds"] > 0


def test_retries_lambda_errors_and_throttling_but_not_bad_requests(task):
    retriers = task["Retry"]
    retried = [set(r["ErrorEquals"]) for r in retriers]
    assert any(errors >= LAMBDA_ERRORS for errors in retried), retriers
    throttled = [r for r in retriers if set(r["ErrorEquals"]) >= THROTTLE_ERRORS]
    assert throttled, retriers
    assert throttled[0]["BackoffRate"] > 1 and throttled[0]["MaxAttempts"] > 1, throttled
    assert not NOT_RETRIED & set().union(*retried), retriers


def test_every_error_is_caught_to_a_fail_state(definition, task):
    catchers = [c for c in task["Catch"] if c["ErrorEquals"] == ["States.ALL"]]
    assert catchers, task["Catch"]
    target = definition["States"][catchers[0]["Next"]]
    assert target["Type"] == "Fail"
    assert catchers[0]["ResultPath"] not in ("$", "$.approval")  # keeps the input
    assert target.get("ErrorPath", "").startswith(catchers[0]["ResultPath"])


def test_branches_on_is_approved(definition, task):
    choice = definition["States"][task["Next"]]
    assert choice["Type"] == "Choice"
    (rule,) = choice["Choices"]
    assert rule["Variable"] == "$.approval.is_approved"
    assert rule["BooleanEquals"] is True
    assert rule["Next"] != choice["Default"]
    assert {rule["Next"], choice["Default"]} <= definition["States"].keys()
