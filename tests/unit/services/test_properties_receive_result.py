"""Property-based tests (hypothesis) of what receive_result reads:

1. `StepStatusEvent.parse`: anything gives an event or MalformedEvent; events in the
   documented EventBridge format (docs/aws-behaviour.md#eventbridge-ssm-events) always parse,
   fields kept.
2. `ApproverDecision.parse`/`parse_all`, `ApprovalStep.decision()` and the SSM reading behind
   them never raise; only a step in a final status (any status but the non-terminal ones)
   with an approval id decides, Approved only when ApprovalStatus says Approved, Rejected
   whenever SSM says Rejected (ApprovalStatus, a decision or the status) and not Approved.

The example these properties found (F) is kept as a regression test at the end of this file."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from approval_core.automations import NON_TERMINAL_STATUSES, is_terminal
from receive_result.automation_supervisor import AutomationSupervisor
from receive_result.errors import MalformedEvent
from receive_result.models import (
    STEP_STATUS_CHANGE,
    ApprovalStep,
    ApproverDecision,
    Decision,
    Outcome,
    StepStatusEvent,
)
from tests.support.strategies import (
    STEP_STATUSES,
    accounts,
    json_values,
    regions,
    valid_principals,
)

# --- 1. StepStatusEvent.parse ---------------------------------------------------------------


def documented_fields(event: Any) -> dict[str, str] | None:
    """What the contract says a step status-change event carries, or None if it is not one."""
    if not isinstance(event, dict):
        return None
    if event.get("source") != "aws.ssm" or event.get("detail-type") != STEP_STATUS_CHANGE:
        return None
    detail = event.get("detail")
    if not isinstance(detail, dict):
        return None
    keys = {
        "automation_execution_id": "ExecutionId",
        "document_name": "Definition",
        "step_name": "StepName",
        "action": "Action",
        "status": "Status",
    }
    values = {name: detail.get(key) for name, key in keys.items()}
    if not all(isinstance(value, str) and value for value in values.values()):
        return None
    return values


def ssm_time(moment) -> str:
    """As SSM writes StartTime/EndTime: 'Nov 29, 2024 7:43:25 PM'."""
    return f"{moment:%b} {moment.day}, {moment.year} {moment.hour % 12 or 12}:{moment:%M:%S %p}"


@st.composite
def step_status_events(draw) -> dict[str, Any]:
    """An "EC2 Automation Step Status-change Notification" as AWS documents it
    (docs/aws-behaviour.md#eventbridge-ssm-events)."""
    region, account = draw(regions), draw(accounts)
    execution_id = str(draw(st.uuids()))
    document = draw(st.from_regex(r"[a-zA-Z0-9_.-]{3,128}", fullmatch=True))
    version = draw(st.integers(1, 40))
    started = draw(st.datetimes())
    return {
        "version": "0",
        "id": str(draw(st.uuids())),
        "detail-type": STEP_STATUS_CHANGE,
        "source": "aws.ssm",
        "account": account,
        "time": started.isoformat() + "Z",
        "region": region,
        "resources": [
            f"arn:aws:ssm:{region}:{account}:automation-execution/{execution_id}",
            f"arn:aws:ssm:{region}:{account}:automation-definition/{document}:{version}",
        ],
        "detail": {
            "ExecutionId": execution_id,
            "Definition": document,
            "DefinitionVersion": float(version),
            "Status": draw(st.sampled_from(STEP_STATUSES)),
            "StepName": draw(st.text(min_size=1, max_size=40)),
            "Action": draw(st.sampled_from(["aws:approve", "aws:sleep", "aws:executeScript"])),
            "StartTime": ssm_time(started),
            "EndTime": ssm_time(draw(st.datetimes(min_value=started))),
            "Time": draw(st.floats(0, 2e12)),
        },
    }


@st.composite
def mutated_step_status_events(draw) -> dict[str, Any]:
    event = draw(step_status_events())
    target = event if draw(st.booleans()) else event["detail"]
    key = draw(st.sampled_from(sorted(target)))
    if draw(st.booleans()):
        del target[key]
    else:
        target[key] = draw(json_values)
    return copy.deepcopy(event)  # (hypothesis would print the event as drawn)


def check_event_parse(event: Any) -> StepStatusEvent | None:
    try:
        parsed = StepStatusEvent.parse(event)
    except MalformedEvent as error:
        assert str(error)
        assert documented_fields(event) is None
        return None
    assert isinstance(parsed, StepStatusEvent)
    fields = documented_fields(event)
    assert fields is not None
    assert {name: getattr(parsed, name) for name in fields} == fields
    assert parsed.event_id == (event["id"] if isinstance(event.get("id"), str) else None)
    return parsed


DETAIL_KEYS = ["ExecutionId", "Definition", "StepName", "Action", "Status"]
arbitrary_events = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(["source", "detail-type", "detail", "id"]), json_values),
    st.fixed_dictionaries(
        {
            "source": st.just("aws.ssm") | st.text(max_size=8),
            "detail-type": st.just(STEP_STATUS_CHANGE) | st.text(max_size=8),
            "detail": st.dictionaries(
                st.sampled_from(DETAIL_KEYS) | st.text(max_size=8),
                st.text(max_size=8) | json_values,
            ),
        },
        optional={"id": json_values},
    ),
)


