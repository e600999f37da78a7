"""Is a request allowed? AWS's evaluation logic within one account, over moto's IAM data.

Same-account logic (docs/aws-behaviour.md#iam-policy-evaluation): an explicit Deny in any
applicable policy wins; otherwise the request is allowed when an identity-based policy
allows it (within the permissions boundary, if any) or a resource-based policy allows the
caller by name. A KMS key is the exception: its key policy must allow, either the caller
directly or the account (which then delegates to IAM) (docs/aws-behaviour.md#kms-key-policy).
An AWS service principal has no identity policies: only a resource-based policy can allow it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from moto.iam.models import iam_backends
from moto.utilities.utils import get_partition

from sandbox.iam.policies import Caller, Effect, documents, evaluate


@dataclass(frozen=True)
class Denial:
    """Why a request was refused, in AWS's words."""

    caller: Caller
    action: str
    resource: str
    reason: str  # e.g. "no identity-based policy allows the ssm:X action"

    @property
    def message(self) -> str:
        who = self.caller.arn if not self.caller.is_service else f"Service {self.caller.arn}"
        return (
            f"User: {who} is not authorized to perform: {self.action} on resource: "
            f"{self.resource} because {self.reason}"
        )


def _role_name(role_arn: str) -> str:
    return role_arn.rsplit("/", 1)[-1]


def identity_policies(caller: Caller) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The caller's identity-based policies and its permissions boundary (None: no boundary)."""
    if caller.is_service:
        return [], None
    backend = iam_backends[caller.account_id][get_partition("us-east-1")]
    if caller.kind == "user":
        name = caller.arn.rsplit("/", 1)[-1]
        user = backend.get_user(name)
        policies: list[Any] = [
            backend.get_user_policy(name, policy_name)
            for policy_name in backend.list_user_policies(name)
        ]
        policies += backend.list_attached_user_policies(name)[0]
        for group in backend.get_groups_for_user(name):
            policies += [
                backend.get_group_policy(group.name, policy_name)
                for policy_name in backend.list_group_policies(group.name)
            ]
            policies += backend.list_attached_group_policies(group.name)[0]
        boundary_arn = getattr(user, "permissions_boundary", None)
    else:
        name = _role_name(str(caller.role_arn))
        role = backend.get_role(name)
        policies = [
            backend.get_role_policy(name, policy_name)[1]
            for policy_name in backend.list_role_policies(name)
        ]
        policies += backend.list_attached_role_policies(name)[0]
        boundary_arn = getattr(role, "permissions_boundary_arn", None) or getattr(
            role, "permissions_boundary", None
        )
    boundary = None
    if boundary_arn:
        boundary = documents([backend.get_policy(str(boundary_arn))])[0]
    return documents(policies), boundary


def decide(
    caller: Caller,
    action: str,
    resource: str,
    context: dict[str, list[str]],
    resource_policy: str | dict[str, Any] | None = None,
    *,
    key_policy: bool = False,
) -> Denial | None:
    """None when allowed, else the Denial. ``resource_policy`` is the resource's own policy
    (queue, topic, function, role trust, KMS key); ``key_policy`` marks a KMS key policy."""
    policies, boundary = identity_policies(caller)
    identity = [evaluate(policy, action, resource, context) for policy in policies]
    resource_verdict = (
        evaluate(_parse(resource_policy), action, resource, context, caller)
        if resource_policy
        else None
    )
    if any(v.effect is Effect.DENY for v in identity):
        return Denial(caller, action, resource, "with an explicit deny in an identity-based policy")
    if resource_verdict is not None and resource_verdict.effect is Effect.DENY:
        return Denial(caller, action, resource, "with an explicit deny in a resource-based policy")
    boundary_allows = True
    if boundary is not None:
        verdict = evaluate(boundary, action, resource, context)
        if verdict.effect is Effect.DENY:
            return Denial(
                caller, action, resource, "with an explicit deny in a permissions boundary"
            )
        boundary_allows = verdict.effect is Effect.ALLOW
    identity_allows = any(v.effect is Effect.ALLOW for v in identity) and boundary_allows
    direct = resource_verdict is not None and resource_verdict.effect is Effect.ALLOW
    if key_policy:
        if resource_verdict is None or resource_verdict.effect is not Effect.ALLOW:
            return Denial(
                caller, action, resource, f"no resource-based policy allows the {action} action"
            )
        if not resource_verdict.through_account:
            return None  # the key policy names the caller itself
        if identity_allows:
            return None
        return Denial(
            caller, action, resource, f"no identity-based policy allows the {action} action"
        )
    if direct and not resource_verdict.through_account:  # type: ignore[union-attr]
        return None
    if identity_allows:
        return None
    if caller.is_service:
        return Denial(
            caller, action, resource, f"no resource-based policy allows the {action} action"
        )
    if (
        boundary is not None
        and not boundary_allows
        and any(v.effect is Effect.ALLOW for v in identity)
    ):
        return Denial(
            caller, action, resource, f"no permissions boundary allows the {action} action"
        )
    return Denial(caller, action, resource, f"no identity-based policy allows the {action} action")


def _parse(document: str | dict[str, Any]) -> dict[str, Any]:
    return json.loads(document) if isinstance(document, str) else document
