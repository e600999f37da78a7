"""The function's configuration, read once from its environment (set by Terraform)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from approval_core.environment import ConfigurationError, Environment
from approval_core.pacing import PacingSettings
from start_approval.errors import InvalidApprovalRequest

DEFAULT_TIMEOUT_SECONDS = 604800  # aws:approve's own default: 7 days
DEFAULT_RETENTION_DAYS = 30  # SSM keeps automation history 30 days


@dataclass(frozen=True)
class Settings:
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
    # SSM's rates this deployment keeps to (approval_core.pacing); none by default.
    pacing: PacingSettings = field(default_factory=PacingSettings.none)

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
            pacing=PacingSettings.from_environment(environment),
        )
