"""Every setting of the local AWS for behaviour AWS leaves undocumented, one value at a time,
through boto3 (docs/aws-behaviour.md, the anchors in sandbox/ssm/settings.py); and the documented
concurrency queue (Pending past the quota, the oldest starts when a slot frees)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

import sandbox
from sandbox import dynamodb
from sandbox.core.settings import limits, variants
from tests.support.approval_document import TIMEOUT_SECONDS
from tests.support.sandbox_account import DOCUMENT_NAME

settings = sandbox.settings

# The agreed table (the brief of the variants): name -> values, first = default.
AGREED = {
    "rejection_status": ("Failed", "Success", "Rejected", "CompletedWithFailure"),
    "approval_status": ("Success", "Approved", "CompletedWithSuccess"),
    "failed_step_outputs": ("kept", "dropped"),
    "decision_values": ("verb", "past"),
    "decisions_serialization": ("string_per_map", "json_array"),
    "client_token_reuse": ("same_execution", "idempotent_parameter_mismatch"),
    "waiting_holds_slot": (True, False),
    "approver_matching": ("role_sessions", "exact", "role_sessions_ignoring_path"),
    "duplicate_signal": ("counted_once", "refused"),
    "reject_under_quorum": ("rejects_at_once", "rejects_when_quorum_unreachable"),
    "failed_notification": ("fails_step", "waits_unannounced"),
    "status_read_lag_reads": (0, 2),
    "gsi_lag_seconds": (0, 2),
}


def error_of(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


def decisions(step: dict[str, Any]) -> list[dict[str, Any]]:
    """ApproverDecisions in either serialization, as dicts."""
    found: list[dict[str, Any]] = []
    for raw in step["Outputs"].get("ApproverDecisions", []):
        value = json.loads(raw)
        found.extend(value if isinstance(value, list) else [value])
    return found


def signal(principal: Any, execution_id: str, kind: str, comment: str = "") -> None:
    principal.ssm.send_automation_signal(
        AutomationExecutionId=execution_id,
        SignalType=kind,
        Payload={"Comment": [comment]} if comment else {},
    )


# --- the registry -------------------------------------------------------------------------


def test_the_registry_names_every_agreed_variant_with_its_values_and_anchor():
    registered = {v.name: v for v in variants()}
    assert {name: v.values for name, v in registered.items()} == AGREED
    for variant in registered.values():
        assert getattr(settings, variant.name) == variant.default == variant.values[0]
        assert variant.doc == f"docs/aws-behaviour.md#{variant.anchor}"
        assert variant.anchor and variant.summary
    assert registered["rejection_status"].anchor == "undocumented-rejection-status"
    assert registered["gsi_lag_seconds"].anchor == "dynamodb-gsi-eventual-consistency"
    assert registered["status_read_lag_reads"].anchor == "undocumented-read-after-event"
    assert [v.name for v in settings.variants()] == list(AGREED)
    assert {limit.name: limit.default for limit in limits()} == {
        "max_concurrent_executions": 100,
        "automation_queue_size": 1000,
        "no_role_max_seconds": 43200,
    }


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("rejection_status", "Denied"),
        ("approval_status", "Failed"),
        ("waiting_holds_slot", 1),  # True only, not 1
        ("waiting_holds_slot", "true"),
        ("status_read_lag_reads", -1),
        ("status_read_lag_reads", 1.5),
        ("status_read_lag_reads", True),
        ("gsi_lag_seconds", "2"),
        ("max_concurrent_executions", -1),
        ("automation_queue_size", None),
        ("no_role_max_seconds", 0),
    ],
)
def test_a_value_not_allowed_is_refused_naming_the_setting_and_the_allowed_values(name, value):
    before = getattr(settings, name)
    with pytest.raises(ValueError) as raised:
        setattr(settings, name, value)
    message = str(raised.value)
    assert f"sandbox.settings.{name} must be" in message
    assert repr(value) in message
    assert "docs/aws-behaviour.md#" in message
    if name in AGREED:
        assert all(repr(allowed) in message for allowed in AGREED[name])
    assert getattr(settings, name) == before


def test_an_unknown_setting_is_refused():
    with pytest.raises(ValueError, match="no setting 'rejection'"):
        settings.rejection = "Failed"  # type: ignore[attr-defined]


def test_numeric_variants_take_other_values_than_the_suites():
    settings.status_read_lag_reads = 5
    settings.gsi_lag_seconds = 0.25
    settings.no_role_max_seconds = None
    settings.reset()
    assert (settings.status_read_lag_reads, settings.gsi_lag_seconds) == (0, 0)
    assert settings.no_role_max_seconds == 43200


def test_reset_restores_every_default():
    for name, values in AGREED.items():
        setattr(settings, name, values[-1])
    settings.automation_queue_size = 3
    settings.reset()
    assert {name: getattr(settings, name) for name in AGREED} == {
        name: values[0] for name, values in AGREED.items()
    }
    assert settings.automation_queue_size == 1000


def _http(endpoint: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        endpoint + path,
        data=json.dumps(body).encode() if body is not None else None,
        method="POST" if body is not None else "GET",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_settings_over_http_show_the_registry_and_refuse_a_value_not_allowed(server_aws):
    endpoint = server_aws.endpoint_url
    status, answer = _http(endpoint, "/moto-api/sandbox/settings")
    assert status == 200
    assert answer["sandbox"]["approval_status"] == "Success"
    listed = answer["sandbox_variants"]
    assert set(AGREED) <= set(listed)
    assert listed["decision_values"]["values"] == ["verb", "past"]
    assert listed["decision_values"]["anchor"] == "undocumented-approver-decisions"
    assert listed["decision_values"]["value"] == "verb"
    assert listed["automation_queue_size"]["default"] == 1000

    status, answer = _http(
        endpoint, "/moto-api/sandbox/settings", {"sandbox": {"approval_status": "Approved"}}
    )
    assert status == 200
    assert answer["sandbox"]["approval_status"] == "Approved"
    assert settings.approval_status == "Approved"

    status, answer = _http(
        endpoint, "/moto-api/sandbox/settings", {"sandbox": {"approval_status": "Yes"}}
    )
    assert status == 400
    assert "approval_status" in answer["error"] and "'CompletedWithSuccess'" in answer["error"]
    assert settings.approval_status == "Approved"


# --- statuses and outputs -----------------------------------------------------------------


@pytest.mark.parametrize("status", AGREED["rejection_status"])
def test_rejection_status_ends_step_and_automation(aws, alice, emitted, status):
    settings.rejection_status = status
    execution_id = aws.start([alice.arn])
    signal(alice, execution_id, "Reject", "no")

    execution = aws.execution(execution_id)
    step = execution["StepExecutions"][0]
    assert (step["StepStatus"], execution["AutomationExecutionStatus"]) == (status, status)
    assert step["Outputs"]["ApprovalStatus"] == ["Rejected"]
    assert [(d["Decision"], d["Comment"]) for d in decisions(step)] == [("Reject", "no")]
    if status == "Success":
        assert "FailureMessage" not in step
    else:
        assert alice.arn in step["FailureMessage"]
        assert alice.arn in execution["FailureMessage"]
    step_events = [
        e["detail"]["Status"]
        for e in emitted
        if e["detail-type"].endswith("Step Status-change Notification")
    ]
    assert step_events[-1] == status
    # An ended automation takes no more signals, whatever its end is called.
    with pytest.raises(ClientError) as raised:
        signal(alice, execution_id, "Approve")
    assert error_of(raised)[0] == "InvalidAutomationSignalException"


@pytest.mark.parametrize("status", AGREED["approval_status"])
def test_approval_status_ends_step_and_automation(aws, alice, emitted, status):
    settings.approval_status = status
    execution_id = aws.start([alice.arn])
    signal(alice, execution_id, "Approve")

    execution = aws.execution(execution_id)
    step = execution["StepExecutions"][0]
    assert (step["StepStatus"], execution["AutomationExecutionStatus"]) == (status, status)
    assert step["Outputs"]["ApprovalStatus"] == ["Approved"]
    assert "FailureMessage" not in step and "FailureMessage" not in execution
    assert "ExecutionEndTime" in execution
    execution_events = [
        e["detail"]["Status"]
        for e in emitted
        if e["detail-type"].endswith("Execution Status-change Notification")
    ]
    assert execution_events[-1] == status


def _end_by(aws, principal, how: str) -> str:
    execution_id = aws.start([principal.arn])
    if how == "reject":
        signal(principal, execution_id, "Reject")
    elif how == "expire":
        sandbox.clock.advance(TIMEOUT_SECONDS + 1)
    elif how == "cancel":
        aws.ssm.stop_automation_execution(AutomationExecutionId=execution_id)
    else:
        signal(principal, execution_id, "Approve")
    return execution_id


@pytest.mark.parametrize(
    ("how", "end"),
    [("reject", "Failed"), ("expire", "TimedOut"), ("cancel", "Cancelled"), ("approve", "Success")],
)
@pytest.mark.parametrize("failed_step_outputs", AGREED["failed_step_outputs"])
def test_failed_step_outputs(aws, alice, how, end, failed_step_outputs):
    settings.failed_step_outputs = failed_step_outputs
    step = aws.approve_step(_end_by(aws, alice, how))
    assert step["StepStatus"] == end
    if failed_step_outputs == "dropped" and end != "Success":
        assert step["Outputs"] == {}
    else:
        assert set(step["Outputs"]) == {"ApprovalStatus", "ApproverDecisions"}


def test_dropped_outputs_stay_on_a_rejection_that_ends_in_success(aws, alice):
    settings.failed_step_outputs = "dropped"
    settings.rejection_status = "Success"
    step = aws.approve_step(_end_by(aws, alice, "reject"))
    assert step["Outputs"]["ApprovalStatus"] == ["Rejected"]


def test_dropped_outputs_go_with_every_end_that_is_not_a_success(aws, alice):
    settings.failed_step_outputs = "dropped"
    for status in ("Rejected", "CompletedWithFailure"):
        settings.rejection_status = status
        step = aws.approve_step(_end_by(aws, alice, "reject"))
        assert (step["StepStatus"], step["Outputs"]) == (status, {})
    settings.approval_status = "CompletedWithSuccess"
    step = aws.approve_step(_end_by(aws, alice, "approve"))
    assert step["Outputs"]["ApprovalStatus"] == ["Approved"]


@pytest.mark.parametrize(
    ("decision_values", "expected"),
    [("verb", ["Approve", "Reject"]), ("past", ["Approved", "Rejected"])],
)
def test_decision_values(aws, users, decision_values, expected):
    settings.decision_values = decision_values
    alice, bob = users("alice", "bob")
    execution_id = aws.start([alice.arn, bob.arn], 2)
    signal(alice, execution_id, "Approve")
    signal(bob, execution_id, "Reject")
    assert [d["Decision"] for d in decisions(aws.approve_step(execution_id))] == expected


def test_decisions_serialization_string_per_map(aws, users):
    alice, bob = users("alice", "bob")
    execution_id = aws.start([alice.arn, bob.arn], 2)
    signal(alice, execution_id, "Approve", "one")
    signal(bob, execution_id, "Approve", "two")
    raw = aws.approve_step(execution_id)["Outputs"]["ApproverDecisions"]
    assert len(raw) == 2
    assert [json.loads(item)["Comment"] for item in raw] == ["one", "two"]
    assert all(isinstance(json.loads(item), dict) for item in raw)


def test_decisions_serialization_json_array(aws, users):
    settings.decisions_serialization = "json_array"
    alice, bob = users("alice", "bob")
    execution_id = aws.start([alice.arn, bob.arn], 2)
    assert aws.approve_step(execution_id)["Outputs"]["ApproverDecisions"] == ["[]"]
    signal(alice, execution_id, "Approve", "one")
    signal(bob, execution_id, "Approve", "two")
    (raw,) = aws.approve_step(execution_id)["Outputs"]["ApproverDecisions"]
    array = json.loads(raw)
    assert isinstance(array, list)
    assert [(d["Approver"], d["Comment"]) for d in array] == [(alice.arn, "one"), (bob.arn, "two")]
    assert set(array[0]) == {"Approver", "Decision", "ApprovalDecisionTime", "Comment"}


# --- ClientToken --------------------------------------------------------------------------


def _request(aws, approver_arn: str, token: str) -> dict[str, Any]:
    return {
        "DocumentName": DOCUMENT_NAME,
        "ClientToken": token,
        "Parameters": {
            "ApprovalId": [str(uuid.uuid4())],
            "Message": ["m"],
            "Approvers": [approver_arn],
            "NotificationArn": [aws.topic_arn],
        },
    }


def test_client_token_reuse_same_execution(aws, alice):
    request = _request(aws, alice.arn, str(uuid.uuid4()))
    first = aws.ssm.start_automation_execution(**request)["AutomationExecutionId"]
    assert aws.ssm.start_automation_execution(**request)["AutomationExecutionId"] == first


def test_client_token_reuse_idempotent_parameter_mismatch(aws, alice):
    settings.client_token_reuse = "idempotent_parameter_mismatch"
    token = str(uuid.uuid4())
    request = _request(aws, alice.arn, token)
    first = aws.ssm.start_automation_execution(**request)["AutomationExecutionId"]
    with pytest.raises(ClientError) as raised:
        aws.ssm.start_automation_execution(**request)
    code, message = error_of(raised)
    assert code == "IdempotentParameterMismatch"
    assert token in message and first in message
    listed = aws.ssm.describe_automation_executions()["AutomationExecutionMetadataList"]
    assert [item["AutomationExecutionId"] for item in listed] == [first]


# --- approvers ----------------------------------------------------------------------------


def _approver_world(aws) -> dict[str, Any]:
    """Principals and the Approvers entries that may name them."""
    aws.iam.create_role(
        RoleName="AWSReservedSSO_Approvers_0123456789abcdef",
        Path="/aws-reserved/sso.amazonaws.com/",
        AssumeRolePolicyDocument="{}",
    )
    sso_role = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/"
    sso_role += "AWSReservedSSO_Approvers_0123456789abcdef"
    plain_role = aws.role("approvers")
    return {
        "alice": aws.user("alice"),
        "plain_session": aws.assume(plain_role, "carol"),
        "sso_session": aws.assume(sso_role, "dave@example.com"),
        "plain_role": plain_role,
        "sso_role": sso_role,
        "sso_role_without_path": "arn:aws:iam::123456789012:role/"
        "AWSReservedSSO_Approvers_0123456789abcdef",
    }


# (who signals, which entry lists them) -> admitted under role_sessions, exact, ignoring_path
MATCHING = [
    ("alice", "alice:name", (True, True, True)),
    ("alice", "alice:arn", (True, True, True)),
    ("plain_session", "plain_session:arn", (True, True, True)),
    ("plain_session", "plain_role", (True, False, True)),
    ("sso_session", "sso_role", (True, False, True)),
    ("sso_session", "sso_role_without_path", (False, False, True)),
    ("plain_session", "sso_role_without_path", (False, False, False)),
]


@pytest.mark.parametrize("matching", AGREED["approver_matching"])
@pytest.mark.parametrize(("who", "entry", "admitted"), MATCHING)
def test_approver_matching(aws, matching, who, entry, admitted):
    world = _approver_world(aws)
    settings.approver_matching = matching
    name, _, form = entry.partition(":")
    if form == "name":
        listed = name
    elif form == "arn":
        listed = world[name].arn
    else:
        listed = world[entry]
    execution_id = aws.start([listed])
    expected = admitted[AGREED["approver_matching"].index(matching)]
    if expected:
        signal(world[who], execution_id, "Approve")
        assert aws.execution(execution_id)["AutomationExecutionStatus"] == "Success"
    else:
        with pytest.raises(ClientError) as raised:
            signal(world[who], execution_id, "Approve")
        code, message = error_of(raised)
        assert code == "InvalidAutomationSignalException"
        assert world[who].arn in message
        assert aws.execution(execution_id)["AutomationExecutionStatus"] == "Waiting"


@pytest.mark.parametrize("second", ["Approve", "Reject"])
def test_duplicate_signal_counted_once(aws, users, second):
    alice, bob = users("alice", "bob")
    execution_id = aws.start([alice.arn, bob.arn], 2)
    signal(alice, execution_id, "Approve")
    signal(alice, execution_id, second)
    step = aws.approve_step(execution_id)
    assert step["StepStatus"] == "Waiting"
    assert [d["Decision"] for d in decisions(step)] == ["Approve"]


@pytest.mark.parametrize("second", ["Approve", "Reject"])
def test_duplicate_signal_refused(aws, users, second):
    settings.duplicate_signal = "refused"
    alice, bob = users("alice", "bob")
    execution_id = aws.start([alice.arn, bob.arn], 2)
    signal(alice, execution_id, "Approve")
    with pytest.raises(ClientError) as raised:
        signal(alice, execution_id, second)
    code, message = error_of(raised)
    assert code == "InvalidAutomationSignalException"
    assert alice.arn in message and "already" in message
    signal(bob, execution_id, "Approve")  # the others still decide
    assert aws.execution(execution_id)["AutomationExecutionStatus"] == "Success"


def test_reject_under_quorum_rejects_at_once(aws, users):
    alice, bob, carol = users("alice", "bob", "carol")
    execution_id = aws.start([alice.arn, bob.arn, carol.arn], 2)
    signal(alice, execution_id, "Approve")
    signal(bob, execution_id, "Reject")
    step = aws.approve_step(execution_id)
    assert (step["StepStatus"], step["Outputs"]["ApprovalStatus"]) == ("Failed", ["Rejected"])


def test_reject_under_quorum_rejects_when_quorum_unreachable(aws, users):
    settings.reject_under_quorum = "rejects_when_quorum_unreachable"
    alice, bob, carol = users("alice", "bob", "carol")
    # One reject of 2-of-3: the other two may still approve.
    approved = aws.start([alice.arn, bob.arn, carol.arn], 2)
    signal(bob, approved, "Reject", "no")
    step = aws.approve_step(approved)
    assert (step["StepStatus"], step["Outputs"]["ApprovalStatus"]) == ("Waiting", ["Waiting"])
    assert [d["Decision"] for d in decisions(step)] == ["Reject"]
    signal(alice, approved, "Approve")
    assert aws.approve_step(approved)["StepStatus"] == "Waiting"
    signal(carol, approved, "Approve")
    step = aws.approve_step(approved)
    assert (step["StepStatus"], step["Outputs"]["ApprovalStatus"]) == ("Success", ["Approved"])
    assert [d["Decision"] for d in decisions(step)] == ["Reject", "Approve", "Approve"]

    # A second reject: one approver left cannot make two approvals.
    rejected = aws.start([alice.arn, bob.arn, carol.arn], 2)
    signal(bob, rejected, "Reject")
    signal(carol, rejected, "Reject")
    step = aws.approve_step(rejected)
    assert (step["StepStatus"], step["Outputs"]["ApprovalStatus"]) == ("Failed", ["Rejected"])
    assert bob.arn in step["FailureMessage"] and carol.arn in step["FailureMessage"]

    # One approver of one: a reject leaves nobody to approve.
    alone = aws.start([alice.arn])
    signal(alice, alone, "Reject")
    assert aws.approve_step(alone)["StepStatus"] == "Failed"


# --- the notification ---------------------------------------------------------------------


def _inbox(aws) -> str:
    queue_url, queue_arn = aws.queue(f"inbox-{uuid.uuid4().hex[:6]}")
    aws.sns.subscribe(TopicArn=aws.topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return queue_url


def _start_with_missing_topic(aws, alice) -> str:
    missing = aws.topic_arn.replace("AutomationSandboxApprovals", "AutomationDeleted")
    return aws.start([alice.arn], NotificationArn=[missing])


def test_failed_notification_fails_step(aws, alice):
    step = aws.approve_step(_start_with_missing_topic(aws, alice))
    assert step["StepStatus"] == "Failed"
    assert "does not exist" in step["FailureMessage"]


@pytest.mark.parametrize("failed_notification", AGREED["failed_notification"])
def test_a_fault_on_sns_publish_fails_the_request_too(aws, alice, failed_notification):
    settings.failed_notification = failed_notification
    inbox = _inbox(aws)
    fault = sandbox.faults.inject("sns", "Publish", "AuthorizationError", times=1)
    execution_id = aws.start([alice.arn])
    assert fault.injected == 1
    step = aws.approve_step(execution_id)
    if failed_notification == "fails_step":
        assert step["StepStatus"] == "Failed"
        assert "AuthorizationError" in step["FailureMessage"]
    else:
        assert step["StepStatus"] == "Waiting"
    assert aws.drain(inbox, wait_seconds=0.5) == []
    aws.start([alice.arn])  # the next request goes out
    assert len(aws.drain(inbox, wait_seconds=1)) == 1


def test_failed_notification_waits_unannounced(aws, alice):
    settings.failed_notification = "waits_unannounced"
    inbox = _inbox(aws)
    execution_id = _start_with_missing_topic(aws, alice)
    execution = aws.execution(execution_id)
    assert execution["AutomationExecutionStatus"] == "Waiting"
    assert execution["StepExecutions"][0]["Outputs"]["ApprovalStatus"] == ["Waiting"]
    assert aws.drain(inbox, wait_seconds=0.5) == []
    # Nobody was told; it still expires (or takes a decision from someone who knows).
    sandbox.clock.advance(TIMEOUT_SECONDS + 1)
    assert aws.execution(execution_id)["AutomationExecutionStatus"] == "TimedOut"
    # Input checks are not notifications: they fail the step under either value.
    bad = aws.start([alice.arn], NotificationArn=["arn:aws:sns:us-east-1:123456789012:Other"])
    assert aws.approve_step(bad)["StepStatus"] == "Failed"


# --- read after event ---------------------------------------------------------------------


def test_status_read_lag_reads_zero_reads_what_the_event_says(aws, alice, emitted):
    execution_id = aws.start([alice.arn])
    signal(alice, execution_id, "Approve")
    assert emitted[-1]["detail"]["Status"] == "Success"
    assert aws.execution(execution_id)["AutomationExecutionStatus"] == "Success"


def test_status_read_lag_reads_two_reads_show_the_previous_status(aws, alice, emitted):
    settings.status_read_lag_reads = 2
    execution_id = aws.start([alice.arn])
    # A new execution has no previous state: it reads as it is.
    assert aws.execution(execution_id)["AutomationExecutionStatus"] == "Waiting"

    signal(alice, execution_id, "Approve")
    assert emitted[-1]["detail"]["Status"] == "Success"  # the event is already out
    first = aws.execution(execution_id)
    assert first["AutomationExecutionStatus"] == "Waiting"
    assert first["StepExecutions"][0]["StepStatus"] == "Waiting"
    assert first["StepExecutions"][0]["Outputs"]["ApprovalStatus"] == ["Waiting"]
    steps = aws.ssm.describe_automation_step_executions(AutomationExecutionId=execution_id)
    assert steps["StepExecutions"][0]["StepStatus"] == "Waiting"
    third = aws.execution(execution_id)
    assert third["AutomationExecutionStatus"] == "Success"
    assert third["StepExecutions"][0]["Outputs"]["ApprovalStatus"] == ["Approved"]


def test_status_read_lag_counts_describe_automation_executions(aws, alice):
    settings.status_read_lag_reads = 2
    execution_id = aws.start([alice.arn])
    other = aws.start([alice.arn])
    signal(alice, execution_id, "Reject")
    by_status = {"Key": "ExecutionStatus", "Values": ["Failed"]}
    listed = aws.ssm.describe_automation_executions(Filters=[by_status])
    assert listed["AutomationExecutionMetadataList"] == []  # still Waiting to readers
    listed = aws.ssm.describe_automation_executions()["AutomationExecutionMetadataList"]
    statuses = {item["AutomationExecutionId"]: item["AutomationExecutionStatus"] for item in listed}
    assert statuses == {execution_id: "Waiting", other: "Waiting"}
    listed = aws.ssm.describe_automation_executions(Filters=[by_status])
    assert [
        item["AutomationExecutionId"] for item in listed["AutomationExecutionMetadataList"]
    ] == [execution_id]


def test_status_read_lag_applies_to_expiry_and_stop(aws, alice):
    settings.status_read_lag_reads = 2
    expired = aws.start([alice.arn])
    stopped = aws.start([alice.arn])
    aws.ssm.stop_automation_execution(AutomationExecutionId=stopped)
    assert [aws.execution(stopped)["AutomationExecutionStatus"] for _ in range(3)] == [
        "Waiting",
        "Waiting",
        "Cancelled",
    ]
    sandbox.clock.advance(TIMEOUT_SECONDS + 1)
    sandbox.expire_due()
    assert [aws.execution(expired)["AutomationExecutionStatus"] for _ in range(3)] == [
        "Waiting",
        "Waiting",
        "TimedOut",
    ]


# --- the concurrency quota and its queue --------------------------------------------------


def _statuses(aws, execution_ids: list[str]) -> list[str]:
    return [aws.execution(i)["AutomationExecutionStatus"] for i in execution_ids]


def test_past_the_quota_automations_queue_pending_then_the_queue_refuses(aws, alice, emitted):
    settings.max_concurrent_executions = 2
    settings.automation_queue_size = 2
    inbox = _inbox(aws)
    started = [aws.start([alice.arn], message=f"approval {n}") for n in range(4)]
    assert _statuses(aws, started) == ["Waiting", "Waiting", "Pending", "Pending"]
    queued = aws.execution(started[2])
    assert queued["StepExecutions"] == []
    assert "CurrentStepName" not in queued and "ExecutionEndTime" not in queued
    messages = [n["Message"] for n in aws.drain(inbox, wait_seconds=1)]
    assert len(messages) == 2 and all(started[2] not in m for m in messages)
    assert not [e for e in emitted if e["detail"]["ExecutionId"] in started[2:]]

    with pytest.raises(ClientError) as raised:
        aws.start([alice.arn])
    code, message = error_of(raised)
    assert code == "AutomationExecutionLimitExceededException"
    assert "quota is 2" in message and "queue holds 2" in message

    # An approval ends: the oldest queued one starts, asks its approvers, waits.
    signal(alice, started[0], "Approve")
    assert _statuses(aws, started) == ["Success", "Waiting", "Waiting", "Pending"]
    (message,) = [n["Message"] for n in aws.drain(inbox, wait_seconds=1)]
    assert started[2] in message
    statuses = [e["detail"]["Status"] for e in emitted if e["detail"]["ExecutionId"] == started[2]]
    assert statuses[0] == "InProgress" and "Waiting" in statuses


def test_any_end_frees_a_slot_and_cancelling_a_queued_one_frees_its_place(aws, alice):
    settings.max_concurrent_executions = 1
    settings.automation_queue_size = 2
    first, second, third = (aws.start([alice.arn]) for _ in range(3))
    assert _statuses(aws, [first, second, third]) == ["Waiting", "Pending", "Pending"]

    aws.ssm.stop_automation_execution(AutomationExecutionId=second)  # a queued one
    assert _statuses(aws, [first, second, third]) == ["Waiting", "Cancelled", "Pending"]
    fourth = aws.start([alice.arn])  # its place in the queue is free again
    assert aws.execution(fourth)["AutomationExecutionStatus"] == "Pending"

    signal(alice, first, "Reject")  # a rejection ends it too
    assert _statuses(aws, [first, third, fourth]) == ["Failed", "Waiting", "Pending"]
    aws.ssm.stop_automation_execution(AutomationExecutionId=third)  # so does a stop
    assert _statuses(aws, [third, fourth]) == ["Cancelled", "Waiting"]


def test_a_queued_step_times_out_counting_from_when_it_starts(aws, alice):
    settings.max_concurrent_executions = 1
    first = aws.start([alice.arn])
    queued = aws.start([alice.arn])
    sandbox.clock.advance(3000)
    signal(alice, first, "Approve")
    step = aws.approve_step(queued)
    assert step["StepStatus"] == "Waiting"
    assert (
        step["ExecutionStartTime"] - aws.execution(queued)["ExecutionStartTime"]
    ).total_seconds() >= 3000
    sandbox.clock.advance(1000)  # 4000 s after the start call, 1000 s after the step's start
    assert aws.execution(queued)["AutomationExecutionStatus"] == "Waiting"
    sandbox.clock.advance(TIMEOUT_SECONDS - 1000)
    assert aws.execution(queued)["AutomationExecutionStatus"] == "TimedOut"


@pytest.mark.parametrize("waiting_holds_slot", AGREED["waiting_holds_slot"])
def test_waiting_holds_slot(aws, alice, waiting_holds_slot):
    settings.waiting_holds_slot = waiting_holds_slot
    settings.max_concurrent_executions = 1
    settings.automation_queue_size = 0
    first = aws.start([alice.arn])
    if waiting_holds_slot:
        with pytest.raises(ClientError) as raised:
            aws.start([alice.arn])
        assert error_of(raised)[0] == "AutomationExecutionLimitExceededException"
    else:
        second = aws.start([alice.arn])
        assert _statuses(aws, [first, second]) == ["Waiting", "Waiting"]


def test_waiting_holds_slot_changed_at_run_time_starts_the_queue(aws, alice):
    settings.max_concurrent_executions = 1
    first, queued = aws.start([alice.arn]), aws.start([alice.arn])
    assert _statuses(aws, [first, queued]) == ["Waiting", "Pending"]
    settings.waiting_holds_slot = False
    assert _statuses(aws, [first, queued]) == ["Waiting", "Waiting"]


# --- DynamoDB global secondary indexes ----------------------------------------------------


@pytest.fixture
def records(aws) -> Any:
    dynamodb.install()
    client = aws.client("dynamodb")
    client.create_table(
        TableName="records",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "status", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_status",
                "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    return client


def _by_status(client: Any, status: str) -> list[str]:
    items = client.query(
        TableName="records",
        IndexName="by_status",
        KeyConditionExpression="#s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": status}},
    )["Items"]
    return sorted(item["id"]["S"] for item in items)


def _scan_index(client: Any) -> list[str]:
    items = client.scan(TableName="records", IndexName="by_status")["Items"]
    return sorted(item["id"]["S"] for item in items)


def test_gsi_lag_zero_the_index_shows_every_write_at_once(records):
    records.put_item(TableName="records", Item={"id": {"S": "a"}, "status": {"S": "PENDING"}})
    assert _by_status(records, "PENDING") == ["a"]


@pytest.mark.parametrize("lag", [2, 0.4])
def test_gsi_lag_the_index_shows_items_as_they_were_lag_seconds_ago(records, lag):
    sandbox.settings.gsi_lag_seconds = lag
    put = records.put_item
    put(TableName="records", Item={"id": {"S": "old"}, "status": {"S": "PENDING"}})
    put(TableName="records", Item={"id": {"S": "gone"}, "status": {"S": "PENDING"}})
    time.sleep(lag + 0.1)
    assert _by_status(records, "PENDING") == ["gone", "old"]

    put(TableName="records", Item={"id": {"S": "new"}, "status": {"S": "PENDING"}})
    records.update_item(
        TableName="records",
        Key={"id": {"S": "old"}},
        UpdateExpression="SET #s = :d",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":d": {"S": "DECIDED"}},
    )
    records.delete_item(TableName="records", Key={"id": {"S": "gone"}})
    # The index: as lag seconds ago (new absent, old still PENDING, gone still there).
    assert _by_status(records, "PENDING") == ["gone", "old"]
    assert _by_status(records, "DECIDED") == []
    assert _scan_index(records) == ["gone", "old"]
    # The base table: strongly consistent when asked.
    item = records.get_item(TableName="records", Key={"id": {"S": "old"}}, ConsistentRead=True)
    assert item["Item"]["status"]["S"] == "DECIDED"
    assert "Item" not in records.get_item(
        TableName="records", Key={"id": {"S": "gone"}}, ConsistentRead=True
    )
    scanned = records.scan(TableName="records", ConsistentRead=True)["Items"]
    assert sorted(i["id"]["S"] for i in scanned) == ["new", "old"]

    time.sleep(lag + 0.1)
    assert _by_status(records, "PENDING") == ["new"]
    assert _by_status(records, "DECIDED") == ["old"]


def test_gsi_lag_covers_transactions_and_batches(records):
    sandbox.settings.gsi_lag_seconds = 0.4
    records.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": "records",
                    "Item": {"id": {"S": "t"}, "status": {"S": "PENDING"}},
                }
            }
        ]
    )
    records.batch_write_item(
        RequestItems={
            "records": [{"PutRequest": {"Item": {"id": {"S": "b"}, "status": {"S": "PENDING"}}}}]
        }
    )
    assert _by_status(records, "PENDING") == []
    time.sleep(0.5)
    assert _by_status(records, "PENDING") == ["b", "t"]
