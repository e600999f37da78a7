"""Exit codes and the one error type every command raises for a failure a user can act on."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """What `approvals` exits with (`approvals --help` lists them)."""

    OK = 0
    FAILED = 1  # an AWS error the command cannot explain further
    USAGE = 2  # bad options or arguments (click's own)
    NOT_FOUND = 3  # no approval for that id, or an automation of another document
    REFUSED = 4  # the caller may not do it: not an approver, or IAM refused
    CONFLICT = 5  # already decided, expired, closed or not started: nothing changed
    CONFIGURATION = 6  # no deployment found, or no credentials/Region
    PROBLEMS = 7  # doctor found problems; redrive left messages in the queue
    # `approvals wait`: the outcome the workflow got.
    REJECTED = 10
    EXPIRED = 11
    CANCELLED = 12  # withdrawn, or closed because the workflow ended first
    NOT_DECIDED = 13  # Approval.Failed or Approval.NotStarted
    TIMED_OUT = 14  # `wait --timeout` passed before the workflow had the decision


class CliError(Exception):
    """A failure with a message that says what happened and what to do."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILED):
        super().__init__(message)
        self.message = message
        self.code = code
