"""One policy document's verdict on one request: statements, wildcards, principals, conditions.

moto's own evaluator (``moto.iam.access_control``) serves the credentials and the policies
of a caller, but its statement check is kinder than AWS: it ignores every condition
operator but ``StringEquals``, turns an Allow whose condition fails into a Deny, and
matches actions case-sensitively. This one follows AWS's policy grammar and evaluation
logic (docs/aws-behaviour.md#iam-policy-evaluation).
"""

from __future__ import annotations

import enum
import ipaddress
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class Effect(enum.Enum):
    ALLOW = "Allow"
    DENY = "Deny"
    NONE = "None"  # no statement applies: an implicit deny unless another policy allows


@dataclass(frozen=True)
class Caller:
    """Who makes a request: an IAM user, a role session, or an AWS service principal."""

    arn: str  # user ARN, assumed-role session ARN, or the service principal's name
    account_id: str
    kind: str  # "user", "assumed-role" or "service"
    role_arn: str | None = None  # the role behind an assumed-role session

    @property
    def is_service(self) -> bool:
        return self.kind == "service"


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _wildcard(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcards: ``*`` any run of characters, ``?`` one character."""
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return (
        re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)
        is not None
    )


def _substitute(pattern: str, context: dict[str, list[str]]) -> str:
    """Policy variables such as ``${aws:username}`` (an unknown one matches nothing)."""
    if "${" not in pattern:
        return pattern

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in ("*", "?", "$"):
            return name
        found = context.get(name.lower())
        return found[0] if found else "\x00unresolved\x00"

    return re.sub(r"\$\{([^}]+)\}", value, pattern)


def _arn_like(pattern: str, value: str) -> bool:
    """ArnLike: each of the six colon-separated parts matched on its own."""
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(_wildcard(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return _number(text)


def _ip(policy_value: str, value: str) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(policy_value, strict=False)
    except ValueError:
        return False


def _compare(parse: Callable[[str], float | None], test: Callable[[float, float], bool]):
    def check(policy_value: str, value: str) -> bool:
        left, right = parse(value), parse(policy_value)
        return left is not None and right is not None and test(left, right)

    return check


# Operator -> (matches one policy value against one request value, is a negated operator).
_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "stringequals": (lambda p, v: p == v, False),
    "stringnotequals": (lambda p, v: p == v, True),
    "stringequalsignorecase": (lambda p, v: p.lower() == v.lower(), False),
    "stringnotequalsignorecase": (lambda p, v: p.lower() == v.lower(), True),
    "stringlike": (lambda p, v: _wildcard(p, v), False),
    "stringnotlike": (lambda p, v: _wildcard(p, v), True),
    "arnequals": (_arn_like, False),
    "arnlike": (_arn_like, False),
    "arnnotequals": (_arn_like, True),
    "arnnotlike": (_arn_like, True),
    "bool": (lambda p, v: p.lower() == v.lower(), False),
    "numericequals": (_compare(_number, lambda a, b: a == b), False),
    "numericnotequals": (_compare(_number, lambda a, b: a == b), True),
    "numericlessthan": (_compare(_number, lambda a, b: a < b), False),
    "numericlessthanequals": (_compare(_number, lambda a, b: a <= b), False),
    "numericgreaterthan": (_compare(_number, lambda a, b: a > b), False),
    "numericgreaterthanequals": (_compare(_number, lambda a, b: a >= b), False),
    "dateequals": (_compare(_date, lambda a, b: a == b), False),
    "datenotequals": (_compare(_date, lambda a, b: a == b), True),
    "datelessthan": (_compare(_date, lambda a, b: a < b), False),
    "datelessthanequals": (_compare(_date, lambda a, b: a <= b), False),
    "dategreaterthan": (_compare(_date, lambda a, b: a > b), False),
    "dategreaterthanequals": (_compare(_date, lambda a, b: a >= b), False),
    "ipaddress": (_ip, False),
    "notipaddress": (_ip, True),
}


class UnsupportedCondition(ValueError):
    """A condition operator the local AWS cannot evaluate: refused, never ignored."""


def _condition_holds(
    operator: str, key: str, policy_values: list[Any], context: dict[str, list[str]]
) -> bool:
    name = operator
    qualifier = ""
    for prefix in ("ForAnyValue:", "ForAllValues:"):
        if name.startswith(prefix):
            qualifier, name = prefix[:-1], name[len(prefix) :]
    if_exists = name.endswith("IfExists")
    if if_exists:
        name = name[: -len("IfExists")]
    request_values = context.get(key.lower())
    if name.lower() == "null":
        want_missing = str(policy_values[0]).lower() == "true"
        return (request_values is None) == want_missing
    entry = _OPERATORS.get(name.lower())
    if entry is None:
        raise UnsupportedCondition(
            f"condition operator {operator!r} is not supported by the local AWS"
        )
    match, negated = entry
    expected = [
        _substitute(str(value), context)
        if isinstance(value, str)
        else str(value).lower()
        if isinstance(value, bool)
        else str(value)
        for value in policy_values
    ]
    if request_values is None:
        # A missing key: IfExists and negated operators hold, the others do not.
        return if_exists or negated or qualifier == "ForAllValues"

    def one(value: str) -> bool:
        hit = any(match(policy_value, value) for policy_value in expected)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(value) for value in request_values)
    if negated and not qualifier:
        return all(one(value) for value in request_values)
    return any(one(value) for value in request_values)


def conditions_hold(condition: dict[str, Any] | None, context: dict[str, list[str]]) -> bool:
    """Every operator block and every key in it must hold (AND); values of a key OR."""
    for operator, keys in (condition or {}).items():
        for key, values in keys.items():
            if not _condition_holds(operator, key, _as_list(values), context):
                return False
    return True


def principal_matches(element: Any, caller: Caller) -> tuple[bool, bool]:
    """(matches, only_through_account): does a resource policy's Principal name ``caller``?

    Naming the caller's account (``123456789012`` or its root ARN) delegates to the account:
    it matches, but grants nothing by itself; the caller's own IAM policies must allow
    (docs/aws-behaviour.md#iam-policy-evaluation).
    """
    if element == "*":
        return True, False
    if not isinstance(element, dict):
        return False, False
    if caller.is_service:
        return caller.arn in _as_list(element.get("Service")), False
    for value in _as_list(element.get("AWS")):
        value = str(value)
        if value == "*":
            return True, False
        if value in (caller.account_id, f"arn:aws:iam::{caller.account_id}:root") or (
            value.endswith(f":iam::{caller.account_id}:root")
        ):
            return True, True
        if value == caller.arn or (caller.role_arn is not None and value == caller.role_arn):
            return True, False
    return False, False


@dataclass(frozen=True)
class Verdict:
    effect: Effect
    through_account: bool = False  # an Allow that only delegates to the account's IAM


def evaluate(
    document: str | dict[str, Any],
    action: str,
    resource: str,
    context: dict[str, list[str]],
    caller: Caller | None = None,
) -> Verdict:
    """The verdict of one policy document. ``caller`` is given for a resource-based policy
    (whose statements name a Principal); identity-based policies name none."""
    policy = json.loads(document) if isinstance(document, str) else document
    allow: Verdict | None = None
    for statement in _as_list(policy.get("Statement")):
        if not _statement_applies(statement, action, resource, context):
            continue
        through_account = False
        if caller is not None:
            if "NotPrincipal" in statement:
                matched, _ = principal_matches(statement["NotPrincipal"], caller)
                if matched:
                    continue
            else:
                matched, through_account = principal_matches(statement.get("Principal"), caller)
                if not matched:
                    continue
        if statement.get("Effect") == "Deny":
            return Verdict(Effect.DENY)
        if statement.get("Effect") == "Allow" and (allow is None or allow.through_account):
            allow = Verdict(Effect.ALLOW, through_account)
    return allow or Verdict(Effect.NONE)


def _statement_applies(
    statement: dict[str, Any], action: str, resource: str, context: dict[str, list[str]]
) -> bool:
    if "NotAction" in statement:
        if _any_match(statement["NotAction"], action, ignore_case=True):
            return False
    elif not _any_match(statement.get("Action"), action, ignore_case=True):
        return False
    if "NotResource" in statement:
        if _any_match(statement["NotResource"], resource, context=context):
            return False
    elif "Resource" in statement and not _any_match(
        statement["Resource"], resource, context=context
    ):
        return False
    return conditions_hold(statement.get("Condition"), context)


def _any_match(
    patterns: Any,
    value: str,
    *,
    ignore_case: bool = False,
    context: dict[str, list[str]] | None = None,
) -> bool:
    for pattern in _as_list(patterns):
        text = _substitute(str(pattern), context or {})
        if _wildcard(text, value, ignore_case=ignore_case):
            return True
    return False


def documents(policies: Iterable[Any]) -> list[dict[str, Any]]:
    """Policy documents from moto's forms (a JSON string, a moto Policy, a dict)."""
    found = []
    for policy in policies:
        if isinstance(policy, str):
            found.append(json.loads(policy))
        elif isinstance(policy, dict) and "policy_document" in policy:
            found.append(json.loads(policy["policy_document"]))
        elif isinstance(policy, dict):
            found.append(policy)
        else:  # a managed policy: its default version
            version = next(v for v in policy.versions if v.is_default)
            document = version.document
            found.append(json.loads(document) if isinstance(document, str) else document)
    return found


__all__ = [
    "Caller",
    "Effect",
    "UnsupportedCondition",
    "Verdict",
    "conditions_hold",
    "documents",
    "evaluate",
]
