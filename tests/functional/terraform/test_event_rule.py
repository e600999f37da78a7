"""The approval_result rule's pattern under EventBridge's matching rules: it takes every
terminal status of the aws:approve step (documented ones and the undocumented variants the
local AWS offers) and no status that can still change
(docs/aws-behaviour.md#eventbridge-content-filtering).

The module builds the pattern from templates/non_terminal_step_statuses.json; the module's
own `terraform test` pins the pattern's shape, which PATTERN below repeats."""

from __future__ import annotations

import json

import pytest
from botocore.session import Session
from moto.events.models import EventPattern

from approval_core.automations import NON_TERMINAL_STATUSES
from tests.functional.terraform.helpers import TERRAFORM_DIR

pytestmark = pytest.mark.terraform

MODULE = TERRAFORM_DIR / "modules" / "approval_gate"
STATUSES_FILE = MODULE / "templates" / "non_terminal_step_statuses.json"
DOCUMENT = "gate-approval"
# The services' one definition (approval_core): the module's list must be the same.
AGREED_NON_TERMINAL = set(NON_TERMINAL_STATUSES)
SSM_STATUSES = set(Session().get_service_model("ssm").shape_for("AutomationExecutionStatus").enum)
# Documented (Success, Failed, TimedOut, Cancelled) and the variants of
# undocumented-rejection-status / undocumented-approval-status.
TERMINAL_SEEN_OR_POSSIBLE = {
    "Success",
    "Failed",
    "TimedOut",
    "Cancelled",
    "Rejected",
    "Approved",
    "CompletedWithSuccess",
    "CompletedWithFailure",
}


def non_terminal() -> list[str]:
    return json.loads(STATUSES_FILE.read_text())


def pattern() -> EventPattern:
    """As events.tf's aws_cloudwatch_event_rule.approval_result builds it."""
    return EventPattern.load(
        json.dumps(
            {
                "source": ["aws.ssm"],
                "detail-type": ["EC2 Automation Step Status-change Notification"],
                "detail": {
                    "Definition": [DOCUMENT],
                    "Action": ["aws:approve"],
                    "Status": [{"anything-but": non_terminal()}],
                },
            }
        )
    )


def step_event(status: str, document: str = DOCUMENT, action: str = "aws:approve") -> dict:
    return {
        "version": "0",
        "id": "7c7f8bd6-1d1b-4e1f-9f3a-000000000000",
        "source": "aws.ssm",
        "detail-type": "EC2 Automation Step Status-change Notification",
        "account": "123456789012",
        "region": "eu-west-1",
        "time": "2026-11-29T10:00:00Z",
        "resources": [],
        "detail": {
            "ExecutionId": "11111111-2222-3333-4444-555555555555",
            "Definition": document,
            "DefinitionVersion": 1.0,
            "Status": status,
            "StepName": "approve",
            "Action": action,
        },
    }


def test_the_non_terminal_statuses_are_the_agreed_ones_and_known_to_ssm():
    statuses = non_terminal()
    assert len(statuses) == len(set(statuses)), "a status is listed twice"
    assert set(statuses) == AGREED_NON_TERMINAL
    assert set(statuses) <= SSM_STATUSES, set(statuses) - SSM_STATUSES


@pytest.mark.parametrize(
    "status", sorted(TERMINAL_SEEN_OR_POSSIBLE | (SSM_STATUSES - AGREED_NON_TERMINAL))
)
def test_every_terminal_status_reaches_receive_result(status):
    assert pattern().matches_event(step_event(status))


@pytest.mark.parametrize("status", sorted(AGREED_NON_TERMINAL))
def test_a_status_that_can_still_change_does_not(status):
    assert not pattern().matches_event(step_event(status))


def test_only_this_documents_approve_step_matches():
    assert not pattern().matches_event(step_event("Success", document="OtherDocument"))
    assert not pattern().matches_event(step_event("Success", action="aws:executeScript"))
