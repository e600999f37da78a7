"""Property-based tests (hypothesis) of the request schema and the event parser.

Any input gives either a valid result or the named error, never an unhandled exception, a
started automation or a half-written record:

1. start_approval's `parse_invocation`: arbitrary JSON-like values and near-valid payloads
   (one field broken) give a TaskInvocation within the documented limits or
   InvalidApprovalRequest naming a field, without the task token.
2. receive_result's `StepStatusEvent.parse` and `WorkflowEndedEvent.parse`: anything gives an
   event or MalformedEvent; events in the documented EventBridge format (AWS_FACTS.md)
   always parse, fields kept.
3. `ApproverDecision.parse`/`parse_all`, `ApprovalStep.decision()` and the SSM reading behind
   them never raise; only a step in a final status (any status but the non-terminal ones)
   with an approval id decides, Approved only when ApprovalStatus says Approved, Rejected
   whenever SSM says Rejected (ApprovalStatus, a decision or the status) and not Approved.
4. start_approval's handler against moto: an invalid payload stores and starts nothing; a
   valid one stores one record and starts one automation.

The examples these properties found (A to H) are kept as regression tests at the end of
this file.
"""

from __future__ import annotations

import copy
import json
import os
import re
import string
import uuid
from typing import Any

import hypothesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import sandbox
from approval_core.automations import NON_TERMINAL_STATUSES, is_terminal
from receive_result.automation import ApprovalAutomation
from receive_result.errors import MalformedEvent
from receive_result.models import (
    EXECUTION_STATUS_CHANGE,
    STEP_STATUS_CHANGE,
    ApprovalStep,
    ApproverDecision,
    Decision,
    Outcome,
    StepStatusEvent,
    WorkflowEndedEvent,
)
from start_approval.automation import MESSAGE_PARAMETERS
from start_approval.errors import InvalidApprovalRequest
from start_approval.models import CONFIRMATION_MESSAGE, TaskInvocation
from start_approval.settings import Settings
from start_approval.validation import parse_invocation, payload_schema
from tests.functional.services.conftest import render_document

# --- what the contract says -------------------------------------------------------------

SCHEMA = payload_schema()
REQUEST_SCHEMA = SCHEMA["properties"]["request"]["properties"]
EXECUTION_ARN = re.compile(SCHEMA["properties"]["execution_arn"]["pattern"])
PRINCIPAL = re.compile(REQUEST_SCHEMA["approvers"]["items"]["pattern"])
TOP_FIELDS = ("task_token", "execution_arn", "state_name", "state_entered_time", "request")
REQUEST_FIELDS = tuple(REQUEST_SCHEMA)
ENVIRONMENT = {
    "APPROVALS_TABLE_NAME": "records",
    "APPROVAL_DOCUMENT_NAME": "Doc",
    "NOTIFICATION_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:AutomationTopic",
}
ENVIRONMENT_VARIABLES = (
    *ENVIRONMENT,
    "DEFAULT_APPROVERS",
    "DEFAULT_MIN_REQUIRED_APPROVALS",
    "APPROVAL_TIMEOUT_SECONDS",
    "RECORD_RETENTION_DAYS",
)
# A refusal starts with the field it is about: a payload path or a function variable.
NAMED_FIELD = re.compile(
    r"(the payload"
    r"|task_token|execution_arn|state_name|state_entered_time"
    rf"|request(\.({'|'.join(REQUEST_FIELDS)})(\[\d+\])?)?"
    rf"|({'|'.join(ENVIRONMENT_VARIABLES)}) \(function environment\)"
    r") "
)
# botocore's AutomationExecutionStatus enum (steps use it too; AWS_FACTS.md).
STEP_STATUSES = (
    "Pending",
    "InProgress",
    "Waiting",
    "Success",
    "TimedOut",
    "Cancelling",
    "Cancelled",
    "Failed",
    "PendingApproval",
    "Approved",
    "Rejected",
    "Scheduled",
    "RunbookInProgress",
    "PendingChangeCalendarOverride",
    "ChangeCalendarOverrideApproved",
    "ChangeCalendarOverrideRejected",
    "CompletedWithSuccess",
    "CompletedWithFailure",
    "Exited",
)
BASE_EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:Flow:run"


def label(text: str) -> None:
    """Counts outcomes for --hypothesis-show-statistics (only inside a hypothesis test)."""
    if hypothesis.currently_in_test_context():
        hypothesis.event(text)


def nested_list(depth: int) -> list:
    """[[[...]]], built without recursion (json.loads would need as deep a stack)."""
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


