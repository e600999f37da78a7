"""Hypothesis strategies the property tests share: JSON-like values, IAM principals, and
start_approval's Task payloads with the function's environment, valid (`valid_cases`), one
field broken (`near_valid_cases`) or anything (`arbitrary_payloads`); what the contract
(payload.schema.json, botocore's SSM model) says they must meet comes with them."""

from __future__ import annotations

import re
import string
from typing import Any

from hypothesis import strategies as st

from start_approval.validation import payload_schema

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
# botocore's AutomationExecutionStatus enum (steps use it too).
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
