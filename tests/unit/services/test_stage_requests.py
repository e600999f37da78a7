"""A request's stages: parsed in order with their own approvers, quorum, message and timeout;
a request without stages is one stage; clear errors naming the field and the fix for an empty
stage, duplicate names, a quorum above a stage's approvers, too many stages, stages given with
top-level approvers, a timeout longer than SSM's; the requester left out of every stage."""

import pytest

from approval_core.stages import MAX_STAGES, Stage
from start_approval.errors import ApprovalPolicyUnsatisfiable, InvalidApprovalRequest
from start_approval.validation import parse_invocation
from tests.unit.services.test_start_validation import ROLE, USER, payload, rejected, settings

BOB = "arn:aws:iam::123456789012:user/bob"
CAROL = "arn:aws:iam::123456789012:user/carol"


def stage(name: str, *approvers: str, **fields) -> dict:
    return {"name": name, "approvers": list(approvers), **fields}


def test_stages_are_parsed_in_order_with_their_own_fields():
    request = parse_invocation(
        payload(
            message="Deploy 2.0?",
            stages=[
                stage("change", USER),
                stage("security", BOB, CAROL, min_required_approvals=2, message="Review it"),
                stage("release", ROLE, timeout_seconds=600),
            ],
        ),
        settings(),
    ).request
    assert request.stages == (
        Stage("change", (USER,), 1),
        Stage("security", (BOB, CAROL), 2, message="Review it"),
        Stage("release", (ROLE,), 1, timeout_seconds=600),
    )
    assert (request.approvers, request.min_required_approvals) == ((USER,), 1)
    first = request.first_stage()
    assert (first.number, first.stage_count) == (1, 3)
    assert first.message == "Stage 1 of 3: change.\n\nDeploy 2.0?"


def test_a_request_without_stages_is_one_stage():
    request = parse_invocation(payload(message="m", approvers=[USER]), settings()).request
    assert request.stages == ()
    assert request.all_stages == (Stage("approval", (USER,), 1),)
    assert request.first_stage().message == "m"  # no "Stage 1 of 1"


@pytest.mark.parametrize(
    ("stages", "words"),
    [
        ([stage("change")], "request.stages[0].approvers must contain at least 1 items"),
        ([], "request.stages must contain at least 1 items"),
        (
            [stage("change", USER), stage("change", BOB)],
            "request.stages[1].name 'change' names an earlier stage too: give each stage its own",
        ),
        (
            [stage("change", USER, min_required_approvals=2)],
            "request.stages[0].min_required_approvals is 2 but request.stages[0].approvers lists "
            "only 1 approver(s)",
        ),
        (
            [stage(f"s{n}", USER) for n in range(MAX_STAGES + 1)],
            "request.stages must contain less than or equal to 5 items",
        ),
        ([{"approvers": [USER]}], "request.stages[0].name is missing: The stage's name"),
        ([stage("", USER)], "request.stages[0].name is '', which is not allowed"),
        (
            [stage("change", USER, quorum=1)],
            "request.stages[0] must not contain {'quorum'} properties",
        ),
        (
            [stage("change", USER, timeout_seconds=7200)],
            "request.stages[0].timeout_seconds is 7200, longer than the deployment's "
            "approval_timeout_seconds (3600",
        ),
        ([stage("change", USER, timeout_seconds=59)], "request.stages[0].timeout_seconds"),
    ],
)
def test_a_bad_stage_is_refused_naming_the_field_and_the_fix(stages, words):
    message = rejected(
        payload(message="m", stages=stages), settings(APPROVAL_TIMEOUT_SECONDS="3600")
    )
    assert words in message


@pytest.mark.parametrize("field", ["approvers", "min_required_approvals"])
def test_stages_with_top_level_approvers_are_refused(field):
    value = [USER] if field == "approvers" else 1
    message = rejected(payload(message="m", stages=[stage("change", USER)], **{field: value}))
    assert f"request.{field} and request.stages are both given" in message


def test_more_stages_than_the_deployment_allows_are_refused():
    message = rejected(
        payload(message="m", stages=[stage("a", USER), stage("b", BOB), stage("c", CAROL)]),
        settings(MAX_APPROVAL_STAGES="2"),
    )
    assert "lists 3 stages; this deployment allows at most 2 (max_approval_stages)" in message