# --- strategies ---------------------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
non_ascii_text = st.text(
    st.characters(min_codepoint=0x80, blacklist_categories=["Cs"]), min_size=1, max_size=30
)
non_strings = json_values.filter(lambda value: not isinstance(value, str))

NAME_CHARS = string.ascii_letters + string.digits + "_+=,.@-"
names = st.text(NAME_CHARS, min_size=1, max_size=64)
accounts = st.text(string.digits, min_size=12, max_size=12)
partitions = st.sampled_from(["aws", "aws-cn", "aws-us-gov"])
regions = st.sampled_from(["us-east-1", "eu-west-3", "ap-northeast-1", "us-gov-west-1"])
iam_paths = st.lists(st.text(NAME_CHARS, min_size=1, max_size=16), max_size=3).map(
    lambda parts: "".join(f"{part}/" for part in parts)
)

valid_principals = st.one_of(
    names,
    st.builds("arn:{}:iam::{}:user/{}{}".format, partitions, accounts, iam_paths, names),
    st.builds("arn:{}:iam::{}:role/{}{}".format, partitions, accounts, iam_paths, names),
    st.builds(
        "arn:{}:sts::{}:assumed-role/{}/{}".format,
        partitions,
        accounts,
        names,
        st.text(NAME_CHARS, min_size=2, max_size=64),
    ),
)
invalid_principals = st.one_of(
    st.just(""),
    st.text(NAME_CHARS, min_size=65, max_size=80),
    st.builds("arn:aws:iam::{}:group/{}".format, accounts, names),
    st.builds("arn:aws:iam::{}:root".format, accounts),
    st.builds("arn:aws:sts::{}:federated-user/{}".format, accounts, names),
    st.builds("arn:aws:iam::{}:user/{}".format, st.text(string.digits, max_size=11), names),
    st.builds("arn:aws:sts::{}:assumed-role/{}/{}".format, accounts, names, st.sampled_from("ab")),
    st.builds("ARN:AWS:IAM::{}:USER/{}".format, accounts, names),
    st.builds(
        "{}{}{}".format,
        names,
        st.sampled_from([" ", "\n", "\t", "é", "\u200b", "\x00", "/", ":", "*", "用户"]),
        st.text(NAME_CHARS, max_size=3),
    ),
)
# Match the pattern, but over SSM's 512 characters per parameter value (regression B).
long_principals = st.one_of(
    st.integers(241, 600).map(lambda n: f"arn:aws:iam::123456789012:role/{'p/' * n}r"),
    st.integers(480, 600).map(lambda n: f"arn:aws-{'a' * n}:iam::123456789012:user/bob"),
)
any_principals = valid_principals | invalid_principals | long_principals

tokens = st.text(string.ascii_letters + string.digits + "+/=", min_size=16, max_size=2048)
execution_arns = st.builds(
    "arn:{}:states:{}:{}:execution:{}:{}".format,
    partitions,
    regions,
    accounts,
    names,
    # (no lone surrogate: refused since regression G, and covered by _lone_surrogate)
    st.text(
        st.characters(blacklist_categories=["Cs"], blacklist_characters="\n"),
        min_size=1,
        max_size=80,
    ),
)
state_names = st.text(min_size=1, max_size=80)
entered_times = st.datetimes().map(lambda moment: moment.isoformat() + "Z") | st.text(
    min_size=1, max_size=64
)
messages = st.one_of(
    st.text(min_size=1, max_size=200).map(lambda text: {"message": text}),
    st.integers(1, 4096).map(lambda size: {"message": "m" * size}),
    st.builds(
        lambda url, file: {"confirmation_url": url, "confirmation_file": file},
        st.text(min_size=1, max_size=40) | st.integers(1, 2048).map("u".__mul__),
        st.text(min_size=1, max_size=40) | st.integers(1, 1024).map("f".__mul__),
    ),
)
extra_keys = st.dictionaries(
    st.text(max_size=12).filter(lambda key: key not in TOP_FIELDS + REQUEST_FIELDS),
    json_values,
    max_size=3,
)


