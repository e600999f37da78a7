"""A gate assembled in moto (extended by sandbox/) for the services' tests.

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
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

import sandbox
from tests.support.aws_env import ACCOUNT_ID, DOCUMENT_NAME, REGION, TABLE_NAME, TOPIC_NAME

REPO = Path(__file__).resolve().parents[3]
DOCUMENT_TEMPLATE = REPO / "terraform/modules/approval_gate/templates/approval_document.yaml.tftpl"
TIMEOUT_SECONDS = 3600

TASK_PAYLOAD = {
    "task_token.$": "$$.Task.Token",
    "execution_arn.$": "$$.Execution.Id",
    "state_name.$": "$$.State.Name",
    "state_entered_time.$": "$$.State.EnteredTime",
    "request.$": "$",
}


def render_document(timeout_seconds: int = TIMEOUT_SECONDS) -> str:
    return DOCUMENT_TEMPLATE.read_text().replace("${timeout_seconds}", str(timeout_seconds))


def create_records_table(dynamodb: Any) -> None:
    """The table as terraform/modules/approval_gate defines it."""
    dynamodb.create_table(
        TableName=TABLE_NAME,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "execution_arn", "AttributeType": "S"},
            {"AttributeName": "awaiting", "AttributeType": "S"},
            {"AttributeName": "requested_epoch", "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_execution",
                "KeySchema": [{"AttributeName": "execution_arn", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "pending",
                "KeySchema": [
                    {"AttributeName": "awaiting", "KeyType": "HASH"},
                    {"AttributeName": "requested_epoch", "KeyType": "RANGE"},
                ],
                "Projection": {
                    "ProjectionType": "INCLUDE",
                    "NonKeyAttributes": ["approval_id", "automation_execution_id"],
                },
            },
        ],
        BillingMode="PAY_PER_REQUEST",
    )


class LambdaContext:
    function_name = "approval-gate"
    function_version = "1"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:approval-gate:live"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


@dataclass
class Workflow:
    execution_arn: str
    payload: dict[str, Any]


class LocalGate:
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


@pytest.fixture
def gate():
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sandbox.install()
        sandbox.reset()
        yield LocalGate()
        sandbox.reset()


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def start_handler():
    from start_approval.handler import lambda_handler

    return lambda_handler


@pytest.fixture
def receive_handler():
    from receive_result.handler import lambda_handler

    return lambda_handler


@pytest.fixture
def sweep_handler():
    from receive_result.handler import sweep_handler

    return sweep_handler


@pytest.fixture
def workflow_ended_handler():
    from receive_result.handler import workflow_ended_handler

    return workflow_ended_handler


@pytest.fixture
def started(gate, start_handler, context):
    """Starts a workflow whose approval waits; returns (workflow, start reply)."""

    def start(**request):
        body = {"message": "Ship it?", "approvers": [gate.principal("alice")]} | request
        workflow = gate.start_workflow(body)
        return workflow, start_handler(workflow.payload, context)

    return start
