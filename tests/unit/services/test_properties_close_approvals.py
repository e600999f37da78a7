"""Property-based tests (hypothesis) of close_approvals' `WorkflowEndedEvent.parse`: anything
gives an event or MalformedEvent; events in the documented EventBridge format
(docs/aws-behaviour.md#sfn-status-change-events) always parse, fields kept."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from receive_result.errors import MalformedEvent
from receive_result.workflow_end import (
    EXECUTION_STATUS_CHANGE,
    WorkflowEndedEvent,
)
from tests.support.strategies import (
    accounts,
    json_values,
    regions,
)

EXECUTION_STATUSES = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]
WORKFLOW_DETAIL_KEYS = {
    "execution_arn": "executionArn",
    "state_machine_arn": "stateMachineArn",
    "status": "status",
}


@st.composite
def execution_status_events(draw) -> dict[str, Any]:
    """A "Step Functions Execution Status Change" event as AWS documents it
    (docs/aws-behaviour.md#sfn-status-change-events)."""
    region, account = draw(regions), draw(accounts)
    machine = draw(st.from_regex(r"[A-Za-z0-9_-]{1,80}", fullmatch=True))
    name = draw(st.from_regex(r"[A-Za-z0-9_-]{1,80}", fullmatch=True))
    status = draw(st.sampled_from(EXECUTION_STATUSES))
    started = draw(st.integers(0, 2**41))
    return {
        "version": "0",
        "id": str(draw(st.uuids())),
        "detail-type": EXECUTION_STATUS_CHANGE,
        "source": "aws.states",
        "account": account,
        "time": "2026-11-28T10:00:00Z",
        "region": region,
        "resources": [f"arn:aws:states:{region}:{account}:execution:{machine}:{name}"],
        "detail": {
            "executionArn": f"arn:aws:states:{region}:{account}:execution:{machine}:{name}",
            "stateMachineArn": f"arn:aws:states:{region}:{account}:stateMachine:{machine}",
            "name": name,
            "status": status,
            "startDate": started,
            "stopDate": None if status == "RUNNING" else started + draw(st.integers(0, 10**9)),
            "input": draw(json_values.map(json.dumps)),
            "output": None,
        },
    }


def check_workflow_event_parse(event: Any) -> WorkflowEndedEvent | None:
    detail = event.get("detail") if isinstance(event, dict) else None
    valid = (
        isinstance(event, dict)
        and event.get("source") == "aws.states"
        and event.get("detail-type") == EXECUTION_STATUS_CHANGE
        and isinstance(detail, dict)
        and all(isinstance(detail.get(k), str) and detail[k] for k in WORKFLOW_DETAIL_KEYS.values())
    )
    try:
        parsed = WorkflowEndedEvent.parse(event)
    except MalformedEvent as error:
        assert str(error) and not valid
        return None
    assert valid
    assert {n: getattr(parsed, n) for n in WORKFLOW_DETAIL_KEYS} == {
        n: detail[k] for n, k in WORKFLOW_DETAIL_KEYS.items()
    }
    assert parsed.has_ended == (parsed.status in {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
    return parsed


arbitrary_workflow_events = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {
            "source": st.just("aws.states") | st.text(max_size=8),
            "detail-type": st.just(EXECUTION_STATUS_CHANGE) | st.text(max_size=8),
            "detail": st.dictionaries(
                st.sampled_from(sorted(WORKFLOW_DETAIL_KEYS.values())) | st.text(max_size=8),
                st.text(max_size=8) | json_values,
            ),
        }
    ),
)


@settings(max_examples=150)
@given(event=arbitrary_workflow_events)
def test_arbitrary_events_give_a_workflow_ended_event_or_malformed_event(event):
    check_workflow_event_parse(event)


@given(event=execution_status_events())
def test_documented_execution_status_events_always_parse(event):
    parsed = check_workflow_event_parse(copy.deepcopy(event))
    assert parsed is not None and parsed.status == event["detail"]["status"]


@given(event=execution_status_events(), key=st.sampled_from(sorted(WORKFLOW_DETAIL_KEYS.values())))
def test_an_execution_event_without_a_field_it_needs_is_malformed(event, key):
    del event["detail"][key]
    assert check_workflow_event_parse(event) is None