@st.composite
def valid_cases(draw, defaults: bool = True) -> tuple[dict[str, Any], dict[str, str]]:
    """A payload and function environment the contract accepts; with `defaults`, the
    approvers and the quorum may come from the environment."""
    request: dict[str, Any] = {**draw(messages)}
    environment = dict(ENVIRONMENT)
    approvers = draw(st.lists(valid_principals, min_size=1, max_size=10, unique=True))
    if defaults and draw(st.booleans()):
        # DEFAULT_APPROVERS is comma-separated: its principals cannot hold a comma.
        approvers = list(dict.fromkeys(a.replace(",", "_") for a in approvers))
        environment["DEFAULT_APPROVERS"] = draw(st.sampled_from([",", ", ", " , "])).join(approvers)
    else:
        request["approvers"] = approvers
    quorum = draw(st.integers(1, len(approvers)))
    if not defaults or draw(st.booleans()):
        if quorum > 1 or draw(st.booleans()):
            request["min_required_approvals"] = quorum
    else:
        environment["DEFAULT_MIN_REQUIRED_APPROVALS"] = draw(
            st.sampled_from(["{}", " {} ", "0{}"])
        ).format(quorum)
    if draw(st.booleans()):
        request["description"] = draw(st.text(max_size=40) | st.just("d" * 512))
    request.update(draw(extra_keys))
    event = {
        "task_token": draw(tokens),
        "execution_arn": draw(st.just(BASE_EXECUTION_ARN) | execution_arns),
        "state_name": draw(state_names),
        "state_entered_time": draw(entered_times),
        "request": request,
        **draw(extra_keys),
    }
    return event, environment


# One mutation each: (draw, event, environment) -> None, changing them in place.
def _drop_field(draw, event, environment):
    del event[draw(st.sampled_from(TOP_FIELDS))]


def _retype_field(draw, event, environment):
    event[draw(st.sampled_from(TOP_FIELDS))] = draw(json_values)


def _empty_field(draw, event, environment):
    event[draw(st.sampled_from(TOP_FIELDS))] = draw(st.sampled_from(["", [], {}, None]))


def _long_field(draw, event, environment):
    size = draw(st.sampled_from([65, 81, 2049, 20_000]))
    event[draw(st.sampled_from(TOP_FIELDS[:4]))] = "x" * size


def _unicode_field(draw, event, environment):
    event[draw(st.sampled_from(TOP_FIELDS[:4]))] = draw(non_ascii_text)


def _replace_request(draw, event, environment):
    event["request"] = draw(json_values)


def _drop_request_field(draw, event, environment):
    event["request"].pop(draw(st.sampled_from(REQUEST_FIELDS)), None)


def _retype_request_field(draw, event, environment):
    event["request"][draw(st.sampled_from(REQUEST_FIELDS))] = draw(non_strings)


def _empty_request_field(draw, event, environment):
    value = draw(st.sampled_from(["", [], {}, None, 0]))
    event["request"][draw(st.sampled_from(REQUEST_FIELDS))] = value


def _long_request_field(draw, event, environment):
    size = draw(st.sampled_from([513, 1025, 2049, 4097, 50_000]))
    event["request"][draw(st.sampled_from(REQUEST_FIELDS))] = "x" * size


def _unicode_request_field(draw, event, environment):
    event["request"][draw(st.sampled_from(REQUEST_FIELDS))] = draw(non_ascii_text)


def _extra_keys(draw, event, environment):
    event.update(draw(extra_keys))
    event["request"].update(draw(extra_keys))


def _huge_approvers(draw, event, environment):
    size = draw(st.integers(11, 3000))
    approvers = [f"user{n}" for n in range(size)]
    if draw(st.booleans()):
        approvers = approvers[:2] + approvers[:2]  # duplicates
    event["request"]["approvers"] = approvers


def _principals_of_many_shapes(draw, event, environment):
    event["request"]["approvers"] = draw(st.lists(any_principals, max_size=12))


def _quorum_out_of_range(draw, event, environment):
    approvers = event["request"].get("approvers") or ["x"]
    event["request"]["min_required_approvals"] = draw(
        st.one_of(
            st.integers(max_value=0),
            st.integers(min_value=len(approvers) + 1),
            st.sampled_from([True, False, "1", "2", None]),
            st.floats(),  # 2.0 is a whole number (regression A)
        )
    )


def _over_aws_limits(draw, event, environment):
    """Regressions B and C: values the patterns accept but AWS would refuse."""
    if draw(st.booleans()):
        event["request"]["approvers"] = [draw(long_principals)]
    else:
        name = "x" * draw(st.integers(450, 3000))
        event["execution_arn"] = f"arn:aws:states:us-east-1:123456789012:execution:Flow:{name}"


