"""Fixtures of the sandbox tests: moto with the sandbox installed, the gate's document, and
principals (IAM users, assumed roles) with their own boto3 clients."""

from __future__ import annotations

import io
import json
import textwrap
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws
from moto.server import ThreadedMotoServer

import sandbox
from sandbox.awslambda import lambda_settings
from sandbox.server import ACCESS_KEY, SECRET_KEY, LocalAws

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
DOCUMENT_NAME = "SandboxApproval"
TOPIC_NAME = "AutomationSandboxApprovals"
TIMEOUT_SECONDS = 3600
TEMPLATE = (
    Path(__file__).resolve().parents[3]
    / "terraform/modules/approval_gate/templates/approval_document.yaml.tftpl"
)
NO_RETRIES = Config(retries={"total_max_attempts": 1})


def render_document(timeout_seconds: int = TIMEOUT_SECONDS) -> str:
    """The gate's document, rendered as Terraform's templatefile does."""
    return TEMPLATE.read_text().replace("${timeout_seconds}", str(timeout_seconds))


@dataclass
class Principal:
    """An IAM identity and an SSM client signing with its credentials."""

    arn: str
    ssm: Any
    role_arn: str | None = None


class Aws:
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
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.endpoint_url,
            config=NO_RETRIES,
            **credentials,
        )

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
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        return url, arn

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


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws():
        sandbox.install()
        sandbox.reset()
        yield Aws()
        sandbox.reset()


@pytest.fixture
def server_aws() -> Iterator[Aws]:
    """The same world through moto's server mode, on 127.0.0.1 (an ephemeral port)."""
    sandbox.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint_url = f"http://{host}:{port}"
    try:
        # moto's state is process-wide: start from a clean slate.
        urllib.request.urlopen(
            urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")
        ).close()
        sandbox.reset()
        yield Aws(endpoint_url=endpoint_url)
    finally:
        sandbox.reset()
        server.stop()


@pytest.fixture
def emitted() -> Iterator[list[dict[str, Any]]]:
    """Every event the sandbox emits during the test."""
    seen: list[dict[str, Any]] = []
    sandbox.add_event_listener(seen.append)
    yield seen
    sandbox.remove_event_listener(seen.append)


@pytest.fixture
def alice(aws: Aws) -> Principal:
    return aws.user("alice")


@pytest.fixture
def users(aws: Aws) -> Callable[..., list[Principal]]:
    def make(*names: str) -> list[Principal]:
        return [aws.user(name) for name in names]

    return make


# --- Lambda functions run from their zips (sandbox.awslambda) ------------------------------

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


def lambda_zip(files: dict[str, str]) -> bytes:
    """A deployment package holding ``files`` (name -> source)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, source in files.items():
            archive.writestr(name, textwrap.dedent(source))
    return buffer.getvalue()


class Lambdas:
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
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.endpoint_url,
            # The local AWS's deployer key: valid whether IAM is enforced or not.
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(retries={"total_max_attempts": 1}, read_timeout=120),
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
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        return url, arn

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


@pytest.fixture
def fast_retries() -> Iterator[None]:
    """Lambda's and EventBridge's retry delays in tens of milliseconds."""
    settings = lambda_settings
    settings.async_retry_delays = (0.05, 0.05)
    settings.async_throttle_delay = 0.05
    settings.eventbridge_retry_delay = 0.05
    settings.eventbridge_max_retry_delay = 0.2
    yield
    settings.reset()


@pytest.fixture
def local_aws() -> Iterator[LocalAws]:
    """The local AWS of ``make demo``: LocalAws on 127.0.0.1, a free port. IAM off: these
    tests exercise the emulation's mechanics with bare resources; IAM has its own tests
    (test_iam.py) and is on wherever the gate is deployed (tests/e2e, make demo)."""
    with LocalAws(port=0, expire_interval=0.1, iam=False) as server:
        server.api("/moto-api/reset")
        sandbox.reset()
        yield server
        sandbox.reset()


@pytest.fixture
def lambdas(local_aws: LocalAws) -> Lambdas:
    return Lambdas(endpoint_url=local_aws.endpoint)


@pytest.fixture
def local_gate(local_aws: LocalAws) -> Aws:
    """The gate's document, topic and principals on the local AWS server."""
    return Aws(endpoint_url=local_aws.endpoint)


@pytest.fixture
def inprocess_lambdas() -> Iterator[Lambdas]:
    """The same in-process (mock_aws), Step Functions executing their definitions."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sandbox.install()
        sandbox.reset()
        yield Lambdas()
        sandbox.reset()


@pytest.fixture(params=["server", "in-process"])
def any_lambdas(request: pytest.FixtureRequest) -> Lambdas:
    """Both modes, for the behaviour that must not depend on it."""
    name = "lambdas" if request.param == "server" else "inprocess_lambdas"
    return request.getfixturevalue(name)
