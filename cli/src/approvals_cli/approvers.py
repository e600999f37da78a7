"""Is the caller one of an approval's approvers, as SSM's aws:approve matches them?

An Approvers entry is an IAM user name, a user ARN, a role ARN or an assumed-role ARN. AWS does
not document every case (docs/aws-behaviour.md#undocumented-approver-matching): this accepts
the widest plausible reading (a role ARN admits its sessions, with or without the role's path),
so that `list --mine` never hides an approval the caller may decide and `approve` never refuses
one SSM would accept; SSM itself has the last word on the signal.
"""

from __future__ import annotations

from approvals_cli.aws import Caller


def may_decide(caller: Caller, entry: str) -> bool:
    if entry == caller.arn:
        return True
    if not entry.startswith("arn:"):
        return caller.kind == "user" and entry == caller.name
    parts = entry.split(":", 5)
    if len(parts) < 6 or parts[4] != caller.account:
        return False
    resource = parts[5]
    if caller.kind == "user" and resource.startswith("user/"):
        return resource.rsplit("/", 1)[-1] == caller.name
    if caller.kind == "assumed-role" and resource.startswith("role/"):
        return resource.rsplit("/", 1)[-1] == caller.name
    return False


def short_name(principal: str) -> str:
    """alice for arn:aws:iam::123456789012:user/alice; Role/session for a session."""
    if principal.startswith("arn:") and ":assumed-role/" in principal:
        return principal.split(":assumed-role/", 1)[1]
    return principal.rsplit("/", 1)[-1]
