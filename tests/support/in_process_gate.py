"""The gate's AWS resources assembled in moto (extended by sandbox/), in this process, for the
services' functional tests; the tests call the handlers themselves. (The gate deployed by
Terraform into the local AWS is scripts/local_gate.py's LocalGate.)

The waiting workflow is a real Step Functions execution in moto. Its Task state sends the
contract's payload (docs/contracts.md) to an SQS queue with `.waitForTaskToken`, because
moto cannot run a Lambda without docker; the test hands that payload to start_approval's
handler, exactly as Lambda would. The EventBridge rule has the gate's pattern and an SQS
target, so the events the sandbox's SSM puts on the bus are read back and handed to
receive_result's handler.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import boto3

from sandbox.core import call_counts
from tests.support.approval_document import render_document
from tests.support.aws_env import DOCUMENT_NAME, TABLE_NAME, TOPIC_NAME
from tests.support.records_table import create_records_table

# moto runs the state machines it is given (the Task state waits for its token).
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}}

TASK_PAYLOAD = {
    "task_token.$": "$$.Task.Token",
    "execution_arn.$": "$$.Execution.Id",
    "state_name.$": "$$.State.Name",
    "state_entered_time.$": "$$.State.EnteredTime",
    "request.$": "$",
}


@dataclass
class Workflow:
    execution_arn: str
    payload: dict[str, Any]


class InProcessGate:
    """Created inside `mock_aws(config=MOTO_CONFIG)` with the sandbox installed."""

    def __init__(self) -> None:
        self.sfn = boto3.client("stepfunctions")
        self.sqs = boto3.client("sqs")
        self.ssm = boto3.client("ssm")
        self.iam = boto3.client("iam")
        self.dynamodb = boto3.client("dynamodb")
        create_records_table(self.dynamodb)
        sns = boto3.client("sns")
        self.topic_arn = sns.create_topic(Name=TOPIC_NAME)["TopicArn"]
        self.ssm.create_document(
            Name=DOCUMENT_NAME,
            Content=render_document(),
            DocumentType="Automation",
            DocumentFormat="YAML",
        )
        self.tasks_queue = self.sqs.create_queue(QueueName="waiting-tasks")["QueueUrl"]
        self.events_queue = self._events_queue()
        role = self.iam.create_role(RoleName="workflow", AssumeRolePolicyDocument="{}")
        self.state_machine_arn = self.sfn.create_state_machine(
            name="Flow", definition=json.dumps(self._definition()), roleArn=role["Role"]["Arn"]
        )["stateMachineArn"]
        self._principals: dict[str, Any] = {}

    # The workflow side
    def _definition(self) -> dict[str, Any]:
        return {
            "StartAt": "Approve",
            "States": {
                "Approve": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": self.tasks_queue, "MessageBody": TASK_PAYLOAD},
                    "ResultPath": "$.approval",
                    "End": True,
                }
            },
        }

    def start_workflow(self, request: dict[str, Any]) -> Workflow:
        execution_arn = self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn,
            name=f"run-{uuid.uuid4().hex[:8]}",
            input=json.dumps(request),
        )["executionArn"]
        message = self._receive(self.tasks_queue)
        return Workflow(execution_arn=execution_arn, payload=json.loads(message))

    def execution(self, execution_arn: str, settle: float = 5.0) -> dict[str, Any]:
        """The execution once it has left RUNNING (or as it is after `settle` seconds)."""
        deadline = time.monotonic() + settle
        while True:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING" or time.monotonic() > deadline:
                return described
            time.sleep(0.05)

    # The approvers' side
    def principal(self, user_name: str) -> str:
        """An IAM user with an access key; returns its ARN."""
        if user_name not in self._principals:
            arn = self.iam.create_user(UserName=user_name)["User"]["Arn"]
            key = self.iam.create_access_key(UserName=user_name)["AccessKey"]
            self._principals[user_name] = (arn, key)
        return self._principals[user_name][0]

    def signal(self, user_name: str, automation_id: str, signal: str, comment: str = "") -> None:
        self.principal(user_name)
        key = self._principals[user_name][1]
        ssm = boto3.client(
            "ssm",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
            aws_session_token=None,
        )
        payload = {"Comment": [comment]} if comment else {}
        ssm.send_automation_signal(
            AutomationExecutionId=automation_id, SignalType=signal, Payload=payload
        )

    # The EventBridge side
    def _events_queue(self) -> str:
        queue_url = self.sqs.create_queue(QueueName="approval-events")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events = boto3.client("events")
        events.put_rule(
            Name="approval-results",
            EventPattern=json.dumps(
                {
                    "source": ["aws.ssm"],
                    "detail-type": ["EC2 Automation Step Status-change Notification"],
                    "detail": {
                        "Definition": [DOCUMENT_NAME],
                        "Action": ["aws:approve"],
                        "Status": ["Success", "Failed", "TimedOut", "Cancelled"],
                    },
                }
            ),
        )
        events.put_targets(Rule="approval-results", Targets=[{"Id": "q", "Arn": queue_arn}])
        return queue_url

    def result_events(self) -> list[dict[str, Any]]:
        """Every event the rule matched since the last call."""
        found = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.events_queue, MaxNumberOfMessages=10
            ).get("Messages", [])
            if not messages:
                return found
            for message in messages:
                found.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.events_queue, ReceiptHandle=message["ReceiptHandle"]
                )

    def _receive(self, queue_url: str) -> str:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            messages = self.sqs.receive_message(QueueUrl=queue_url).get("Messages", [])
            if messages:
                self.sqs.delete_message(
                    QueueUrl=queue_url, ReceiptHandle=messages[0]["ReceiptHandle"]
                )
                return messages[0]["Body"]
            time.sleep(0.05)
        raise AssertionError(f"nothing arrived on {queue_url}")

    # The records
    def record(self, approval_id: str) -> dict[str, Any] | None:
        return self.dynamodb.get_item(
            TableName=TABLE_NAME, Key={"pk": {"S": f"approval#{approval_id}"}}
        ).get("Item")

    def table_items(self) -> list[dict[str, Any]]:
        return self.dynamodb.scan(TableName=TABLE_NAME)["Items"]

    def automations(self) -> list[dict[str, Any]]:
        return self.ssm.describe_automation_executions()["AutomationExecutionMetadataList"]

    @staticmethod
    def ssm_calls(action: str) -> int:
        """How many calls of an SSM action the local AWS received (every caller)."""
        return sum(
            call["count"]
            for call in call_counts.calls()
            if call["service"] == "ssm" and call["action"] == action
        )
