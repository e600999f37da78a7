"""Lambda functions run from their zips in the sandbox (sandbox.awslambda), with the queues,
state machines and logs the tests observe them through, in-process or over HTTP."""

from __future__ import annotations

import io
import json
import textwrap
import time
import uuid
import zipfile
from typing import Any

from botocore.config import Config

from sandbox.server import ACCESS_KEY, SECRET_KEY
from tests.support.sandbox_clients import create_queue, sandbox_client

LAMBDA_ROLE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
# A synchronous invocation answers when the function returns: give it time.
SLOW_CALLS = Config(retries={"total_max_attempts": 1}, read_timeout=120)

# A function that sends what it was invoked with to the queue $QUEUE_NAME, then fails if the
# event asks it to: what a Lambda target received, and how often.
RECORDER = """
import json
import os

import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    queue_url = sqs.get_queue_url(QueueName=os.environ["QUEUE_NAME"])["QueueUrl"]
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps(
            {
                "event": event,
                "request_id": context.aws_request_id,
                "version": context.function_version,
                "invoked_function_arn": context.invoked_function_arn,
            }
        ),
    )
    if isinstance(event, dict) and event.get("fail"):
        raise RuntimeError("asked to fail")
    return "recorded"
"""


def lambda_zip(files: dict[str, str]) -> bytes:
    """A deployment package holding ``files`` (name -> source)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, source in files.items():
            archive.writestr(name, textwrap.dedent(source))
    return buffer.getvalue()


class LambdaHarness:
    """Functions, queues, state machines and their clients, in-process or over HTTP."""

    def __init__(self, endpoint_url: str | None = None) -> None:
        self.endpoint_url = endpoint_url
        self.iam = self.client("iam")
        self.lam = self.client("lambda")
        self.sqs = self.client("sqs")
        self.sfn = self.client("stepfunctions")
        self.events = self.client("events")
        self.logs = self.client("logs")
        self.role_arn = self.iam.create_role(
            RoleName="function-role", AssumeRolePolicyDocument=LAMBDA_ROLE_POLICY
        )["Role"]["Arn"]

    def client(self, service: str) -> Any:
        # The local AWS's deployer key: valid whether IAM is enforced or not.
        return sandbox_client(
            service,
            self.endpoint_url,
            SLOW_CALLS,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def function(
        self,
        name: str,
        files: dict[str, str],
        handler: str = "app.handler",
        *,
        environment: dict[str, str] | None = None,
        timeout: int = 5,
        **extra: Any,
    ) -> str:
        """Create a Python function from ``files``; returns its ARN."""
        return self.lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=self.role_arn,
            Handler=handler,
            Code={"ZipFile": lambda_zip(files)},
            Environment={"Variables": environment or {}},
            Timeout=timeout,
            **extra,
        )["FunctionArn"]

    def update_code(self, name: str, files: dict[str, str]) -> None:
        self.lam.update_function_code(FunctionName=name, ZipFile=lambda_zip(files))

    def invoke(self, name: str, payload: Any = None, **kwargs: Any) -> tuple[dict[str, Any], Any]:
        """(response, parsed payload) of a synchronous invocation."""
        response = self.lam.invoke(
            FunctionName=name, Payload=json.dumps(payload if payload is not None else {}), **kwargs
        )
        body = response["Payload"].read()
        return response, json.loads(body) if body else None

    def queue(self, name: str) -> tuple[str, str]:
        return create_queue(self.sqs, name)

    def receive(self, queue_url: str, count: int = 1, wait: float = 10.0) -> list[dict[str, Any]]:
        """At least ``count`` messages (body parsed, attributes flattened), deleting them."""
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + wait
        while len(found) < count and time.monotonic() < deadline:
            messages = self.sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            ).get("Messages", [])
            for message in messages:
                attributes = {
                    key: value.get("StringValue")
                    for key, value in message.get("MessageAttributes", {}).items()
                }
                found.append({"body": json.loads(message["Body"]), "attributes": attributes})
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            if not messages:
                time.sleep(0.05)
        return found

    def log_messages(self, function_name: str) -> list[str]:
        events = self.logs.filter_log_events(logGroupName=f"/aws/lambda/{function_name}")
        return [event["message"] for event in events["events"]]

    def state_machine(self, name: str, definition: dict[str, Any]) -> str:
        return self.sfn.create_state_machine(
            name=name, definition=json.dumps(definition), roleArn=self.role_arn
        )["stateMachineArn"]

    def start(self, state_machine_arn: str, payload: Any) -> str:
        """Start an execution; returns its ARN."""
        return self.sfn.start_execution(
            stateMachineArn=state_machine_arn,
            name=f"run-{uuid.uuid4().hex[:8]}",
            input=json.dumps(payload),
        )["executionArn"]

    def run(self, state_machine_arn: str, payload: Any, timeout: float = 20.0) -> dict[str, Any]:
        """Start an execution and wait until it leaves RUNNING."""
        return self.wait_execution(self.start(state_machine_arn, payload), timeout)

    def wait_execution(self, execution_arn: str, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING" or time.monotonic() > deadline:
                return described
            time.sleep(0.05)


def recorder(lambdas: LambdaHarness, name: str, queue: str, **extra: Any) -> str:
    """A RECORDER function ``name`` sending to the queue named ``queue``; its ARN."""
    return lambdas.function(name, {"app.py": RECORDER}, environment={"QUEUE_NAME": queue}, **extra)