def _deeply_nested(draw, event, environment):
    """Regression D: a JSON value nested deeper than Python's recursion limit allows."""
    nested = nested_list(draw(st.integers(300, 900)))
    if draw(st.booleans()):
        event["request"][draw(st.sampled_from(REQUEST_FIELDS))] = [nested, "alice"]
    else:
        event[draw(st.sampled_from(TOP_FIELDS))] = nested


def _lone_surrogate(draw, event, environment):
    """Regression G: a lone surrogate (JSON "\\ud800") in a string the gate uses."""
    surrogate = draw(st.characters(categories=["Cs"]))
    request = event["request"]
    places = [(event, key) for key in TOP_FIELDS[:4] if isinstance(event.get(key), str)]
    places += [(request, key) for key in REQUEST_FIELDS if isinstance(request.get(key), str)]
    places += [(request["approvers"], n) for n in range(len(request.get("approvers", [])))]
    target, key = draw(st.sampled_from(places))
    at = draw(st.integers(0, len(target[key])))
    target[key] = target[key][:at] + surrogate + target[key][at:]


def _default_approvers(draw, event, environment):
    event["request"].pop("approvers", None)
    principals = st.lists(any_principals.filter(lambda p: "," not in p), max_size=12)
    environment["DEFAULT_APPROVERS"] = ",".join(draw(principals))


def _default_quorum(draw, event, environment):
    environment["DEFAULT_MIN_REQUIRED_APPROVALS"] = draw(
        st.text(max_size=4) | st.integers(-3, 14).map(str)
    )


def _missing_variable(draw, event, environment):
    environment[draw(st.sampled_from(sorted(ENVIRONMENT)))] = draw(st.sampled_from(["", " "]))


PAYLOAD_MUTATIONS = (
    _drop_field,
    _retype_field,
    _empty_field,
    _long_field,
    _unicode_field,
    _replace_request,
    _drop_request_field,
    _retype_request_field,
    _empty_request_field,
    _long_request_field,
    _unicode_request_field,
    _extra_keys,
    _huge_approvers,
    _principals_of_many_shapes,
    _quorum_out_of_range,
    _over_aws_limits,
    _deeply_nested,
    _lone_surrogate,
)
ENVIRONMENT_MUTATIONS = (_default_approvers, _default_quorum, _missing_variable)


@st.composite
def near_valid_cases(draw, environment_too: bool = True):
    """A valid case with one field broken (or changed in a way that may still be valid)."""
    event, environment = draw(valid_cases(defaults=environment_too))
    mutations = PAYLOAD_MUTATIONS + (ENVIRONMENT_MUTATIONS if environment_too else ())
    event = {**event, "request": {**event["request"]}}  # (mutated in place below)
    draw(st.sampled_from(mutations))(draw, event, environment)
    # Fresh containers again: hypothesis prints drawn objects as they were when drawn.
    if isinstance(event.get("request"), dict):
        event["request"] = {**event["request"]}
    return {**event}, dict(environment)


arbitrary_payloads = st.one_of(
    json_values,
    st.dictionaries(
        st.sampled_from(TOP_FIELDS) | st.text(max_size=8),
        json_values
        | st.dictionaries(st.sampled_from(REQUEST_FIELDS) | st.text(max_size=8), json_values),
        max_size=6,
    ),
)

# --- 1. parse_invocation -------------------------------------------------------------------


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


@settings(max_examples=150)
@given(event=arbitrary_payloads)
def test_arbitrary_payloads_give_an_invocation_or_the_named_error(event):
    check_parse(event, ENVIRONMENT)


@settings(max_examples=100)
@given(case=valid_cases())
def test_valid_payloads_are_parsed_with_their_values_and_the_defaults(case):
    event, environment = case
    invocation = check_parse(event, environment)
    assert invocation is not None, parse(event, environment)
    default_approvers = tuple(
        a.strip() for a in environment.get("DEFAULT_APPROVERS", "").split(",") if a.strip()
    )
    assert invocation.request.approvers == tuple(
        event["request"].get("approvers", default_approvers)
    )
    assert invocation.request.min_required_approvals == event["request"].get(
        "min_required_approvals", int(environment.get("DEFAULT_MIN_REQUIRED_APPROVALS", "1"))
    )
    # A retry of the Task brings a new token but keeps the approval.
    retry = parse_invocation(
        {**event, "task_token": "another"}, Settings.from_environment(environment)
    )
    assert retry.approval_id == invocation.approval_id


