"""Property-based tests (hypothesis) of start_approval's `parse_invocation`: arbitrary
JSON-like values and near-valid payloads (one field broken) give a TaskInvocation within the
documented limits or InvalidApprovalRequest naming a field, without the task token
(tests/support/payload_checks.py; the strategies: tests/support/strategies.py). Through the
handler against moto: tests/functional/services/test_properties_start_approval_handler.py.

The examples these properties found are kept as regression tests at the end of this file
(A to E, G, H; F is receive_result's)."""

from __future__ import annotations

import json

from hypothesis import given, settings

from start_approval.errors import InvalidApprovalRequest
from start_approval.models import TaskInvocation
from start_approval.settings import Settings
from start_approval.validation import parse_invocation
from tests.support.payload_checks import (
    ROLE,
    check_parse,
    parse,
    payload,
    refusal,
)
from tests.support.strategies import (
    BASE_EXECUTION_ARN,
    ENVIRONMENT,
    REQUEST_FIELDS,
    TOP_FIELDS,
    arbitrary_payloads,
    extra_keys,
    near_valid_cases,
    nested_list,
    valid_cases,
)


@settings(max_examples=150)
@given(event=arbitrary_payloads)
def test_arbitrary_payloads_give_an_invocation_or_the_named_error(event):
    check_parse(event, ENVIRONMENT)


@settings(max_examples=100)
@given(case=valid_cases())
def test_valid_payloads_are_parsed_with_their_values_and_the_defaults(case):
    event, environment = case
    invocation = check_parse(event, environment)
    assert invocation is not None, parse(event, environment)
    default_approvers = tuple(
        a.strip() for a in environment.get("DEFAULT_APPROVERS", "").split(",") if a.strip()
    )
    assert invocation.request.approvers == tuple(
        event["request"].get("approvers", default_approvers)
    )
    assert invocation.request.min_required_approvals == event["request"].get(
        "min_required_approvals", int(environment.get("DEFAULT_MIN_REQUIRED_APPROVALS", "1"))
    )
    # A retry of the Task brings a new token but keeps the approval.
    retry = parse_invocation(
        {**event, "task_token": "another"}, Settings.from_environment(environment)
    )
    assert retry.approval_id == invocation.approval_id


@settings(max_examples=60)
@given(case=valid_cases(), top=extra_keys, inner=extra_keys)
def test_fields_the_gate_does_not_use_are_ignored(case, top, inner):
    """README: "Other fields of the state's input are ignored, so the request can travel
    with the workflow's own data." (Lone surrogates there: regression H, below.)"""
    event, environment = case
    plain = {key: value for key, value in event.items() if key in TOP_FIELDS}
    plain["request"] = {k: v for k, v in event["request"].items() if k in REQUEST_FIELDS}
    extended = {**plain, **top, "request": {**plain["request"], **inner}}
    assert parse(extended, environment) == parse(plain, environment)


@settings(max_examples=200)
@given(case=near_valid_cases())
def test_near_valid_payloads_give_an_invocation_or_the_named_error(case):
    event, environment = case
    check_parse(event, environment)


# --- regressions: what the properties found -------------------------------------------------


def test_a_quorum_of_2_point_0_is_the_whole_number_2():
    """A: JSON Schema (draft 7) counts 2.0 as an integer; SSM refused "2.0" after the
    record was stored."""
    invocation = check_parse(payload(min_required_approvals=2.0), ENVIRONMENT)
    assert type(invocation.request.min_required_approvals) is int
    assert invocation.request.min_required_approvals == 2


def test_values_over_the_aws_limits_are_refused_by_name():
    """B and C: an approver over 512 characters (SSM's limit for one parameter value; it
    left a half-written record) and an execution ARN over DynamoDB's 2048-byte key."""
    long_role = "arn:aws:iam::123456789012:role/" + "team/" * 120 + "Approvers"
    assert refusal(payload(approvers=[long_role])).startswith("request.approvers[0] ")
    long_arn = {**payload(), "execution_arn": f"{BASE_EXECUTION_ARN}-{'x' * 2100}"}
    assert refusal(long_arn).startswith("execution_arn ")
    defaults = {**ENVIRONMENT, "DEFAULT_APPROVERS": long_role}
    event = payload()
    del event["request"]["approvers"]
    assert refusal(event, defaults).startswith("DEFAULT_APPROVERS (function environment) ")


def test_deeply_nested_values_are_refused_by_name():
    """D: fastjsonschema's uniqueItems check recursed into the items: RecursionError."""
    nested = nested_list(600)
    assert refusal(payload(approvers=[nested, "alice"])).startswith("the payload ")


def test_a_default_quorum_over_the_approvers_names_its_variable():
    """E: the message blamed request.min_required_approvals, which the request lacked."""
    message = refusal(
        payload(approvers=[ROLE]), {**ENVIRONMENT, "DEFAULT_MIN_REQUIRED_APPROVALS": "2"}
    )
    assert message.startswith("DEFAULT_MIN_REQUIRED_APPROVALS (function environment) is 2")


def test_g_a_lone_surrogate_in_the_state_name_is_refused_by_name():
    outcome = parse({**payload(), "state_name": json.loads('"Approve\\ud800"')}, ENVIRONMENT)
    assert isinstance(outcome, InvalidApprovalRequest), outcome
    assert str(outcome).startswith("state_name holds text that is not valid Unicode")


def test_h_a_lone_surrogate_in_the_workflows_own_data_is_ignored():
    event = payload()
    event["request"]["order"] = {"customer": "caf\ud800"}
    outcome = parse(event, ENVIRONMENT)
    assert isinstance(outcome, TaskInvocation), outcome