@pytest.mark.parametrize("raw", ["0", "6", "many"])
def test_a_bad_max_approval_stages_names_the_variable(raw):
    with pytest.raises(InvalidApprovalRequest, match=r"MAX_APPROVAL_STAGES .* whole number"):
        settings(MAX_APPROVAL_STAGES=raw)


def test_the_requester_is_left_out_of_every_stage():
    request = parse_invocation(
        payload(
            message="m",
            requested_by=USER,
            stages=[stage("change", USER, BOB), stage("release", CAROL, USER)],
        ),
        settings(),
    ).request
    assert [(s.approvers, s.left_out) for s in request.stages] == [
        ((BOB,), (USER,)),
        ((CAROL,), (USER,)),
    ]


def test_a_stage_left_short_by_the_requester_fails_naming_the_stage():
    with pytest.raises(ApprovalPolicyUnsatisfiable) as caught:
        parse_invocation(
            payload(
                message="m",
                requested_by=USER,
                stages=[stage("change", BOB), stage("release", USER)],
            ),
            settings(),
        )
    assert "left request.stages[1].approvers with 0 approver(s)" in str(caught.value)


# --- escalation --------------------------------------------------------------------------------


def test_escalation_is_parsed_per_stage_with_the_request_as_default():
    request = parse_invocation(
        payload(
            message="m",
            escalate_after_seconds=3600,
            escalation_approvers=[CAROL],
            stages=[
                stage("change", USER),
                stage("security", BOB, escalate_after_seconds=600, escalation_approvers=[ROLE]),
            ],
        ),
        settings(),
    ).request
    assert [(s.escalate_after_seconds, s.escalation_approvers) for s in request.stages] == [
        (3600, (CAROL,)),
        (600, (ROLE,)),
    ]


def test_a_one_stage_request_that_escalates_keeps_its_stage():
    request = parse_invocation(
        payload(
            message="m", approvers=[USER], escalate_after_seconds=600, escalation_approvers=[BOB]
        ),
        settings(),
    ).request
    assert request.stages == (
        Stage("approval", (USER,), 1, escalate_after_seconds=600, escalation_approvers=(BOB,)),
    )
    assert request.first_stage().escalation is False  # the first request is the approvers'


def test_the_deployment_sets_the_default_escalation():
    deployment = settings(ESCALATE_AFTER_SECONDS="7200", ESCALATION_APPROVERS=f"{CAROL}, {ROLE}")
    request = parse_invocation(payload(message="m", approvers=[USER]), deployment).request
    assert (request.stages[0].escalate_after_seconds, request.stages[0].escalation_approvers) == (
        7200,
        (CAROL, ROLE),
    )


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        (
            {"escalate_after_seconds": 600},
            "request.escalate_after_seconds is set but request.escalation_approvers is not",
        ),
        (
            {"escalation_approvers": [BOB]},
            "request.escalation_approvers is set but request.escalate_after_seconds is not",
        ),
        (
            {"escalate_after_seconds": 3600, "escalation_approvers": [BOB]},
            "request.escalate_after_seconds is 3600, not sooner than the stage's timeout (3600 s)",
        ),
        ({"escalate_after_seconds": 30, "escalation_approvers": [BOB]}, "escalate_after_seconds"),
        ({"escalate_after_seconds": 600, "escalation_approvers": []}, "escalation_approvers"),
    ],
)
def test_a_bad_escalation_is_refused_naming_the_field_and_the_fix(fields, words):
    message = rejected(
        payload(message="m", approvers=[USER], **fields), settings(APPROVAL_TIMEOUT_SECONDS="3600")
    )
    assert words in message


def test_the_requester_is_left_out_of_the_escalation_approvers():
    request = parse_invocation(
        payload(
            message="m",
            approvers=[BOB],
            requested_by=USER,
            escalate_after_seconds=600,
            escalation_approvers=[USER, CAROL],
        ),
        settings(),
    ).request
    assert request.stages[0].escalation_approvers == (CAROL,)
    with pytest.raises(ApprovalPolicyUnsatisfiable, match="every escalation approver"):
        parse_invocation(
            payload(
                message="m",
                approvers=[BOB],
                requested_by=USER,
                escalate_after_seconds=600,
                escalation_approvers=[USER],
            ),
            settings(),
        )
