"""The function's configuration, read once from its environment (set by Terraform)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from approval_core.environment import ConfigurationError, Environment
from approval_core.pacing import PacingSettings
from approval_core.records import MIN_REMIND_AFTER_SECONDS
from approval_core.stages import MAX_STAGES
from start_approval.errors import InvalidApprovalRequest

DEFAULT_TIMEOUT_SECONDS = 604800  # aws:approve's own default: 7 days
DEFAULT_RETENTION_DAYS = 30  # SSM keeps automation history 30 days
DEFAULT_MAX_REMINDERS = 3
_MOST_REMINDERS = 10  # the request schema's bound too (payload.schema.json)


class Settings(NamedTuple):
    """What the function's environment sets."""

    table_name: str
    document_name: str
    document_version: str
    notification_topic_arn: str
    automation_assume_role_arn: str
    default_approvers: tuple[str, ...]
    default_min_required_approvals: int
    approval_timeout_seconds: int
    record_retention_days: int
    # A requester is never asked to approve their own request (README, Separation of duties).
    prevent_self_approval: bool = True
    # Reminders unless the request says otherwise: every remind_after_seconds (None: none),
    # at most max_reminders times.
    remind_after_seconds: int | None = None
    max_reminders: int = DEFAULT_MAX_REMINDERS
    # The most stages a request may give (the state machine's Task waits for that many).
    max_approval_stages: int = MAX_STAGES
    # Escalation unless the request says otherwise: after escalate_after_seconds (None: none)
    # a stage is opened to escalation_approvers too.
    escalate_after_seconds: int | None = None
    escalation_approvers: tuple[str, ...] = ()
    # SSM's rates this deployment keeps to (approval_core.pacing); none by default.
    pacing: PacingSettings = PacingSettings.none()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        try:
            return cls._read(Environment(environ))
        except ConfigurationError as error:
            # A workflow Catches a misconfigured start as it does a bad request: one error
            # name, InvalidApprovalRequest (docs/contracts.md).
            raise InvalidApprovalRequest(str(error)) from None

    @classmethod
    def _read(cls, environment: Environment) -> Settings:
        return cls(
            table_name=environment.required("APPROVALS_TABLE_NAME"),
            document_name=environment.required("APPROVAL_DOCUMENT_NAME"),
            document_version=environment.optional("APPROVAL_DOCUMENT_VERSION", "$DEFAULT"),
            notification_topic_arn=environment.required("NOTIFICATION_TOPIC_ARN"),
            automation_assume_role_arn=environment.optional("AUTOMATION_ASSUME_ROLE_ARN"),
            default_approvers=environment.comma_separated("DEFAULT_APPROVERS"),
            default_min_required_approvals=environment.integer(
                "DEFAULT_MIN_REQUIRED_APPROVALS", 1, minimum=1
            ),
            approval_timeout_seconds=environment.integer(
                "APPROVAL_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS, minimum=1
            ),
            record_retention_days=environment.integer(
                "RECORD_RETENTION_DAYS", DEFAULT_RETENTION_DAYS, minimum=1
            ),
            prevent_self_approval=environment.boolean("PREVENT_SELF_APPROVAL", True),
            remind_after_seconds=_remind_after_seconds(environment),
            max_reminders=_max_reminders(environment),
            max_approval_stages=_max_approval_stages(environment),
            escalate_after_seconds=_escalate_after_seconds(environment),
            escalation_approvers=environment.comma_separated("ESCALATION_APPROVERS"),
            pacing=PacingSettings.from_environment(environment),
        )


def _remind_after_seconds(environment: Environment) -> int | None:
    """Not set: no reminders by default."""
    raw = environment.optional("REMIND_AFTER_SECONDS")
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < MIN_REMIND_AFTER_SECONDS:
        raise ConfigurationError(
            f"REMIND_AFTER_SECONDS (function environment) is {raw!r}: set it to a whole number "
            f"of seconds, {MIN_REMIND_AFTER_SECONDS} or more, or leave it unset for no "
            "reminders by default."
        )
    return int(raw)


def _max_reminders(environment: Environment) -> int:
    count = environment.integer("MAX_REMINDERS", DEFAULT_MAX_REMINDERS, minimum=0)
    if count > _MOST_REMINDERS:
        raise ConfigurationError(
            f"MAX_REMINDERS (function environment) is {count}: set it to a whole number from "
            f"0 to {_MOST_REMINDERS} (default {DEFAULT_MAX_REMINDERS})."
        )
    return count


def _max_approval_stages(environment: Environment) -> int:
    count = environment.integer("MAX_APPROVAL_STAGES", MAX_STAGES, minimum=1)
    if count > MAX_STAGES:
        raise ConfigurationError(
            f"MAX_APPROVAL_STAGES (function environment) is {count}: set it to a whole number "
            f"from 1 to {MAX_STAGES} (default {MAX_STAGES})."
        )
    return count


def _escalate_after_seconds(environment: Environment) -> int | None:
    """Not set: no escalation by default."""
    raw = environment.optional("ESCALATE_AFTER_SECONDS")
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < MIN_REMIND_AFTER_SECONDS:
        raise ConfigurationError(
            f"ESCALATE_AFTER_SECONDS (function environment) is {raw!r}: set it to a whole "
            f"number of seconds, {MIN_REMIND_AFTER_SECONDS} or more, or leave it unset for no "
            "escalation by default."
        )
    return int(raw)
