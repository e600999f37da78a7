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

from start_approval.errors import ApprovalPolicyUnsatisfiable, InvalidApprovalRequest
from start_approval.models import CONFIRMATION_MESSAGE, ApprovalRequest, TaskInvocation
from start_approval.separation import could_be
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
    approvers = tuple(request.get("approvers") or settings.default_approvers)
    approvers_field = "request.approvers" if request.get("approvers") else _DEFAULT_APPROVERS_FIELD
    if not approvers:
        raise InvalidApprovalRequest(
            "request.approvers is missing and the function has no DEFAULT_APPROVERS: list 1 "
            "to 10 IAM principals in request.approvers."
        )
    if "approvers" not in request:
        _check_default_approvers(approvers)

    # int(): JSON Schema counts 2.0 as an integer; SSM wants "2".
    quorum = int(request.get("min_required_approvals", settings.default_min_required_approvals))
    quorum_field = (
        "request.min_required_approvals"
        if "min_required_approvals" in request
        else "DEFAULT_MIN_REQUIRED_APPROVALS (function environment)"
    )
    if quorum > len(approvers):
        raise InvalidApprovalRequest(
            f"{quorum_field} is {quorum} but {approvers_field} lists only "
            f"{len(approvers)} approver(s): lower the quorum to at most {len(approvers)} or "
            "add approvers."
        )
    requested_by: str | None = request.get("requested_by")
    left_out: tuple[str, ...] = ()
    if requested_by and settings.prevent_self_approval:
        left_out = tuple(a for a in approvers if could_be(a, requested_by))
        approvers = tuple(a for a in approvers if a not in left_out)
        if len(approvers) < quorum:
            raise ApprovalPolicyUnsatisfiable(
                f"request.requested_by {requested_by!r} may not approve their own request "
                f"(prevent_self_approval), so {', '.join(left_out)} left {approvers_field} "
                f"with {len(approvers)} approver(s) for {quorum_field} {quorum}: add "
                "approvers who are not the requester, or lower the quorum."
            )

    return TaskInvocation(
        task_token=event["task_token"],
        execution_arn=event["execution_arn"],
        state_name=event["state_name"],
        state_entered_time=event["state_entered_time"],
        request=ApprovalRequest(
            message=_message(request),
            approvers=approvers,
            min_required_approvals=quorum,
            description=request.get("description"),
            requested_by=requested_by,
            left_out=left_out,
            # int(): JSON Schema counts 60.0 as an integer.
            remind_after_seconds=_whole_or_none(
                request.get("remind_after_seconds", settings.remind_after_seconds)
            ),
            max_reminders=int(request.get("max_reminders", settings.max_reminders)),
        ),
    )


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
        node = node.get("properties", {}).get(part, {})
    description: str = node.get("description", "")
    return description
