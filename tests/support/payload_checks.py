"""What every outcome of start_approval's `parse_invocation` must meet, for the property
tests of the parser (tests/unit) and of the handler (tests/functional): a TaskInvocation within
the documented limits, or InvalidApprovalRequest naming a field and its fix; never the task
token in either. With the example payloads of the regression tests."""

from __future__ import annotations

import re
import uuid
from typing import Any

import hypothesis

from start_approval.errors import InvalidApprovalRequest
from start_approval.models import CONFIRMATION_MESSAGE, TaskInvocation
from start_approval.settings import Settings
from start_approval.validation import parse_invocation
from tests.support.strategies import (
    BASE_EXECUTION_ARN,
    ENVIRONMENT,
    ENVIRONMENT_VARIABLES,
    PRINCIPAL,
    REQUEST_FIELDS,
    TOP_FIELDS,
)

# A refusal starts with the field it is about: a payload path or a function variable.
NAMED_FIELD = re.compile(
    r"(the payload"
    r"|task_token|execution_arn|state_name|state_entered_time"
    rf"|request(\.({'|'.join(REQUEST_FIELDS)})(\[\d+\](\.\w+)?)?)?"
    rf"|({'|'.join(ENVIRONMENT_VARIABLES)}) \(function environment\)"
    r") "
)


def label(text: str) -> None:
    """Counts outcomes for --hypothesis-show-statistics (only inside a hypothesis test)."""
    if hypothesis.currently_in_test_context():
        hypothesis.event(text)


def expected_message(request: dict[str, Any]) -> str:
    if "message" in request:
        return request["message"]
    return CONFIRMATION_MESSAGE.format(
        file=request["confirmation_file"], url=request["confirmation_url"]
    )


def parse(event: Any, environment: dict[str, str]) -> TaskInvocation | InvalidApprovalRequest:
    """The only outcomes allowed: any other exception fails the test."""
    try:
        return parse_invocation(event, Settings.from_environment(environment))
    except InvalidApprovalRequest as error:
        return error


def strings_in(value: Any) -> list[str]:
    """Every string a JSON-like value holds, keys included, and their reprs (a message may
    quote a value with repr). Iterative: values may be nested hundreds deep."""
    found, pending = [repr(value)], [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            found += [item, repr(item)]
        elif isinstance(item, dict):
            pending += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            pending += item
    return found


def holds(token: str, *texts: Any) -> bool:
    return any(token in text for value in texts for text in strings_in(value))


SENTINEL = "\U000f0000"  # a private-use character, in no text of the services


def check_token_kept_out(text: str, event: Any, environment: dict[str, str]) -> None:
    """`text` (a refusal, an invocation's repr) never holds the task token. Checked with a
    twin of the event whose token is as long (so just as valid) but made of a character
    nothing else holds, and with the real token unless other fields or the fixed texts
    hold it anyway (hypothesis likes to reuse strings, and mines the services' own)."""
    token = event.get("task_token") if isinstance(event, dict) else None
    if not isinstance(token, str) or not token:
        return
    rest = ({**event, "task_token": None}, environment)
    twin_text = str(parse({**event, "task_token": SENTINEL * len(token)}, environment))
    if not holds(SENTINEL, *rest):
        assert SENTINEL not in twin_text
    if not holds(token, *rest, twin_text):
        assert token not in text


def check_refusal(error: InvalidApprovalRequest, event: Any, environment: dict[str, str]) -> None:
    message = str(error)
    assert NAMED_FIELD.match(message), f"no field named first: {message!r}"
    assert ": " in message, f"no fix follows the field: {message!r}"
    check_token_kept_out(message, event, environment)


def check_invocation(
    invocation: TaskInvocation, event: dict[str, Any], environment: dict[str, str]
) -> None:
    assert isinstance(invocation, TaskInvocation)
    request = invocation.request
    approvers = request.approvers
    assert isinstance(approvers, tuple)
    assert 1 <= len(approvers) <= 10
    assert len(set(approvers)) == len(approvers)
    assert all(isinstance(a, str) and PRINCIPAL.fullmatch(a) for a in approvers), approvers
    quorum = request.min_required_approvals
    assert type(quorum) is int
    assert 1 <= quorum <= len(approvers)
    assert isinstance(request.message, str)
    assert 1 <= len(request.message) <= 4096
    assert request.description is None or (
        isinstance(request.description, str) and len(request.description) <= 512
    )
    for name in TOP_FIELDS[:4]:
        assert getattr(invocation, name) is event[name]
    given_request = event["request"]
    if "approvers" in given_request:
        assert approvers == tuple(given_request["approvers"])
    if "min_required_approvals" in given_request:
        assert quorum == given_request["min_required_approvals"]
    assert request.message == expected_message(given_request)
    assert request.description == given_request.get("description")
    assert uuid.UUID(invocation.approval_id).version == 5
    check_token_kept_out(repr(invocation), event, environment)


def check_parse(event: Any, environment: dict[str, str]) -> TaskInvocation | None:
    before = repr(event)
    outcome = parse(event, environment)
    label(f"parse: {type(outcome).__name__}")
    assert repr(event) == before, "the payload was changed"
    if isinstance(outcome, InvalidApprovalRequest):
        check_refusal(outcome, event, environment)
        return None
    check_invocation(outcome, event, environment)
    return outcome


# --- examples (the regression tests') ---------------------------------------------------

ROLE = "arn:aws:iam::123456789012:role/Approvers"
USER = "arn:aws:iam::123456789012:user/alice"
TOKEN = "AQB8AAAAKgAAAAMAAAAAAAAAAe" + "x" * 600


def payload(**request: Any) -> dict[str, Any]:
    return {
        "task_token": TOKEN,
        "execution_arn": f"{BASE_EXECUTION_ARN}-{uuid.uuid4()}",
        "state_name": "Approve",
        "state_entered_time": "2026-11-28T07:00:00.000Z",
        "request": {"message": "Ship it?", "approvers": [ROLE, USER], **request},
    }


def refusal(event: Any, environment: dict[str, str] = ENVIRONMENT) -> str:
    outcome = parse(event, environment)
    assert isinstance(outcome, InvalidApprovalRequest), outcome
    check_refusal(outcome, event, environment)
    return str(outcome)
