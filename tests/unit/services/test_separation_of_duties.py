"""Separation of duties at the start (approval_core.separation, validation): a requester is
never asked to approve their own request; a request left short of its quorum fails with
ApprovalPolicyUnsatisfiable, naming who was left out and the fix."""

from __future__ import annotations

import pytest

from approval_core.launcher import approvers_message
from approval_core.separation import could_be
from start_approval.errors import ApprovalPolicyUnsatisfiable, InvalidApprovalRequest
from start_approval.settings import Settings
from start_approval.validation import parse_invocation

ACCOUNT = "123456789012"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"
CAROL = f"arn:aws:iam::{ACCOUNT}:user/carol"
DEPLOYERS = f"arn:aws:iam::{ACCOUNT}:role/team/Deployers"
ALICE_AS_DEPLOYER = f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployers/alice"
ENVIRONMENT = {
    "APPROVALS_TABLE_NAME": "records",
    "APPROVAL_DOCUMENT_NAME": "Doc",
    "NOTIFICATION_TOPIC_ARN": f"arn:aws:sns:us-east-1:{ACCOUNT}:AutomationTopic",
}


def settings(**extra: str) -> Settings:
    return Settings.from_environment({**ENVIRONMENT, **extra})


def payload(**request) -> dict:
    return {
        "task_token": "token",
        "execution_arn": f"arn:aws:states:us-east-1:{ACCOUNT}:execution:Flow:run-1",
        "state_name": "Approve",
        "state_entered_time": "2026-11-28T07:00:00.000Z",
        "request": request,
    }


@pytest.mark.parametrize(
    ("approver", "requester", "same"),
    [
        (ALICE, ALICE, True),
        ("alice", ALICE, True),  # a user name and that user's ARN
        ("ALICE", ALICE, True),  # IAM names are unique without case
        (ALICE, BOB, False),
        ("arn:aws:iam::210987654321:user/alice", ALICE, False),  # another account's alice
        (DEPLOYERS, ALICE_AS_DEPLOYER, True),  # a role and a session of it
        (ALICE_AS_DEPLOYER, DEPLOYERS, True),
        (ALICE_AS_DEPLOYER, f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployers/bob", False),
        (DEPLOYERS, ALICE, False),  # a user is not a role
        (f"arn:aws:iam::{ACCOUNT}:role/alice", ALICE, False),
    ],
)
def test_which_approver_entries_could_be_the_requester(approver, requester, same):
    assert could_be(approver, requester) is same


def test_the_requester_is_left_out_of_the_approvers():
    invocation = parse_invocation(
        payload(message="Deploy?", approvers=[ALICE, BOB, CAROL], requested_by="alice"),
        settings(),
    )
    assert invocation.request.approvers == (BOB, CAROL)
    assert invocation.request.left_out == (ALICE,)
    assert invocation.request.requested_by == "alice"


def test_a_role_the_requester_acts_through_is_left_out_too():
    invocation = parse_invocation(
        payload(message="Deploy?", approvers=[DEPLOYERS, BOB], requested_by=ALICE_AS_DEPLOYER),
        settings(),
    )
    assert invocation.request.approvers == (BOB,)


@pytest.mark.parametrize(
    ("approvers", "quorum"), [([ALICE], 1), ([ALICE, BOB], 2), ([DEPLOYERS], 1)]
)
def test_a_request_short_of_its_quorum_without_the_requester_fails_by_name(approvers, quorum):
    with pytest.raises(ApprovalPolicyUnsatisfiable) as refused:
        parse_invocation(
            payload(
                message="Deploy?",
                approvers=approvers,
                min_required_approvals=quorum,
                requested_by=ALICE_AS_DEPLOYER if DEPLOYERS in approvers else ALICE,
            ),
            settings(),
        )
    message = str(refused.value)
    assert "may not approve their own request (prevent_self_approval)" in message
    assert f"request.min_required_approvals {quorum}" in message or quorum == 1
    assert "add approvers who are not the requester, or lower the quorum" in message


def test_with_prevent_self_approval_off_the_requester_stays_an_approver():
    invocation = parse_invocation(
        payload(message="Deploy?", approvers=[ALICE], requested_by=ALICE),
        settings(PREVENT_SELF_APPROVAL="false"),
    )
    assert invocation.request.approvers == (ALICE,)
    assert invocation.request.left_out == ()


def test_a_bad_prevent_self_approval_names_the_variable():
    with pytest.raises(InvalidApprovalRequest, match=r"PREVENT_SELF_APPROVAL .* true or false"):
        settings(PREVENT_SELF_APPROVAL="yes")


def test_the_approvers_are_told_who_asked():
    text = approvers_message("id-1", "Deploy?", requested_by=ALICE)
    assert text.startswith(f"Deploy?\n\nRequested by {ALICE}.\n\nApproval id-1.")
