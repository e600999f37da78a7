"""Settings of the local AWS for who may decide and how their decisions count (approver
matching, a second signal, a rejection under a quorum), one value at a time, through boto3
(docs/aws-behaviour.md, the anchors in sandbox/ssm/settings.py)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

import sandbox
from tests.support.sandbox_variants import AGREED, decisions, error_of, signal

settings = sandbox.settings


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
