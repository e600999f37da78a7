"""Turns the Task state's payload into a TaskInvocation, or raises InvalidApprovalRequest
with a message that names the field and the fix. Nothing is stored or started before this
has passed.

The structure is checked against payload.schema.json (compiled once with fastjsonschema,
the engine behind Powertools' validation utility); the rules that span fields (quorum,
defaults from the environment, the formatted message's length) are checked here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema

from approval_core.separation import could_be
from approval_core.stages import DEFAULT_STAGE_NAME, MAX_STAGES, Stage
from start_approval.errors import ApprovalPolicyUnsatisfiable, InvalidApprovalRequest
from start_approval.models import CONFIRMATION_MESSAGE, ApprovalRequest, TaskInvocation
from start_approval.settings import Settings

_DEFAULT_APPROVERS_FIELD = "DEFAULT_APPROVERS (function environment)"
_PAYLOAD_FIELDS = ("task_token", "execution_arn", "state_name", "state_entered_time", "request")
_REQUEST_FIELDS = (
    "message",
    "confirmation_url",
    "confirmation_file",
    "approvers",
    "description",
    "requested_by",
    "stages",
    "escalation_approvers",
)


@cache
def payload_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        resources.files(__package__).joinpath("payload.schema.json").read_text()
    )
    return schema


@cache
def _validator() -> Callable[[object], object]:
    return fastjsonschema.compile(payload_schema())


def parse_invocation(event: Any, settings: Settings) -> TaskInvocation:
    broken = _text_that_is_not_unicode(_fields_used(event), "")
    if broken is not None:
        raise InvalidApprovalRequest(
            f"{broken or 'the payload'} holds text that is not valid Unicode (a lone "
            "surrogate, such as \\ud800): send UTF-8 text."
        )
    try:
        _validator()(event)
    except fastjsonschema.JsonSchemaValueException as error:
        raise InvalidApprovalRequest(_explain(error)) from None
    except RecursionError:  # a value nested deeper than any request needs
        raise InvalidApprovalRequest(
            "the payload is nested too deeply: request fields are strings, numbers and "
            "lists of strings."
        ) from None

    request = event["request"]
    requested_by: str | None = request.get("requested_by")
    if "stages" in request:
        stages = _stages(request, requested_by, settings)
        first = stages[0]
    else:
        first = _single_stage(request, requested_by, settings)
        stages = (first,) if first.escalates else ()  # the record keeps an escalating stage

    return TaskInvocation(
        task_token=event["task_token"],
        execution_arn=event["execution_arn"],
        state_name=event["state_name"],
        state_entered_time=event["state_entered_time"],
        request=ApprovalRequest(
            message=_message(request),
            approvers=first.approvers,
            min_required_approvals=first.min_required_approvals,
            description=request.get("description"),
            requested_by=requested_by,
            left_out=first.left_out,
            stages=stages,
            # int(): JSON Schema counts 60.0 as an integer.
            remind_after_seconds=_whole_or_none(
                request.get("remind_after_seconds", settings.remind_after_seconds)
            ),
            max_reminders=int(request.get("max_reminders", settings.max_reminders)),
        ),
    )


def _single_stage(request: dict[str, Any], requested_by: str | None, settings: Settings) -> Stage:
    """A request without stages: its approvers (or the deployment's) and quorum."""
    approvers = tuple(request.get("approvers") or settings.default_approvers)
    approvers_field = "request.approvers" if request.get("approvers") else _DEFAULT_APPROVERS_FIELD
    if not approvers:
        raise InvalidApprovalRequest(
            "request.approvers is missing and the function has no DEFAULT_APPROVERS: list 1 "
            "to 10 IAM principals in request.approvers, or give request.stages."
        )
    if "approvers" not in request:
        _check_default_approvers(approvers)
    quorum_field = (
        "request.min_required_approvals"
        if "min_required_approvals" in request
        else "DEFAULT_MIN_REQUIRED_APPROVALS (function environment)"
    )
    # int(): JSON Schema counts 2.0 as an integer; SSM wants "2".
    quorum = int(request.get("min_required_approvals", settings.default_min_required_approvals))
    stage = _with_escalation(
        Stage(DEFAULT_STAGE_NAME, approvers, quorum), {}, "request", request, settings
    )
    return _without_requester(stage, approvers_field, quorum_field, requested_by, settings)


def _stages(
    request: dict[str, Any], requested_by: str | None, settings: Settings
) -> tuple[Stage, ...]:
    """A request with stages: each checked as a request's approvers are, and together."""
    for field_name in ("approvers", "min_required_approvals"):
        if field_name in request:
            raise InvalidApprovalRequest(
                f"request.{field_name} and request.stages are both given: name the approvers "
                "and quorum of each stage in request.stages, and leave request."
                f"{field_name} out."
            )
    given = request["stages"]
    if len(given) > settings.max_approval_stages:
        raise InvalidApprovalRequest(
            f"request.stages lists {len(given)} stages; this deployment allows at most "
            f"{settings.max_approval_stages} (max_approval_stages): merge stages, or raise "
            f"max_approval_stages (up to {MAX_STAGES})."
        )
    stages: list[Stage] = []
    for index, raw in enumerate(given):
        where = f"request.stages[{index}]"
        if any(s.name == raw["name"] for s in stages):
            raise InvalidApprovalRequest(
                f"{where}.name {raw['name']!r} names an earlier stage too: give each stage "
                "its own name."
            )
        approvers = tuple(raw["approvers"])
        quorum_field = f"{where}.min_required_approvals"
        if "min_required_approvals" not in raw:
            quorum_field += " (the deployment's DEFAULT_MIN_REQUIRED_APPROVALS)"
        quorum = int(raw.get("min_required_approvals", settings.default_min_required_approvals))
        timeout = raw.get("timeout_seconds")
        if timeout is not None and int(timeout) > settings.approval_timeout_seconds:
            raise InvalidApprovalRequest(
                f"{where}.timeout_seconds is {int(timeout)}, longer than the deployment's "
                f"approval_timeout_seconds ({settings.approval_timeout_seconds}, SSM's own "
                "timeout of every stage): shorten it, or leave it out to wait that long."
            )
        stage = Stage(
            name=raw["name"],
            approvers=approvers,
            min_required_approvals=quorum,
            message=raw.get("message"),
            timeout_seconds=None if timeout is None else int(timeout),
        )
        stage = _with_escalation(stage, raw, where, request, settings)
        stages.append(
            _without_requester(stage, f"{where}.approvers", quorum_field, requested_by, settings)
        )
    return tuple(stages)


def _with_escalation(
    stage: Stage, raw: dict[str, Any], where: str, request: dict[str, Any], settings: Settings
) -> Stage:
    """The stage's escalation: its own fields, else the request's, else the deployment's;
    both or neither, and sooner than the stage's timeout."""
    after = raw.get("escalate_after_seconds", request.get("escalate_after_seconds"))
    approvers = raw.get("escalation_approvers", request.get("escalation_approvers"))
    after_field = f"{where}.escalate_after_seconds"
    approvers_field = f"{where}.escalation_approvers"
    if after is None and approvers is None:
        after, approvers = settings.escalate_after_seconds, settings.escalation_approvers
        after_field = "ESCALATE_AFTER_SECONDS (function environment)"
        approvers_field = "ESCALATION_APPROVERS (function environment)"
    if after is None and not approvers:
        return stage
    if not approvers:
        raise InvalidApprovalRequest(
            f"{after_field} is set but {approvers_field} is not: name who is asked when the "
            "stage escalates (1 to 10 IAM principals), or leave the escalation out."
        )
    if after is None:
        raise InvalidApprovalRequest(
            f"{approvers_field} is set but {after_field} is not: say after how many seconds "
            "the stage escalates (60 or more), or leave the escalation out."
        )
    timeout = stage.timeout_seconds or settings.approval_timeout_seconds
    if int(after) >= timeout:
        raise InvalidApprovalRequest(
            f"{after_field} is {int(after)}, not sooner than the stage's timeout ({timeout} s): "
            "the stage would expire before it escalates; escalate sooner or wait longer."
        )
    return stage._replace(escalate_after_seconds=int(after), escalation_approvers=tuple(approvers))


def _without_requester(
    stage: Stage,
    approvers_field: str,
    quorum_field: str,
    requested_by: str | None,
    settings: Settings,
) -> Stage:
    """The stage with every entry that could be the requester left out
    (prevent_self_approval); a stage then short of its quorum cannot be satisfied."""
    if stage.min_required_approvals > len(stage.approvers):
        raise InvalidApprovalRequest(
            f"{quorum_field} is {stage.min_required_approvals} but {approvers_field} lists "
            f"only {len(stage.approvers)} approver(s): lower the quorum to at most "
            f"{len(stage.approvers)} or add approvers."
        )
    if not requested_by or not settings.prevent_self_approval:
        return stage
    if stage.escalates:
        escalation = tuple(a for a in stage.escalation_approvers if not could_be(a, requested_by))
        if not escalation:
            raise ApprovalPolicyUnsatisfiable(
                f"request.requested_by {requested_by!r} may not approve their own request "
                f"(prevent_self_approval), and they are every escalation approver of "
                f"{approvers_field.removesuffix('.approvers')}: name escalation approvers who "
                "are not the requester."
            )
        stage = stage._replace(escalation_approvers=escalation)
    left_out = tuple(a for a in stage.approvers if could_be(a, requested_by))
    approvers = tuple(a for a in stage.approvers if a not in left_out)
    if len(approvers) < stage.min_required_approvals:
        raise ApprovalPolicyUnsatisfiable(
            f"request.requested_by {requested_by!r} may not approve their own request "
            f"(prevent_self_approval), so {', '.join(left_out)} left {approvers_field} "
            f"with {len(approvers)} approver(s) for {quorum_field} "
            f"{stage.min_required_approvals}: add approvers who are not the requester, or "
            "lower the quorum."
        )
    return stage._replace(approvers=approvers, left_out=left_out)


def _whole_or_none(value: float | None) -> int | None:
    return None if value is None else int(value)


def _fields_used(event: Any) -> Any:
    """The parts of the payload the gate reads (the rest of the state's input travels with
    the workflow, unread, whatever it holds)."""
    if not isinstance(event, dict):
        return event
    used = {k: v for k, v in event.items() if k in _PAYLOAD_FIELDS}
    if isinstance(used.get("request"), dict):
        used["request"] = {k: v for k, v in used["request"].items() if k in _REQUEST_FIELDS}
    return used


def _text_that_is_not_unicode(value: Any, path: str, depth: int = 0) -> str | None:
    """The path of the first string that cannot be encoded as UTF-8 (JSON allows lone
    surrogates; UTF-8, DynamoDB and the approval id's hash do not), else None."""
    if depth > 32:  # deeper than any valid payload; the schema check refuses it
        return None
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        where = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}".lstrip(".")
        found = _text_that_is_not_unicode(item, where, depth + 1)
        if found is not None:
            return found
    return None


