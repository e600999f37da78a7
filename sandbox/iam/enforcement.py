"""The decision every IAM check of the local AWS ends in, and what it keeps of refusals.

``check`` decides a caller's action on resources with AWS's logic (``sandbox.iam.authorizer``)
and the resources' own policies (``sandbox.iam.resource_policies``); ``iam_settings.enforce``
turns the whole of IAM on or off; ``denials()`` lists every refusal. Requests reach it through
``sandbox.iam.requests``, the calls AWS services make for the gate through
``sandbox.iam.service_calls``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sandbox.iam import resource_policies
from sandbox.iam.authorizer import Denial, decide
from sandbox.iam.definitions import canonical_action
from sandbox.iam.policies import Caller

_log = logging.getLogger(__name__)

# Actions every authenticated caller may make (AWS: no policy can deny them).
ALWAYS_ALLOWED = frozenset({"sts:GetCallerIdentity"})


@dataclass
class IamSettings:
    # On in the local AWS (LocalAws, `make sandbox`, `make demo`); off in-process by default.
    enforce: bool = False
    # Every refusal, for tests and `GET /moto-api/sandbox/iam/denials`.
    record_denials: bool = True


iam_settings = IamSettings()
_denials: list[dict[str, str]] = []
_denials_lock = threading.Lock()


class AccessDenied(Exception):
    """A service call refused by IAM (in-process; the HTTP path raises moto's errors)."""

    def __init__(self, denial: Denial) -> None:
        super().__init__(denial.message)
        self.denial = denial
        self.code = "AccessDeniedException"
        self.message = denial.message


def denials() -> list[dict[str, str]]:
    with _denials_lock:
        return list(_denials)


def clear_denials() -> None:
    with _denials_lock:
        _denials.clear()


def _record(denial: Denial) -> None:
    _log.info("IAM denied: %s", denial.message)
    if iam_settings.record_denials:
        with _denials_lock:
            _denials.append(
                {
                    "principal": denial.caller.arn,
                    "action": denial.action,
                    "resource": denial.resource,
                    "message": denial.message,
                }
            )


def base_context(caller: Caller, region: str) -> dict[str, list[str]]:
    """Global condition keys of a request (lower-case names). aws:SecureTransport is true:
    AWS's endpoints are HTTPS, the local endpoint stands in for them."""
    context = {
        "aws:securetransport": ["true"],
        "aws:requestedregion": [region],
        "aws:principalaccount": [caller.account_id],
        "aws:sourceip": ["127.0.0.1"],
    }
    if caller.is_service:
        context["aws:principalservicename"] = [caller.arn]
    else:
        context["aws:principalarn"] = [caller.role_arn or caller.arn]
        context["aws:principaltype"] = ["User" if caller.kind == "user" else "AssumedRole"]
        if caller.kind == "user":
            context["aws:username"] = [caller.arn.rsplit("/", 1)[-1]]
    return context


def check(
    caller: Caller,
    action: str,
    resources: list[str],
    context: dict[str, list[str]],
) -> Denial | None:
    """The first refusal among ``resources``, else None."""
    action = canonical_action(action)
    if action in ALWAYS_ALLOWED:
        return None
    for resource in resources:
        policy, is_key = resource_policies.policy_of(resource)
        denial = decide(caller, action, resource, context, policy, key_policy=is_key)
        if denial is not None:
            _record(denial)
            return denial
    return None
