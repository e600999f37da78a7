"""Property-based tests (hypothesis) of start_approval's handler against moto: an invalid
payload stores and starts nothing; a valid one stores one record and starts one automation.
(The parser alone, and the examples these properties found:
tests/unit/services/test_properties_start_approval.py.)"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings

import sandbox
from approval_core.launcher import MESSAGE_PARAMETERS, approvers_message
from start_approval.errors import InvalidApprovalRequest
from tests.support.approval_document import render_document
from tests.support.payload_checks import (
    check_refusal,
    expected_message,
    holds,
    label,
    payload,
)
from tests.support.strategies import (
    BASE_EXECUTION_ARN,
    EXECUTION_ARN,
    near_valid_cases,
    nested_list,
    valid_cases,
)


def approval_records(gate) -> dict[str, dict[str, Any]]:
    return {
        item["pk"]["S"]: item
        for item in gate.table_items()
        if item["pk"]["S"].startswith("approval#")
    }


def automation_ids(gate) -> set[str]:
    pages = gate.ssm.get_paginator("describe_automation_executions").paginate()
    return {
        item["AutomationExecutionId"]
        for page in pages
        for item in page["AutomationExecutionMetadataList"]
    }


def through_handler(gate, start_handler, context, event) -> tuple[Any, list, dict, set]:
    """The handler's reply or exception, the table before and the records and automations
    it added."""
    items_before = gate.table_items()
    records_before, automations_before = approval_records(gate), automation_ids(gate)
    try:
        outcome = start_handler(event, context)
    except Exception as error:  # judged by the caller
        outcome = error
    records = approval_records(gate)
    added = {pk: item for pk, item in records.items() if records_before.get(pk) != item}
    return outcome, items_before, added, automation_ids(gate) - automations_before


def check_through_handler(gate, start_handler, context, event) -> None:
    outcome, items_before, added, automations = through_handler(gate, start_handler, context, event)
    label(f"handler: {type(outcome).__name__}")
    if isinstance(outcome, InvalidApprovalRequest):
        check_refusal(outcome, event, dict(os.environ))
        assert gate.table_items() == items_before, "a refused request changed the table"
        assert automations == set(), "a refused request started an automation"
        return
    assert isinstance(outcome, dict), (
        f"{type(outcome).__name__}: {outcome}; records added: {list(added)}, "
        f"automations started: {automations}"
    )
    approval_id = outcome["approval_id"]
    assert outcome["created"] is True
    assert list(added) == [f"approval#{approval_id}"]
    assert automations == {outcome["automation_execution_id"]}
    record = added[f"approval#{approval_id}"]
    assert record["status"]["S"] == "PENDING"
    assert record["task_token"]["S"] == event["task_token"]
    assert record["execution_arn"]["S"] == event["execution_arn"]
    assert record["automation_execution_id"]["S"] == outcome["automation_execution_id"]
    parameters = gate.ssm.get_automation_execution(
        AutomationExecutionId=outcome["automation_execution_id"]
    )["AutomationExecution"]["Parameters"]
    request = event["request"]
    assert parameters["ApprovalId"] == [approval_id]
    assert parameters["Approvers"] == request["approvers"]
    assert parameters["MinRequiredApprovals"] == [
        str(int(request.get("min_required_approvals", 1)))
    ]
    message = "".join(parameters[name][0] for name in MESSAGE_PARAMETERS if name in parameters)
    assert message == approvers_message(approval_id, expected_message(request))
    assert record["message"]["S"] == expected_message(request)  # whole, even when cut for SSM
    fixed_texts = (render_document(), approval_id, gate.topic_arn)
    if not holds(event["task_token"], {**event, "task_token": None}, *fixed_texts):
        assert event["task_token"] not in json.dumps(parameters, ensure_ascii=False)


# No shrinking: the examples share one moto world, and each costs a few handler calls.
@settings(
    max_examples=25,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=valid_cases(defaults=False) | near_valid_cases(environment_too=False))
def test_the_handler_stores_and_starts_nothing_or_exactly_one_approval(
    gate, start_handler, context, case
):
    """One moto world for all examples (each costs half a second to build): every example
    gets its own execution, and the table and automations are compared before and after."""
    event, _ = case  # the handler's environment is the tests' (tests/support/aws_env.py)
    sandbox.settings.max_concurrent_executions = 10_000  # the examples' automations add up
    arn = event.get("execution_arn")
    if isinstance(arn, str) and EXECUTION_ARN.fullmatch(arn):
        # A valid ARN stays valid and makes this approval new: a repeated example would
        # otherwise be a retry of an earlier one.
        event["execution_arn"] = f"{BASE_EXECUTION_ARN}-{uuid.uuid4()}"
    check_through_handler(gate, start_handler, context, event)


# --- regressions: what the properties found -------------------------------------------------


def test_the_handler_stores_nothing_for_the_regressions_and_one_approval_for_2_point_0(
    gate, start_handler, context
):
    """A to D through the handler: each stored a half-written record or raised ClientError."""
    long_role = "arn:aws:iam::123456789012:role/" + "team/" * 120 + "Approvers"
    nested = nested_list(600)
    for event in (
        payload(min_required_approvals=2.0),
        payload(approvers=[long_role]),
        {**payload(), "execution_arn": f"{BASE_EXECUTION_ARN}-{'x' * 2100}"},
        payload(approvers=[nested, "alice"]),
    ):
        check_through_handler(gate, start_handler, context, event)
