"""The approval gate deployed by Terraform into the local AWS, with approvers who can act.

Used by `make demo` (scripts/demo.py) and the integration tests: the same Terraform
example (terraform/examples/local) and the same boto3 calls a user would make.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from sandbox.server import ACCESS_KEY, SECRET_KEY, LocalAws
from scripts.gate_terraform import GateTerraform

ACCOUNT_ID = "123456789012"  # moto's account
# The local deployment's Terraform state: beside the sandbox's own files, gitignored.
DEFAULT_STATE = Path(__file__).resolve().parents[1] / ".sandbox" / "local-gate.tfstate"
# The workflow owner and operator: the local AWS's deployer key (sandbox.iam.admin).
FAKE_KEYS = {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY}
# The workflow owner and the approvers share the account's SSM rates with the gate (the local
# AWS has AWS's): their clients back off and retry a throttled call, as the AWS CLI does.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 10})


@dataclass(frozen=True)
class Approver:
    name: str
    arn: str
    access_key_id: str
    secret_access_key: str


@dataclass(frozen=True)
class Event:
    at: datetime
    step: str
    what: str


class LocalGate:
    """Deploys the local example into `aws` and acts as workflow owner and approvers."""

    def __init__(
        self,
        aws: LocalAws,
        approvers: tuple[str, ...] = ("alice", "bob", "carol"),
        approval_timeout_seconds: int = 3600,
        quiet: bool = True,
        state: Path | None = None,
        variables: dict[str, Any] | None = None,
    ):
        """`variables`: more of the local example's Terraform variables (they win)."""
        self.aws = aws
        self.approver_names = approvers
        self.quiet = quiet
        self.terraform = GateTerraform(
            "local",
            {
                "endpoint": aws.endpoint,
                "approvers": [self.principal_arn(name) for name in approvers[:2]],
                "min_required_approvals": 1,
                "approval_timeout_seconds": approval_timeout_seconds,
                "notification_emails": ["approvers@example.com"],
            }
            | (variables or {}),
            quiet=quiet,
            state=state or DEFAULT_STATE,
        )
        self.outputs: dict[str, Any] = {}
        self.approvers: dict[str, Approver] = {}
        self._inbox = ""

    # Deployment
    def deploy(self) -> None:
        if self.terraform.state:
            self.terraform.state.parent.mkdir(parents=True, exist_ok=True)
        self.terraform.check()
        self.terraform.init()
        self.terraform.apply()
        self.outputs = self.terraform.outputs()
        for name in self.approver_names:
            self.approvers[name] = self._create_approver(name)
        self._inbox = self._subscribe_inbox()

    def destroy(self) -> None:
        self.terraform.destroy()

    # Clients
    def client(self, service: str, approver: str | None = None) -> Any:
        keys = FAKE_KEYS
        if approver:
            person = self.approvers[approver]
            keys = {
                "aws_access_key_id": person.access_key_id,
                "aws_secret_access_key": person.secret_access_key,
            }
        return boto3.client(
            service,
            endpoint_url=self.aws.endpoint,
            region_name=self.aws.region,
            config=CLIENT_CONFIG,
            **keys,
        )

    @staticmethod
    def principal_arn(name: str) -> str:
        return f"arn:aws:iam::{ACCOUNT_ID}:user/{name}"

    def _create_approver(self, name: str) -> Approver:
        """An IAM user with the module's approver policy attached, as the README says."""
        iam = self.client("iam")
        iam.create_user(UserName=name)
        iam.put_user_policy(
            UserName=name,
            PolicyName="approval-gate-approver",
            PolicyDocument=self.outputs["approver_policy_json"],
        )
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return Approver(name, self.principal_arn(name), key["AccessKeyId"], key["SecretAccessKey"])

    def _subscribe_inbox(self) -> str:
        """An SQS queue subscribed to the notification topic: the approvers' inbox."""
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=f"approver-inbox-{uuid.uuid4().hex[:6]}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.client("sns").subscribe(
            TopicArn=self.outputs["notification_topic_arn"], Protocol="sqs", Endpoint=arn
        )
        return url

    # The workflow owner
    def start(self, request: dict[str, Any], name: str | None = None) -> str:
        return self.client("stepfunctions").start_execution(
            stateMachineArn=self.outputs["state_machine_arn"],
            name=name or f"run-{uuid.uuid4().hex[:8]}",
            input=json.dumps(request),
        )["executionArn"]

    def records_of(self, execution_arn: str) -> list[dict[str, Any]]:
        items = self.client("dynamodb").query(
            TableName=self.outputs["approvals_table_name"],
            IndexName="by_execution",
            KeyConditionExpression="execution_arn = :e",
            ExpressionAttributeValues={":e": {"S": execution_arn}},
        )["Items"]
        return [{k: next(iter(v.values())) for k, v in item.items()} for item in items]

    def automation_of(self, execution_arn: str, timeout: float = 30) -> str:
        """The automation of the execution's approval, once it waits for approvers."""
        ssm = self.client("ssm")

        def waiting() -> str | None:
            for record in self.records_of(execution_arn):
                automation_id = record.get("automation_execution_id")
                if automation_id:
                    status = ssm.get_automation_execution(AutomationExecutionId=automation_id)[
                        "AutomationExecution"
                    ]["AutomationExecutionStatus"]
                    if status == "Waiting":
                        return automation_id
            return None

        return wait_for(waiting, timeout, f"no approval waits for {execution_arn}")

    def finished(self, execution_arn: str, timeout: float = 60) -> dict[str, Any]:
        sfn = self.client("stepfunctions")

        def done() -> dict[str, Any] | None:
            described = sfn.describe_execution(executionArn=execution_arn)
            return described if described["status"] != "RUNNING" else None

        return wait_for(done, timeout, f"{execution_arn} is still running")

    # The approvers
    def decide(self, approver: str, automation_id: str, signal: str, comment: str = "") -> None:
        self.client("ssm", approver=approver).send_automation_signal(
            AutomationExecutionId=automation_id,
            SignalType=signal,
            Payload={"Comment": [comment]} if comment else {},
        )

    def notifications(self) -> list[dict[str, Any]]:
        """Messages the approvers received since the last call."""
        sqs = self.client("sqs")
        received = []
        while True:
            messages = sqs.receive_message(
                QueueUrl=self._inbox, MaxNumberOfMessages=10, AttributeNames=["SentTimestamp"]
            ).get("Messages", [])
            if not messages:
                return received
            for message in messages:
                received.append(message)
                sqs.delete_message(QueueUrl=self._inbox, ReceiptHandle=message["ReceiptHandle"])

    # The sweep
    def sweep(
        self,
        later_by: float = 0,
        not_before: float | None = None,
        wait: bool = True,
        timeout: float = 60,
    ) -> datetime:
        """One run of the sweep on the local AWS's clock, at least `later_by` seconds from now
        and not before the epoch second `not_before`: its schedule is re-armed, the clock moved
        past the schedule's next time and the schedule fired once; returns that time once the
        sweep has ended. The sweep takes its event's time as its now
        (docs/aws-behaviour.md#eventbridge-scheduled-events), so reminders, the grace left to
        events on their way and queued give-ups are judged as of the moved clock, with no
        wait. The rule is left as it was (enabled: the ticker keeps firing it). `wait=False`
        returns once fired (the sweep's end is read from its logs, which a test may deny it)."""
        events, rule = self.client("events"), self.outputs["sweep_rule_name"]
        described = events.describe_rule(Name=rule)
        interval = _rate_seconds(described["ScheduleExpression"])
        if not_before is not None:  # + 1: the event's time is cut to the second
            later_by = max(later_by, not_before + 1 - self.clock_now().timestamp() - interval)
        events.disable_rule(Name=rule)
        try:
            if later_by > 0:
                self.aws.api("/moto-api/sandbox/clock/advance", {"seconds": later_by})
            events.enable_rule(Name=rule)  # its rate counts from here
            self.aws.api("/moto-api/sandbox/clock/advance", {"seconds": interval})
            self.aws.api("/moto-api/sandbox/schedules/fire", {})
        finally:
            if described["State"] != "ENABLED":
                events.disable_rule(Name=rule)
        # Fired by this call or just before by the ticker: either way the rule's last time.
        [schedule] = [
            listed
            for listed in self.aws.api("/moto-api/sandbox/schedules", method="GET")["schedules"]
            if listed["rule"] == described["Arn"]
        ]
        if wait:
            wait_for(
                lambda: self._sweep_ended(schedule["last_fired"]),
                timeout,
                f"the sweep due at {schedule['last_fired']} on the local AWS's clock did not end",
            )
        return datetime.fromisoformat(schedule["last_fired"].replace("Z", "+00:00"))

    @property
    def sweep_grace_seconds(self) -> int:
        """How long the deployed sweep leaves a finished automation to its event."""
        configuration = self.client("lambda").get_function_configuration(
            FunctionName=self.outputs["sweep_function_name"]
        )
        return int(configuration["Environment"]["Variables"].get("SWEEP_GRACE_SECONDS", 60))

    def clock_now(self) -> datetime:
        """The local AWS's clock (ahead of the functions' real clock once a test moved it)."""
        return datetime.fromisoformat(self.aws.api("/moto-api/sandbox/clock", method="GET")["now"])

    def _sweep_ended(self, scheduled_time: str) -> bool:
        """The invocation that got the schedule's event of `scheduled_time` has ended:
        Lambda's END line of the request that logged that event."""
        lines = self.log_lines(self.outputs["sweep_function_name"])
        requests = set()
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            event = entry.get("message") if isinstance(entry, dict) else None
            if isinstance(event, dict) and event.get("time") == scheduled_time:
                requests.add(entry.get("function_request_id"))
        return any(line.startswith(f"END RequestId: {r}") for r in requests for line in lines)

    def log_lines(self, function_name: str) -> list[str]:
        """Every line the function has logged, oldest stream first."""
        logs, group = self.client("logs"), f"/aws/lambda/{function_name}"
        try:
            streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        return [
            event["message"]
            for stream in streams
            for event in logs.get_log_events(
                logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True
            )["events"]
        ]

    # What happened
    def timeline(self, execution_arn: str, notifications: list[dict[str, Any]]) -> list[Event]:
        """Request, notification, decisions, callback and final state, in time order."""
        events: list[Event] = []
        history = self.client("stepfunctions").get_execution_history(executionArn=execution_arn)
        last_state = ""
        for entry in history["events"]:
            kind, at = entry["type"], entry["timestamp"]
            if kind == "ExecutionStarted":
                request = json.loads(entry["executionStartedEventDetails"]["input"])
                events.append(Event(at, "request", _describe_request(request)))
            elif kind == "TaskSucceeded":
                output = json.loads(entry["taskSucceededEventDetails"]["output"])
                events.append(Event(at, "callback", f"SendTaskSuccess: {output['decision']}"))
            elif kind == "TaskFailed":
                details = entry["taskFailedEventDetails"]
                events.append(Event(at, "callback", f"SendTaskFailure: {details.get('error')}"))
            elif kind.endswith("StateEntered"):
                last_state = entry["stateEnteredEventDetails"]["name"]
            elif kind in (
                "ExecutionSucceeded",
                "ExecutionFailed",
                "ExecutionTimedOut",
                "ExecutionAborted",
            ):
                status = kind.removeprefix("Execution").upper()
                events.append(Event(at, "final state", f"{last_state} ({status})"))
        for record in self.records_of(execution_arn):
            automation_id = record.get("automation_execution_id", "")
            for message in notifications:
                body = json.loads(message["Body"])
                if automation_id and automation_id in body.get("Message", ""):
                    sent = int(message["Attributes"]["SentTimestamp"]) / 1000
                    events.append(
                        Event(_utc(sent), "notification", f"SNS: {body.get('Subject', '')}")
                    )
            events += self._decisions(automation_id)
            if record.get("status") == "CLOSED":
                status = self.client("ssm").get_automation_execution(
                    AutomationExecutionId=automation_id
                )["AutomationExecution"]["AutomationExecutionStatus"]
                events.append(
                    Event(
                        datetime.fromisoformat(record["updated_at"]),
                        "closed",
                        f"workflow {record['closed_reason']}: approval closed, automation {status}",
                    )
                )
        return sorted(events, key=lambda event: event.at)

    def _decisions(self, automation_id: str) -> list[Event]:
        if not automation_id:
            return []
        execution = self.client("ssm").get_automation_execution(
            AutomationExecutionId=automation_id
        )["AutomationExecution"]
        found = []
        for step in execution.get("StepExecutions", []):
            for raw in step.get("Outputs", {}).get("ApproverDecisions", []):
                decision = json.loads(raw) if isinstance(raw, str) else raw
                at = datetime.fromisoformat(decision["ApprovalDecisionTime"].replace("Z", "+00:00"))
                comment = f' "{decision["Comment"]}"' if decision.get("Comment") else ""
                who = decision["Approver"].rsplit("/", 1)[-1]
                found.append(Event(at, "decision", f"{who}: {decision['Decision']}{comment}"))
        return found


def _describe_request(request: dict[str, Any]) -> str:
    approvers = ", ".join(a.rsplit("/", 1)[-1] for a in request.get("approvers", [])) or "defaults"
    message = request.get("message") or request.get("confirmation_file", "")
    return f'"{message}" to {approvers} (quorum {request.get("min_required_approvals", 1)})'


def _utc(epoch: float) -> datetime:
    from datetime import UTC

    return datetime.fromtimestamp(epoch, UTC)


def _rate_seconds(expression: str) -> int:
    """`rate(N minute(s)|hour(s)|day(s))` in seconds (the gate's sweep schedule is a rate)."""
    value, unit = expression.removeprefix("rate(").removesuffix(")").split()
    return int(value) * {"minute": 60, "hour": 3600, "day": 86400}[unit.rstrip("s")]


def wait_for(probe: Any, timeout: float, failure: str) -> Any:
    """`probe()`'s first truthy result, polled every 0.2 s; TimeoutError after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(0.2)
    raise TimeoutError(f"{failure} after {timeout:.0f} s")
