"""Who is calling: resolve a request's access key through moto's STS and IAM.

Mirrors ``sts get-caller-identity`` in moto: credentials from ``sts.assume_role`` give the
assumed-role ARN, an IAM user's access key gives the user ARN, anything else gives moto's
default identity (``arn:aws:sts::<account>:user/moto``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from moto.iam.models import iam_backends
from moto.sts.models import sts_backends
from moto.utilities.utils import get_partition

# An approver entry: IAM user name, IAM user ARN, IAM role ARN or assumed-role ARN.
_USER_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_USER_ARN = re.compile(r"^arn:[\w-]+:iam::\d{12}:user/(?:[\w+=,.@/-]*/)?[\w+=,.@-]+$")
_ROLE_ARN = re.compile(r"^arn:[\w-]+:iam::\d{12}:role/(?:[\w+=,.@/-]*/)?[\w+=,.@-]+$")
_ASSUMED_ROLE_ARN = re.compile(r"^arn:[\w-]+:sts::\d{12}:assumed-role/[\w+=,.@-]+/[\w+=,.@-]+$")


@dataclass(frozen=True)
class Principal:
    arn: str
    account_id: str
    kind: str  # "user", "assumed-role" or "unknown"
    user_name: str | None = None
    role_arn: str | None = None  # the IAM role behind an assumed-role session


def resolve_caller(access_key: str, account_id: str, region: str) -> Principal:
    partition = get_partition(region)
    sts_backend = sts_backends[account_id][partition]
    iam_backend = iam_backends[account_id][partition]
    assumed = sts_backend.get_assumed_role_from_access_key(access_key)
    if assumed is not None:
        return Principal(
            arn=assumed.arn,
            account_id=assumed.account_id,
            kind="assumed-role",
            role_arn=_role_arn_with_path(iam_backend, assumed.role_arn),
        )
    user = iam_backend.get_user_from_access_key_id(access_key)
    if user is not None:
        return Principal(arn=user.arn, account_id=user.account_id, kind="user", user_name=user.name)
    _, arn, caller_account = sts_backend.get_caller_identity(access_key, region)
    return Principal(arn=arn, account_id=caller_account, kind="unknown")


def _role_arn_with_path(iam_backend: Any, role_arn: str) -> str:
    """The role's ARN as IAM has it (with its path), whatever ARN AssumeRole was given."""
    name = role_arn.rsplit("/", 1)[-1]
    try:
        found = str(iam_backend.get_role(name).arn)
    except Exception:  # not an IAM role of this account (moto accepts any ARN)
        return role_arn
    same_account = found.split(":")[4] == role_arn.split(":")[4]
    return found if same_account else role_arn


def approver_entry_problem(entry: str) -> str | None:
    """Why ``entry`` cannot be an aws:approve approver, or None if it can."""
    if ":group/" in entry:
        return f"{entry!r} is an IAM group; aws:approve accepts only users and roles"
    for pattern in (_USER_NAME, _USER_ARN, _ROLE_ARN, _ASSUMED_ROLE_ARN):
        if pattern.match(entry):
            return None
    return f"{entry!r} is not an IAM user name, IAM user ARN, IAM role ARN or assumed-role ARN"


APPROVER_MATCHING = ("role_sessions", "exact", "role_sessions_ignoring_path")


def matches_approver(
    principal: Principal, entry: str, account_id: str, matching: str = "role_sessions"
) -> bool:
    """Does ``entry`` of an Approvers list designate ``principal``?

    AWS does not say how (docs/aws-behaviour.md#undocumented-approver-matching); ``matching``:
    - "exact": only the caller's own ARN, or the name of an IAM user;
    - "role_sessions": also any session of a listed role ARN;
    - "role_sessions_ignoring_path": also a role ARN written without the role's path (IAM
      Identity Center roles live under /aws-reserved/sso.amazonaws.com/).
    A bare user name names a user of the automation's own account (``account_id``).
    """
    if matching not in APPROVER_MATCHING:
        raise ValueError(f"approver matching {matching!r} is not one of {APPROVER_MATCHING}")
    if entry == principal.arn:
        return True  # an IAM user ARN, or the exact assumed-role session ARN
    if principal.kind == "user" and not entry.startswith("arn:"):
        return entry == principal.user_name and principal.account_id == account_id
    if matching == "exact" or principal.kind != "assumed-role" or not _ROLE_ARN.match(entry):
        return False
    role_arn = principal.role_arn or ""
    if entry == role_arn:
        return True  # any session of the listed role
    return matching == "role_sessions_ignoring_path" and entry == _without_path(role_arn)


def _without_path(role_arn: str) -> str:
    """arn:aws:iam::123456789012:role/a/path/Name -> arn:aws:iam::123456789012:role/Name"""
    prefix, _, rest = role_arn.partition(":role/")
    return f"{prefix}:role/{rest.rsplit('/', 1)[-1]}" if rest else role_arn
