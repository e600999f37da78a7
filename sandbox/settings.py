"""Sandbox settings for behaviour AWS does not document (tests run both ways)."""

from __future__ import annotations

from dataclasses import dataclass, fields

REJECTION_STATUSES = ("Failed", "Success")


@dataclass
class SandboxSettings:
    # Terminal status of the aws:approve step and of the automation after a Reject.
    # AWS does not document it; the original stack assumes "Failed".
    rejection_status: str = "Failed"
    # Concurrently running automations per account and Region before
    # AutomationExecutionLimitExceededException (AWS default quota: 100).
    max_concurrent_executions: int = 100
    # An automation without an assume role may run at most 12 hours (AWS_FACTS.md).
    # None disables the limit.
    no_role_max_seconds: int | None = 43200

    def reset(self) -> None:
        for field in fields(self):
            setattr(self, field.name, field.default)

    def checked_rejection_status(self) -> str:
        if self.rejection_status not in REJECTION_STATUSES:
            raise ValueError(
                f"sandbox.settings.rejection_status must be one of {REJECTION_STATUSES}, "
                f"not {self.rejection_status!r}"
            )
        return self.rejection_status


settings = SandboxSettings()
