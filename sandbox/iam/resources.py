"""The resource ARNs a request acts on, built from the request and the Service
Authorization data (docs/aws-behaviour.md#iam-service-authorization).

moto passes ``"*"`` as the resource of most actions, so a policy that names a resource would
never be tested. Here each resource type the action needs is filled in from the request:
an ARN the request gives (``TopicArn``, ``stateMachineArn``), else the template's
placeholders from the request's parameters (``DocumentName``, ``TableName``, ...). A resource
the call creates (the automation execution of StartAutomationExecution) gets a fresh id,
so a policy must allow it by a wildcard, as in AWS.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from sandbox.iam.definitions import ResourceType, resource_types

_log = logging.getLogger(__name__)

# Request parameters named otherwise than the template's placeholder, per service prefix.
_ALIASES: dict[str, dict[str, str]] = {
    "ssm": {"name": "DocumentName"},
    "events": {"name": "RuleName", "rule": "RuleName"},
    "states": {"name": "StateMachineName"},
    "sqs": {"queueurl": "QueueName"},
    "kms": {"keyid": "KeyId", "aliasname": "Alias"},
    "sns": {"name": "TopicName"},
}
# Placeholders for the id of the resource the action creates.
_NEW_RESOURCE = {
    "ssm:startautomationexecution": "AutomationExecutionId",
    "states:startexecution": "ExecutionId",
}
_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


def _template_regex(template: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(template)
    regex = "".join(
        re.escape(part)
        if index % 2 == 0
        else "[^:]+"
        if part in ("Partition", "Region", "Account")
        else ".+"
        for index, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$")


def _normalise(prefix: str, name: str, value: str) -> str:
    if prefix == "sqs" and name == "QueueName" and "/" in value:
        return value.rstrip("/").rsplit("/", 1)[-1]  # a QueueUrl
    if prefix == "kms" and name == "Alias":
        return value.removeprefix("alias/")
    if prefix == "events" and name == "EventBusName" and value.startswith("arn:"):
        return value.rsplit("/", 1)[-1]
    return value


def request_parameters(prefix: str, params: Mapping[str, Any], path: str) -> dict[str, str]:
    """Top-level string parameters by lower-case name, with the path's for REST APIs."""
    found = {str(k).lower(): v for k, v in params.items() if isinstance(v, str)}
    found.update(
        {
            str(k).lower(): v[0]
            for k, v in params.items()
            if isinstance(v, list) and v and isinstance(v[0], str)
        }
    )
    for key, value in list(found.items()):
        if key.endswith(".member.1"):  # a query-protocol list: its first item, by its name
            name = key.removesuffix(".member.1")
            found.setdefault(name, value)
            found.setdefault(name.removesuffix("s"), value)
    if prefix == "lambda":
        match = re.search(r"/functions/([^/?]+)", path)
        if match:
            found["functionname"] = unquote(match.group(1))
    return found


def _fill(
    resource: ResourceType,
    prefix: str,
    action: str,
    values: dict[str, str],
    context: Mapping[str, str],
) -> str | None:
    pattern = _template_regex(resource.arn_template)
    for value in values.values():
        if value.startswith("arn:") and pattern.match(value):
            return value
    aliases = _ALIASES.get(prefix, {})
    by_placeholder: dict[str, str] = {}
    for name, value in values.items():
        by_placeholder.setdefault(aliases.get(name, name).lower(), value)
    if prefix == "events":
        by_placeholder.setdefault("eventbusname", "default")
    new_id = _NEW_RESOURCE.get(action.lower())

    def value_of(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in ("Partition", "Region", "Account"):
            return context[name]
        if new_id == name:
            return str(uuid.uuid4())
        # IAM's ${RoleNameWithPath}/${UserNameWithPath} take the name (the default path "/").
        found = by_placeholder.get(name.lower()) or by_placeholder.get(
            name.lower().removesuffix("withpath")
        )
        if found is None:
            raise KeyError(name)
        return _normalise(prefix, name, found)

    try:
        arn = _PLACEHOLDER.sub(value_of, resource.arn_template)
    except KeyError:
        return None
    if prefix == "lambda" and resource.name == "function":
        function = values.get("functionname", "")
        if function.startswith("arn:"):
            return function
        qualifier = values.get("qualifier")
        if qualifier and ":" not in function:
            arn = f"{arn}:{qualifier}"
    return arn


def resources_of(
    action: str, params: Mapping[str, Any], path: str, *, partition: str, region: str, account: str
) -> list[str]:
    """The ARNs ``action`` acts on: each required resource type the request names (or,
    without required types, the first optional one it names); ``["*"]`` when the action
    takes no resource type."""
    prefix = action.split(":", 1)[0].lower()
    types = resource_types(action)
    if not types:
        return ["*"]
    values = request_parameters(prefix, params, path)
    context = {"Partition": partition, "Region": region, "Account": account}
    required = [item for item in types if item.required]
    if prefix == "dynamodb" and "indexname" in values:
        # A Query or Scan of an index acts on the index, not the table: a policy granting
        # the index ARN alone allows it (docs/aws-behaviour.md#iam-service-authorization).
        required = [item for item in types if item.name == "index"] or required
    built = [arn for item in required if (arn := _fill(item, prefix, action, values, context))]
    if not built:  # no required type: the first optional one the request names
        optional = [item for item in types if not item.required]
        named = (_fill(item, prefix, action, values, context) for item in optional)
        built = [arn for arn in named if arn][:1]
    if not built:
        _log.info("IAM: no resource ARN could be built for %s from %s", action, sorted(values))
        return ["*"]
    return list(dict.fromkeys(built))
