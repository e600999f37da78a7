"""Reminders to the approvers of an approval nobody has decided yet: what one says, and the
topic it goes to (the deployment's notification topic, where SSM sent the request: the
approvers' e-mail). The sweep decides when one is due (logic/sweep_approvals.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError

# A reminder recalls the request, it does not repeat it: a long message is cut (saying so).
MESSAGE_LIMIT = 1000
_CUT_MARK = "\n[...] (cut: `approvals show {approval_id}` has it whole)"
_HOW_TO_DECIDE = (
    "Decide from a terminal with the approvals command line:\n"
    '  approvals approve {approval_id} -m "your comment"\n'
    '  approvals reject {approval_id} -m "your comment"'
)


class _Topic(Protocol):
    """The part of boto3's SNS client a reminder uses."""

    def publish(self, *, TopicArn: str, Subject: str, Message: str) -> object: ...


class ReminderNotSent(Exception):
    """SNS refused or could not be reached; the reminder stays counted (at most once)."""


@dataclass(frozen=True)
class Reminder:
    approval_id: str
    number: int  # 1 for the first
    of: int  # the approval's max_reminders
    waited_seconds: int
    message: str
    requested_by: str | None = None

    @property
    def subject(self) -> str:
        """SNS subjects: ASCII, one line, under 100 characters (the id is 36)."""
        return f"Reminder {self.number} of {self.of}: approval {self.approval_id} waits"

    def text(self) -> str:
        message = self.message
        if len(message) > MESSAGE_LIMIT:
            message = message[:MESSAGE_LIMIT] + _CUT_MARK.format(approval_id=self.approval_id)
        lines = [
            f"Reminder {self.number} of {self.of}: approval {self.approval_id} still waits for "
            f"a decision (asked {duration(self.waited_seconds)} ago).",
        ]
        if self.requested_by:
            lines.append(f"Requested by {self.requested_by}.")
        lines += ["", message, "", _HOW_TO_DECIDE.format(approval_id=self.approval_id)]
        return "\n".join(lines)


def duration(seconds: int) -> str:
    """'2 d 3 h', '1 h 5 min', '4 min' (a reminder's interval is at least a minute)."""
    days, rest = divmod(max(0, seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


class ApproverReminders:
    """Publishes reminders to the notification topic."""

    def __init__(self, client: _Topic, topic_arn: str):
        self._client = client
        self._topic_arn = topic_arn

    def send(self, reminder: Reminder) -> None:
        try:
            self._client.publish(
                TopicArn=self._topic_arn, Subject=reminder.subject, Message=reminder.text()
            )
        except (ClientError, BotoCoreError) as error:
            raise ReminderNotSent(str(error)) from error