@settings(max_examples=150)
@given(event=arbitrary_events)
def test_arbitrary_events_give_a_step_status_event_or_malformed_event(event):
    check_event_parse(event)


@given(event=mutated_step_status_events())
def test_events_with_a_field_broken_give_a_step_status_event_or_malformed_event(event):
    check_event_parse(event)


@given(event=step_status_events())
def test_documented_step_status_events_always_parse_with_their_fields(event):
    parsed = check_event_parse(copy.deepcopy(event))
    assert parsed == StepStatusEvent(
        automation_execution_id=event["detail"]["ExecutionId"],
        document_name=event["detail"]["Definition"],
        step_name=event["detail"]["StepName"],
        action=event["detail"]["Action"],
        status=event["detail"]["Status"],
        event_id=event["id"],
    )


# --- 2. decisions -------------------------------------------------------------------------------

decision_maps = st.fixed_dictionaries(
    {
        "Approver": valid_principals,
        "Decision": st.sampled_from(["Approve", "Reject", "Approved", "Rejected"]),
    },
    optional={
        "ApprovalDecisionTime": st.datetimes().map(lambda moment: moment.isoformat() + "Z"),
        "Comment": st.text(max_size=40),
    },
)
raw_decisions = st.one_of(
    json_values,
    json_values.map(json.dumps),
    st.text(),
    decision_maps,
    decision_maps.map(json.dumps),
    st.dictionaries(st.sampled_from(["Approver", "Decision", "Comment"]), json_values),
    st.integers(900, 5000).map("[".__mul__),  # deeper than json.loads can go (regression F)
)


@settings(max_examples=150)
@given(raw=raw_decisions)
def test_approver_decisions_parse_to_a_decision_or_none(raw):
    parsed = ApproverDecision.parse(raw)
    if parsed is not None:
        assert isinstance(parsed.approver, str) and parsed.approver
        assert isinstance(parsed.decision, str)
        assert parsed.decided_at is None or isinstance(parsed.decided_at, str)
        assert parsed.comment is None or parsed.comment


@given(raw=decision_maps, as_json=st.booleans())
def test_ssm_decision_maps_keep_their_fields(raw, as_json):
    parsed = ApproverDecision.parse(json.dumps(raw) if as_json else raw)
    assert parsed == ApproverDecision(
        approver=raw["Approver"],
        decision={"Approved": "Approve", "Rejected": "Reject"}.get(
            raw["Decision"], raw["Decision"]
        ),
        comment=raw.get("Comment") or None,
        decided_at=raw.get("ApprovalDecisionTime"),
    )


@given(
    maps=st.lists(decision_maps, max_size=5),
    serialization=st.sampled_from(["string_per_map", "json_array", "maps"]),
)
def test_approver_decisions_read_alike_however_ssm_serialises_the_maplist(maps, serialization):
    """docs/aws-behaviour.md#undocumented-approver-decisions: one JSON string per map, one
    string holding a JSON array, or the maps themselves."""
    output = {
        "string_per_map": [json.dumps(m) for m in maps],
        "json_array": [json.dumps(maps)],
        "maps": maps,
    }[serialization]
    assert ApproverDecision.parse_all(output) == tuple(ApproverDecision.parse(m) for m in maps)


@settings(max_examples=150)
@given(output=json_values | st.lists(raw_decisions, max_size=4))
def test_any_approver_decisions_output_gives_decisions_without_raising(output):
    assert all(isinstance(d, ApproverDecision) for d in ApproverDecision.parse_all(output))


