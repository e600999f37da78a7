"""The function's configuration, read once from its environment (set by Terraform)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

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

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        def required(name: str) -> str:
            value = environ.get(name, "").strip()
            if not value:
                raise InvalidApprovalRequest(
                    f"{name} (function environment) is not set: deploy the function with "
                    "the approval_gate Terraform module, or set it by hand."
                )
            return value

        def whole_number(name: str, default: int) -> int:
            raw = environ.get(name, "").strip()
            if not raw:
                return default
            try:
                value = int(raw)
            except ValueError:
                value = 0
            if value < 1:
                raise InvalidApprovalRequest(
                    f"{name} (function environment) is {raw!r}: set it to a whole number of 1 "
                    "or more."
                )
            return value

        approvers = environ.get("DEFAULT_APPROVERS", "")
        return cls(
            table_name=required("APPROVALS_TABLE_NAME"),
            document_name=required("APPROVAL_DOCUMENT_NAME"),
            document_version=environ.get("APPROVAL_DOCUMENT_VERSION", "").strip() or "$DEFAULT",
            notification_topic_arn=required("NOTIFICATION_TOPIC_ARN"),
            automation_assume_role_arn=environ.get("AUTOMATION_ASSUME_ROLE_ARN", "").strip(),
            default_approvers=tuple(a.strip() for a in approvers.split(",") if a.strip()),
            default_min_required_approvals=whole_number("DEFAULT_MIN_REQUIRED_APPROVALS", 1),
            approval_timeout_seconds=whole_number(
                "APPROVAL_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS
            ),
            record_retention_days=whole_number("RECORD_RETENTION_DAYS", DEFAULT_RETENTION_DAYS),
        )
