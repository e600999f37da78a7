"""start_approval's input checks: every bad payload gets InvalidApprovalRequest naming the
field and the fix."""

import re

import pytest
from botocore.session import Session

from approval_core.launcher import approval_tag_key
from start_approval.errors import InvalidApprovalRequest
from start_approval.models import CONFIRMATION_MESSAGE
from start_approval.settings import Settings
from start_approval.validation import parse_invocation

ROLE = "arn:aws:iam::123456789012:role/Approvers"
USER = "arn:aws:iam::123456789012:user/alice"
SESSION = "arn:aws:sts::123456789012:assumed-role/Approvers/bob"
TOKEN = "AQB8AAAAKgAAAAMAAAAAAAAAAe" + "x" * 600

ENVIRONMENT = {
    "APPROVALS_TABLE_NAME": "records",
    "APPROVAL_DOCUMENT_NAME": "Doc",
    "NOTIFICATION_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:AutomationTopic",
}


def settings(**extra: str) -> Settings:
    return Settings.from_environment({**ENVIRONMENT, **extra})


def payload(**request) -> dict:
    return {
        "task_token": TOKEN,
        "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:Flow:run-1",
        "state_name": "Approve",
        "state_entered_time": "2026-11-28T07:00:00.000Z",
        "request": request,
    }


def rejected(event, config=None) -> str:
    with pytest.raises(InvalidApprovalRequest) as caught:
        parse_invocation(event, config or settings())
    message = str(caught.value)
    assert TOKEN not in message
    return message


def test_a_valid_request_is_parsed_with_its_values():
    invocation = parse_invocation(
        payload(message="Ship it?", approvers=[ROLE, USER], min_required_approvals=2), settings()
    )
    assert invocation.request.approvers == (ROLE, USER)
    assert invocation.request.min_required_approvals == 2
    assert invocation.request.message == "Ship it?"
    assert TOKEN not in repr(invocation)


def test_confirmation_url_and_file_are_formatted_into_the_message_as_in_the_original():
    invocation = parse_invocation(
        payload(
            confirmation_url="https://example.com/",
            confirmation_file="index.html",
            approvers=[ROLE],
        ),
        settings(),
    )
    assert invocation.request.message == CONFIRMATION_MESSAGE.format(
        file="index.html", url="https://example.com/"
    )
    assert "index.html" in invocation.request.message


def test_defaults_come_from_the_environment():
    invocation = parse_invocation(
        payload(message="ok?"),
        settings(DEFAULT_APPROVERS=f"{ROLE}, {USER}", DEFAULT_MIN_REQUIRED_APPROVALS="2"),
    )
    assert invocation.request.approvers == (ROLE, USER)
    assert invocation.request.min_required_approvals == 2


def test_the_approval_id_is_stable_across_retries_and_differs_per_state_entry():
    first = parse_invocation(payload(message="m", approvers=[ROLE]), settings())
    retry = parse_invocation(
        {**payload(message="m", approvers=[ROLE]), "task_token": "new"}, settings()
    )
    later = parse_invocation(
        {**payload(message="m", approvers=[ROLE]), "state_entered_time": "2026-11-28T08:00:00Z"},
        settings(),
    )
    assert first.approval_id == retry.approval_id != later.approval_id


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({**payload(message="m", approvers=[ROLE]), "task_token": ""}, "task_token"),
        (
            {k: v for k, v in payload(message="m").items() if k != "task_token"},
            "task_token is missing",
        ),
        ({k: v for k, v in payload(message="m").items() if k != "request"}, "request is missing"),
        ({**payload(), "execution_arn": "exec-1"}, "execution_arn"),
        (payload(approvers=[ROLE]), "request.message is missing"),
        (payload(message="", approvers=[ROLE]), "request.message"),
        (payload(message="m" * 4097, approvers=[ROLE]), "request.message"),
        (payload(message="m", approvers=[]), "request.approvers"),
        (payload(message="m", approvers=[f"{ROLE}{i}" for i in range(11)]), "request.approvers"),
        (payload(message="m", approvers=[ROLE, ROLE]), "request.approvers"),
        (
            payload(message="m", approvers=["arn:aws:iam::123456789012:group/Admins"]),
            "group/Admins",
        ),
        (
            payload(message="m", approvers=[ROLE], min_required_approvals=2),
            "min_required_approvals is 2",
        ),
        (
            payload(message="m", approvers=[ROLE], min_required_approvals=0),
            "min_required_approvals",
        ),
        (
            payload(message="m", approvers=[ROLE], min_required_approvals="1"),
            "min_required_approvals",
        ),
        (payload(confirmation_url="https://x", approvers=[ROLE]), "confirmation_file"),
        (payload(message="m", approvers=[ROLE], description="d" * 513), "request.description"),
        (payload(message="m"), "request.approvers is missing"),
    ],
)
def test_bad_input_is_refused_with_the_field_named(event, expected):
    message = rejected(event)
    assert expected in message
    assert ": " in message  # a fix follows the field