approver_decisions = st.builds(
    ApproverDecision,
    approver=valid_principals,
    decision=st.sampled_from(["Approve", "Reject", "", "Revoke"]),
    comment=st.none() | st.text(min_size=1, max_size=20),
    decided_at=st.none() | st.text(max_size=20),
)
approval_steps = st.builds(
    ApprovalStep,
    automation_execution_id=st.uuids().map(str),
    approval_id=st.none() | st.uuids().map(str),
    step_status=st.sampled_from(STEP_STATUSES) | st.text(max_size=12),
    approval_status=st.none() | st.sampled_from(["Approved", "Rejected", "Waiting"]) | st.text(),
    decisions=st.lists(approver_decisions, max_size=4).map(tuple),
    failure_message=st.none() | st.text(max_size=40),
)


def check_decision(step: ApprovalStep) -> Decision | None:
    decision = step.decision()
    if (
        step.approval_id is None
        or step.step_status in NON_TERMINAL_STATUSES
        or not step.step_status
    ):
        assert decision is None
        return None
    assert is_terminal(step.step_status)
    assert isinstance(decision, Decision)
    assert decision.approval_id == step.approval_id
    assert decision.automation_execution_id == step.automation_execution_id
    approved = step.approval_status == "Approved"
    assert (decision.outcome is Outcome.APPROVED) == approved
    said_rejected = (
        step.approval_status == "Rejected"
        or step.step_status == "Rejected"
        or any(d.decision == "Reject" for d in step.decisions)
    )
    if said_rejected and not approved:
        assert decision.outcome is Outcome.REJECTED
    if decision.outcome is Outcome.REJECTED:
        assert said_rejected
    assert decision.decided_by == tuple(
        d for d in step.decisions if d.decision in ("Approve", "Reject")
    )
    output = json.loads(json.dumps(decision.task_output()))
    assert output["is_approved"] is approved
    if not decision.is_decided_by_approvers:
        error, cause = decision.task_failure()
        assert error.startswith("Approval.") and step.approval_id in cause
    return decision


@settings(max_examples=150)
@given(step=approval_steps)
def test_only_a_finished_step_with_an_approval_id_decides(step):
    check_decision(step)


class StubSsm:
    """Answers GetAutomationExecution (and DescribeAutomationStepExecutions) with
    whatever SSM could return within its API model."""

    def __init__(self, execution: dict[str, Any], steps: list[dict[str, Any]]):
        self.execution = execution
        self.steps = steps

    def get_automation_execution(self, AutomationExecutionId: str) -> dict[str, Any]:
        return {"AutomationExecution": self.execution}

    def describe_automation_step_executions(self, **_: Any) -> dict[str, Any]:
        return {"StepExecutions": self.steps}


output_values = st.lists(
    st.text(max_size=12) | raw_decisions.filter(lambda r: isinstance(r, str)), max_size=4
) | st.lists(decision_maps, max_size=3).map(lambda maps: [json.dumps(maps)])
step_executions = st.fixed_dictionaries(
    {},
    optional={
        "Action": st.sampled_from(["aws:approve", "aws:sleep"]) | st.text(max_size=8),
        "StepStatus": st.sampled_from(STEP_STATUSES) | st.text(max_size=8),
        "Outputs": st.dictionaries(
            st.sampled_from(["ApprovalStatus", "ApproverDecisions", "Approve.ApproverDecisions"])
            | st.text(max_size=8),
            output_values,
        ),
        "FailureMessage": st.text(max_size=20),
    },
)
automation_executions = st.fixed_dictionaries(
    {},
    optional={
        "AutomationExecutionStatus": st.sampled_from(STEP_STATUSES) | st.text(max_size=8),
        "Parameters": st.dictionaries(
            st.sampled_from(["ApprovalId", "Approvers"]) | st.text(max_size=8),
            st.lists(st.uuids().map(str) | st.text(max_size=8), max_size=2),
        ),
        "StepExecutions": st.lists(step_executions, max_size=3),
        "StepExecutionsTruncated": st.booleans(),
        "FailureMessage": st.text(max_size=20),
    },
)


@settings(max_examples=100)
@given(execution=automation_executions, more_steps=st.lists(step_executions, max_size=2))
def test_whatever_ssm_says_of_the_step_is_read_without_raising(execution, more_steps):
    step = AutomationSupervisor(StubSsm(execution, more_steps)).read(str(uuid.uuid4()))
    assert isinstance(step, ApprovalStep)
    decision = check_decision(step)
    if decision is not None:
        assert decision.approval_id == execution["Parameters"]["ApprovalId"][0]


# --- regressions: what the properties found -------------------------------------------------


def test_a_deeply_nested_decision_string_gives_none():
    """F: json.loads raised RecursionError, which parse did not catch."""
    assert ApproverDecision.parse("[" * 100_000) is None
