"""Separation of duties: which approver entries could be the requester.

SSM matches a signal's caller to the `Approvers` entries in a way it does not document
(docs/aws-behaviour.md#undocumented-approver-matching): an entry could be the requester if
SSM might take the requester's signal as that entry's, so the widest reading is taken. The
same principal; a user name and that user's ARN; a role ARN and every session of that role
(an assumed-role entry matches its own session only). Names compare without case (IAM
names are unique without case), accounts where both name one.
"""

from __future__ import annotations

from typing import NamedTuple


class _Principal(NamedTuple):
    kind: str  # "user" or "role"
    account: str | None  # None: a bare user name (the automation's account)
    name: str
    session: str | None  # an assumed-role session's name


def _principal(text: str) -> _Principal:
    if not text.startswith("arn:"):
        return _Principal("user", None, text.lower(), None)
    parts = text.split(":", 5)
    account, resource = parts[4], parts[5]
    kind, _, rest = resource.partition("/")
    if kind == "assumed-role":
        role, _, session = rest.partition("/")
        return _Principal("role", account, role.lower(), session)
    return _Principal(kind, account, rest.rsplit("/", 1)[-1].lower(), None)


def could_be(approver: str, requester: str) -> bool:
    """True when SSM could count `requester`'s signal as the entry `approver`'s."""
    a, r = _principal(approver), _principal(requester)
    if a.kind != r.kind or a.name != r.name:
        return False
    if a.account and r.account and a.account != r.account:
        return False
    return a.session is None or r.session is None or a.session == r.session