def _message(request: dict[str, Any]) -> str:
    if "message" in request:
        message: str = request["message"]  # the schema checked it is a string
        return message
    if "confirmation_url" in request:
        # The schema bounds the URL (2048) and the file (1024): the message stays under 4096.
        return CONFIRMATION_MESSAGE.format(
            file=request["confirmation_file"], url=request["confirmation_url"]
        )
    raise InvalidApprovalRequest(
        "request.message is missing: give the approvers a message (1 to 4096 characters), "
        "or confirmation_url and confirmation_file."
    )


@cache
def _approvers_validator() -> Callable[[object], object]:
    return fastjsonschema.compile({"$schema": payload_schema()["$schema"], **_approvers_schema()})


def _approvers_schema() -> dict[str, Any]:
    schema: dict[str, Any] = payload_schema()["properties"]["request"]["properties"]["approvers"]
    return schema


def _check_default_approvers(approvers: tuple[str, ...]) -> None:
    """Defaults come from Terraform, which validates them too; a hand-edited environment
    gets the request's own schema rules, named after the variable."""
    try:
        _approvers_validator()(list(approvers))
    except fastjsonschema.JsonSchemaValueException as error:
        # The sub-schema's root is the list itself: _explain calls it "the payload" and
        # an item "[3]"; the message names the variable and its 1-based entry instead.
        explained = re.sub(
            r"^\[(\d+)\]",
            lambda index: f"entry {int(index.group(1)) + 1}",
            _explain(error).removeprefix("the payload").lstrip(),
        )
        raise InvalidApprovalRequest(f"{_DEFAULT_APPROVERS_FIELD} {explained}") from None