def test_an_approver_that_is_a_group_is_explained():
    message = rejected(payload(message="m", approvers=["arn:aws:iam::123456789012:group/Admins"]))
    assert message.startswith("request.approvers[0]")
    assert "groups" in message


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"DEFAULT_APPROVERS": "arn:aws:iam::123456789012:group/Admins"}, "DEFAULT_APPROVERS"),
        ({"DEFAULT_APPROVERS": ",".join(f"user{i}" for i in range(11))}, "DEFAULT_APPROVERS"),
        ({"DEFAULT_APPROVERS": ROLE, "DEFAULT_MIN_REQUIRED_APPROVALS": "2"}, "DEFAULT_APPROVERS"),
    ],
)
def test_wrong_defaults_name_the_environment_variable(environment, expected):
    assert expected in rejected(payload(message="m"), settings(**environment))


@pytest.mark.parametrize(
    ("missing", "environment"),
    [
        ("APPROVALS_TABLE_NAME", {"APPROVALS_TABLE_NAME": ""}),
        ("NOTIFICATION_TOPIC_ARN", {"NOTIFICATION_TOPIC_ARN": " "}),
        ("DEFAULT_MIN_REQUIRED_APPROVALS", {"DEFAULT_MIN_REQUIRED_APPROVALS": "two"}),
    ],
)
def test_an_incomplete_environment_names_the_variable(missing, environment):
    with pytest.raises(InvalidApprovalRequest, match=missing):
        settings(**environment)


def _model_pattern(pattern: str) -> str:
    """An SSM model pattern for Python's re (no \\p{..} classes): letters, separators and
    numbers as \\w and \\s, which covers the ASCII the gate writes."""
    return (
        pattern.strip("^$")
        .replace("\\p{L}", "\\w")
        .replace("\\p{Z}", "\\s")
        .replace("\\p{N}", "\\d")
    )


def test_the_approval_tag_fits_what_ssm_accepts_for_a_tag_and_a_tagkey_filter():
    """The tag key is also the DescribeAutomationExecutions TagKey filter value: it must
    meet both limits of the SSM model for every approval id."""
    model = Session().get_service_model("ssm")
    tag_key = model.shape_for("TagKey").metadata
    tag_value = model.shape_for("TagValue").metadata
    filter_value = model.shape_for("AutomationExecutionFilterValue").metadata
    invocation = parse_invocation(payload(message="m", approvers=[ROLE]), settings())
    key, value = approval_tag_key(invocation.approval_id), invocation.approval_id

    assert tag_key["min"] <= len(key) <= min(tag_key["max"], filter_value["max"])
    assert re.fullmatch(_model_pattern(tag_key["pattern"]), key)
    assert len(value) <= tag_value["max"]
    assert re.fullmatch(_model_pattern(tag_value["pattern"]), value)