@settings(max_examples=60)
@given(case=valid_cases(), top=extra_keys, inner=extra_keys)
def test_fields_the_gate_does_not_use_are_ignored(case, top, inner):
    """README: "Other fields of the state's input are ignored, so the request can travel
    with the workflow's own data." (Lone surrogates there: regression H, below.)"""
    event, environment = case
    plain = {key: value for key, value in event.items() if key in TOP_FIELDS}
    plain["request"] = {k: v for k, v in event["request"].items() if k in REQUEST_FIELDS}
    extended = {**plain, **top, "request": {**plain["request"], **inner}}
    assert parse(extended, environment) == parse(plain, environment)


@settings(max_examples=200)
@given(case=near_valid_cases())
def test_near_valid_payloads_give_an_invocation_or_the_named_error(case):
    event, environment = case
    check_parse(event, environment)


# --- 2. StepStatusEvent.parse ------------------------------------------------------------


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
    """An "EC2 Automation Step Status-change Notification" as AWS_FACTS.md describes it."""
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


# --- 2b. WorkflowEndedEvent.parse ---------------------------------------------------------

EXECUTION_STATUSES = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]
WORKFLOW_DETAIL_KEYS = {
    "execution_arn": "executionArn",
    "state_machine_arn": "stateMachineArn",
    "status": "status",
}


@st.composite
def execution_status_events(draw) -> dict[str, Any]:
    """A "Step Functions Execution Status Change" event as AWS_FACTS.md describes it."""
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


# --- 3. decisions ----------------------------------------------------------------------------

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
    step = ApprovalAutomation(StubSsm(execution, more_steps)).read(str(uuid.uuid4()))
    assert isinstance(step, ApprovalStep)
    decision = check_decision(step)
    if decision is not None:
        assert decision.approval_id == execution["Parameters"]["ApprovalId"][0]


# --- 4. through the handler, against moto ----------------------------------------------------


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
    assert message == expected_message(request)
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


def test_a_quorum_of_2_point_0_is_the_whole_number_2():
    """A: JSON Schema (draft 7) counts 2.0 as an integer; SSM refused "2.0" after the
    record was stored."""
    invocation = check_parse(payload(min_required_approvals=2.0), ENVIRONMENT)
    assert type(invocation.request.min_required_approvals) is int
    assert invocation.request.min_required_approvals == 2


def test_values_over_the_aws_limits_are_refused_by_name():
    """B and C: an approver over 512 characters (SSM's limit for one parameter value; it
    left a half-written record) and an execution ARN over DynamoDB's 2048-byte key."""
    long_role = "arn:aws:iam::123456789012:role/" + "team/" * 120 + "Approvers"
    assert refusal(payload(approvers=[long_role])).startswith("request.approvers[0] ")
    long_arn = {**payload(), "execution_arn": f"{BASE_EXECUTION_ARN}-{'x' * 2100}"}
    assert refusal(long_arn).startswith("execution_arn ")
    defaults = {**ENVIRONMENT, "DEFAULT_APPROVERS": long_role}
    event = payload()
    del event["request"]["approvers"]
    assert refusal(event, defaults).startswith("DEFAULT_APPROVERS (function environment) ")


def test_deeply_nested_values_are_refused_by_name():
    """D: fastjsonschema's uniqueItems check recursed into the items: RecursionError."""
    nested = nested_list(600)
    assert refusal(payload(approvers=[nested, "alice"])).startswith("the payload ")


def test_a_default_quorum_over_the_approvers_names_its_variable():
    """E: the message blamed request.min_required_approvals, which the request lacked."""
    message = refusal(
        payload(approvers=[ROLE]), {**ENVIRONMENT, "DEFAULT_MIN_REQUIRED_APPROVALS": "2"}
    )
    assert message.startswith("DEFAULT_MIN_REQUIRED_APPROVALS (function environment) is 2")


def test_a_deeply_nested_decision_string_gives_none():
    """F: json.loads raised RecursionError, which parse did not catch."""
    assert ApproverDecision.parse("[" * 100_000) is None


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


def test_g_a_lone_surrogate_in_the_state_name_is_refused_by_name():
    outcome = parse({**payload(), "state_name": json.loads('"Approve\\ud800"')}, ENVIRONMENT)
    assert isinstance(outcome, InvalidApprovalRequest), outcome
    assert str(outcome).startswith("state_name holds text that is not valid Unicode")


def test_h_a_lone_surrogate_in_the_workflows_own_data_is_ignored():
    event = payload()
    event["request"]["order"] = {"customer": "caf\ud800"}
    outcome = parse(event, ENVIRONMENT)
    assert isinstance(outcome, TaskInvocation), outcome
