"""The function's configuration, read once from its environment (set by Terraform)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from approval_core.environment import Environment
from approval_core.pacing import PacingSettings

# How long the sweep lets SSM keep an approval's automation queued before it gives up.
DEFAULT_MAX_QUEUED_SECONDS = 3600
# How long after its automation ended the sweep leaves an approval to its event.
DEFAULT_SWEEP_GRACE_SECONDS = 60
# How long a delivery holds its decision's callback (ReceiveResult.deliver): Lambda's longest
# timeout, when the function's own is not set.
DEFAULT_DELIVERY_LEASE_SECONDS = 900


class Settings(NamedTuple):
    """What the function's environment sets."""

    table_name: str
    document_name: str
    # Past this many seconds queued (Pending, over the account's concurrent-automation
    # quota), the sweep cancels the automation and fails the task with Approval.NotStarted.
    # 0: never (the approval waits in SSM's queue as long as SSM keeps it).
    max_queued_seconds: int = DEFAULT_MAX_QUEUED_SECONDS
    # An automation that ended less than this many seconds before the sweep runs is left to
    # its event, most likely still on its way (EventBridge to Lambda is asynchronous): the
    # sweep spends no SSM read on it. 0: the sweep reads every finished automation.
    sweep_grace_seconds: int = DEFAULT_SWEEP_GRACE_SECONDS
    # The function's timeout: a delivery holds its decision's callback that long (it cannot
    # run longer); another attempt takes over a callback left half-way only after that.
    delivery_lease_seconds: int = DEFAULT_DELIVERY_LEASE_SECONDS
    # Starting the next stage of an approval (approval_core.launcher.AutomationDocument); no
    # topic: this function cannot ask a next stage (nor remind).
    document_version: str = "$DEFAULT"
    notification_topic_arn: str = ""
    automation_assume_role_arn: str = ""
    # Who approved one stage does not count toward a later one.
    distinct_approvers_across_stages: bool = True
    # SSM's rates this deployment keeps to (approval_core.pacing); none by default.
    pacing: PacingSettings = PacingSettings.none()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        environment = Environment(environ)
        return cls(
            table_name=environment.required("APPROVALS_TABLE_NAME"),
            document_name=environment.required("APPROVAL_DOCUMENT_NAME"),
            max_queued_seconds=environment.seconds(
                "MAX_QUEUED_SECONDS", DEFAULT_MAX_QUEUED_SECONDS, zero_means="disables giving up"
            ),
            sweep_grace_seconds=environment.seconds(
                "SWEEP_GRACE_SECONDS", DEFAULT_SWEEP_GRACE_SECONDS, zero_means="no grace"
            ),
            delivery_lease_seconds=environment.integer(
                "DELIVERY_LEASE_SECONDS", DEFAULT_DELIVERY_LEASE_SECONDS, minimum=1
            ),
            document_version=environment.optional("APPROVAL_DOCUMENT_VERSION", "$DEFAULT"),
            notification_topic_arn=environment.optional("NOTIFICATION_TOPIC_ARN"),
            automation_assume_role_arn=environment.optional("AUTOMATION_ASSUME_ROLE_ARN"),
            distinct_approvers_across_stages=environment.boolean(
                "DISTINCT_APPROVERS_ACROSS_STAGES", True
            ),
            pacing=PacingSettings.from_environment(environment),
        )