def _explain(error: fastjsonschema.JsonSchemaValueException) -> str:
    """'data.request.approvers must contain less than or equal to 10 items' becomes
    'request.approvers must contain ... items: <how to fix it, from the schema>'."""
    name = error.name or ""  # fastjsonschema's validators always name the value (data...)
    field = name.removeprefix("data").lstrip(".") or "the payload"
    problem = error.message.removeprefix(name).strip()
    if error.rule == "required":
        present = error.value if isinstance(error.value, dict) else {}
        missing = next(name for name in error.rule_definition if name not in present)
        field = f"{field}.{missing}" if field != "the payload" else missing
        problem = "is missing"
        hint = _description_of(field)
    elif error.rule == "dependencies":
        problem = "needs both confirmation_url and confirmation_file"
        hint = "Give both, or a message instead."
    else:
        hint = (error.definition or {}).get("description", "")
    if error.rule == "pattern" and isinstance(error.value, str) and field != "task_token":
        problem = f"is {error.value!r}, which is not allowed"
    return f"{field} {problem}: {hint}".rstrip(": ")


def _description_of(field: str) -> str:
    node: dict[str, Any] = payload_schema()
    for part in field.split("."):
        name, _, index = part.partition("[")
        node = node.get("properties", {}).get(name, {})
        if index:  # request.stages[2]: the list's item
            node = node.get("items", {})
    description: str = node.get("description", "")
    return description
