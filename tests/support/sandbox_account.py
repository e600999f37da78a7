"""The account the sandbox's tests build their world in (moto extended by sandbox/, in-process
or its server): the gate's approval document and topic, principals with their own clients,
and the queues that read back what EventBridge delivers."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from tests.support.approval_document import render_document
from tests.support.sandbox_clients import create_queue, sandbox_client

DOCUMENT_NAME = "SandboxApproval"
TOPIC_NAME = "AutomationSandboxApprovals"
# The detail-types of SSM Automation's events on the default bus.
STEP_EVENT = "EC2 Automation Step Status-change Notification"
EXECUTION_EVENT = "EC2 Automation Execution Status-change Notification"


@dataclass
class Principal:
    """An IAM identity and an SSM client signing with its credentials."""

    arn: str
    ssm: Any
    role_arn: str | None = None


class SandboxAccount:
    """Clients of the default (moto) identity, and helpers to build a test's world."""

    def __init__(self, endpoint_url: str | None = None) -> None:
        self.endpoint_url = endpoint_url
        self.ssm = self.client("ssm")
        self.sns = self.client("sns")
        self.sqs = self.client("sqs")
        self.iam = self.client("iam")
        self.sts = self.client("sts")
        self.events = self.client("events")
        self.topic_arn = self.sns.create_topic(Name=TOPIC_NAME)["TopicArn"]
        self.ssm.create_document(
            Name=DOCUMENT_NAME,
            Content=render_document(),
            DocumentType="Automation",
            DocumentFormat="YAML",
        )

    def client(self, service: str, **credentials: Any) -> Any:
        return sandbox_client(service, self.endpoint_url, **credentials)

    def user(self, name: str) -> Principal:
        """An IAM user with an access key."""
        arn = self.iam.create_user(UserName=name)["User"]["Arn"]
        key = self.iam.create_access_key(UserName=name)["AccessKey"]
        ssm = self.client(
            "ssm",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
            aws_session_token=None,
        )
        return Principal(arn=arn, ssm=ssm)

    def role(self, name: str) -> str:
        return self.iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]

    def assume(self, role_arn: str, session_name: str) -> Principal:
        """A session of ``role_arn`` from sts.assume_role."""
        assumed = self.sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)
        credentials = assumed["Credentials"]
        ssm = self.client(
            "ssm",
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        return Principal(arn=assumed["AssumedRoleUser"]["Arn"], ssm=ssm, role_arn=role_arn)

    def start(
        self,
        approvers: list[str],
        min_required_approvals: int = 1,
        *,
        message: str = "Deploy release 42?",
        client_token: str | None = None,
        assume_role: str | None = None,
        **extra_parameters: list[str],
    ) -> str:
        """Start the gate's document; returns the automation execution id."""
        parameters = {
            "ApprovalId": [str(uuid.uuid4())],
            "Message": [message],
            "Approvers": approvers,
            "MinRequiredApprovals": [str(min_required_approvals)],
            "NotificationArn": [self.topic_arn],
            **extra_parameters,
        }
        if assume_role:
            parameters["AutomationAssumeRole"] = [assume_role]
        return self.ssm.start_automation_execution(
            DocumentName=DOCUMENT_NAME,
            Parameters=parameters,
            ClientToken=client_token or str(uuid.uuid4()),
        )["AutomationExecutionId"]

    def execution(self, execution_id: str) -> dict[str, Any]:
        return self.ssm.get_automation_execution(AutomationExecutionId=execution_id)[
            "AutomationExecution"
        ]

    def approve_step(self, execution_id: str) -> dict[str, Any]:
        return self.execution(execution_id)["StepExecutions"][0]

    def queue(self, name: str) -> tuple[str, str]:
        """An SQS queue (url, arn)."""
        return create_queue(self.sqs, name)

    def drain(self, queue_url: str, wait_seconds: float = 0.0) -> list[dict[str, Any]]:
        """Every message body (parsed JSON) on the queue, deleting them."""
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + wait_seconds
        while True:
            messages = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            for message in messages:
                found.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            if not messages and (found or time.monotonic() >= deadline):
                return found
            if not messages:
                time.sleep(0.05)


def route_to_queue(account: SandboxAccount, name: str, pattern: dict) -> str:
    """A rule ``name`` matching ``pattern`` with a queue target of the same name; its URL."""
    queue_url, queue_arn = account.queue(name)
    account.events.put_rule(Name=name, EventPattern=json.dumps(pattern))
    account.events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return queue_url
