"""Short-lived IAM roles that approve for the probe: created, assumed, deleted at the end.

Every role is named `approval-probe-<run>-<who>`, tagged `approval-probe=<run>`, trusts the
caller's account and carries the approver policy (the gate's `approver_policy_json` output,
else SendAutomationSignal and reads)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from scripts.aws_probe.deployment import Account

ROLE_PREFIX = "approval-probe"
# A role written without its path must still name this one (approver_matching).
PATHED_ROLE_PATH = f"/{ROLE_PREFIX}/"
POLICY_NAME = "approval-probe-approver"


@dataclass(frozen=True)
class ProbeApprover:
    who: str
    role_name: str
    role_arn: str  # with its path
    session_arn: str  # arn:...:sts::<account>:assumed-role/<role>/<session>
    keys: dict[str, str]

    @property
    def role_arn_without_path(self) -> str:
        prefix, _, rest = self.role_arn.partition(":role/")
        return f"{prefix}:role/{rest.rsplit('/', 1)[-1]}"


def fallback_policy(account: Account) -> str:
    partition = account.caller_arn.split(":")[1] if account.caller_arn else "aws"
    executions = f"arn:{partition}:ssm:{account.region}:{account.account_id}:automation-execution/*"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "ssm:SendAutomationSignal",
                        "ssm:GetAutomationExecution",
                        "ssm:DescribeAutomationStepExecutions",
                    ],
                    "Resource": executions,
                },
                {"Effect": "Allow", "Action": "ssm:DescribeAutomationExecutions", "Resource": "*"},
            ],
        }
    )


class ProbeRoles:
    def __init__(
        self,
        account: Account,
        run_id: str,
        policy_json: str | None,
        propagation_seconds: float = 60,
    ):
        self.account = account
        self.run_id = run_id
        self.policy = policy_json or fallback_policy(account)
        # New IAM roles and policies take a few seconds to be usable (IAM is eventually
        # consistent): AssumeRole and the first signals are retried this long.
        self.propagation_seconds = propagation_seconds
        self.created: list[str] = []
        self.approvers: dict[str, ProbeApprover] = {}

    def create(self, whos: list[str], pathed: tuple[str, ...] = ()) -> dict[str, ProbeApprover]:
        """One role per name (those in `pathed` under PATHED_ROLE_PATH), then one session each."""
        iam = self.account.client("iam")
        partition = self.account.caller_arn.split(":")[1] if self.account.caller_arn else "aws"
        account_id = self.account.account_id
        trust = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        )
        arns: dict[str, str] = {}
        for who in whos:
            name = f"{ROLE_PREFIX}-{self.run_id}-{who}"
            role = iam.create_role(
                RoleName=name,
                Path=PATHED_ROLE_PATH if who in pathed else "/",
                AssumeRolePolicyDocument=trust,
                Description="approval gate probe (make verify-aws): deleted when it ends",
                MaxSessionDuration=3600,
                Tags=[{"Key": ROLE_PREFIX, "Value": self.run_id}],
            )["Role"]
            self.created.append(name)
            iam.put_role_policy(RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=self.policy)
            arns[who] = role["Arn"]
        for who in whos:
            self.approvers[who] = self._assume(who, arns[who])
        return {who: self.approvers[who] for who in whos}

    def _assume(self, who: str, role_arn: str) -> ProbeApprover:
        sts = self.account.client("sts")
        deadline = time.monotonic() + self.propagation_seconds
        while True:
            try:
                assumed = sts.assume_role(RoleArn=role_arn, RoleSessionName=f"probe-{who}")
                break
            except ClientError as error:
                if error.response["Error"]["Code"] != "AccessDenied" or time.monotonic() > deadline:
                    raise
                time.sleep(2)
        credentials = assumed["Credentials"]
        return ProbeApprover(
            who=who,
            role_name=role_arn.rsplit("/", 1)[-1],
            role_arn=role_arn,
            session_arn=assumed["AssumedRoleUser"]["Arn"],
            keys={
                "aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials["SessionToken"],
            },
        )

    def ssm(self, who: str) -> Any:
        return boto3.client(
            "ssm",
            region_name=self.account.region,
            endpoint_url=self.account.endpoint,
            **self.approvers[who].keys,
        )

    def delete_all(self) -> list[str]:
        """Deletes every role this run created; returns what could not be deleted and why."""
        iam = self.account.client("iam")
        left: list[str] = []
        for name in list(self.created):
            try:
                for policy in iam.list_role_policies(RoleName=name).get("PolicyNames", []):
                    iam.delete_role_policy(RoleName=name, PolicyName=policy)
                iam.delete_role(RoleName=name)
                self.created.remove(name)
            except ClientError as error:
                if error.response["Error"]["Code"] == "NoSuchEntity":
                    self.created.remove(name)
                else:
                    left.append(f"role {name}: {error}")
        return left
