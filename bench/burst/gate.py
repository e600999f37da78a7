"""The gate deployed in the local AWS, as the bench sees it: clients shared by its threads, and
what the local AWS lists (automations, approval records, executions, histories)."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

from sandbox.server import LocalAws
from scripts.local_gate import FAKE_KEYS, LocalGate


class BurstGate(LocalGate):
    """LocalGate whose boto3 clients are made once and shared by every thread.

    boto3 clients are thread-safe, but making them from many threads at once is not (one
    default session), and each costs tens of milliseconds of CPU in this process, which is
    also the local AWS's: LocalGate makes a new client per call. The connection pool is as
    large as the thread pool. (A cache like this one could live in LocalGate itself.)
    """

    def __init__(self, aws: LocalAws, connections: int, **kwargs: Any):
        super().__init__(aws, **kwargs)
        self._session = boto3.session.Session()
        # No hidden retries: a call the local AWS fails shows up as an error of the bench.
        self._config = Config(max_pool_connections=connections, retries={"total_max_attempts": 1})
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._clients_lock = threading.Lock()

    def client(self, service: str, approver: str | None = None) -> Any:
        with self._clients_lock:
            client = self._clients.get((service, approver))
            if client is None:
                keys = dict(FAKE_KEYS)
                if approver:
                    person = self.approvers[approver]
                    keys = {
                        "aws_access_key_id": person.access_key_id,
                        "aws_secret_access_key": person.secret_access_key,
                    }
                client = self._session.client(
                    service,
                    endpoint_url=self.aws.endpoint,
                    region_name=self.aws.region,
                    config=self._config,
                    **keys,
                )
                self._clients[service, approver] = client
            return client


def waiting_automations(gate: BurstGate) -> set[str]:
    paginator = gate.client("ssm").get_paginator("describe_automation_executions")
    filters = [
        {"Key": "DocumentNamePrefix", "Values": [gate.outputs["document_name"]]},
        {"Key": "ExecutionStatus", "Values": ["Waiting"]},
    ]
    return {
        item["AutomationExecutionId"]
        for page in paginator.paginate(Filters=filters)
        for item in page["AutomationExecutionMetadataList"]
    }


def all_automations(gate: BurstGate) -> list[dict[str, Any]]:
    paginator = gate.client("ssm").get_paginator("describe_automation_executions")
    filters = [{"Key": "DocumentNamePrefix", "Values": [gate.outputs["document_name"]]}]
    return [
        item
        for page in paginator.paginate(Filters=filters)
        for item in page["AutomationExecutionMetadataList"]
    ]


RECORD_FIELDS = (
    "approval_id",
    "execution_arn",
    "automation_execution_id",
    "status",
    "outcome",
    "callback",
    "callback_error",
    "closed_reason",
    "decided_at",
    "updated_at",
)


def approval_records(gate: BurstGate) -> list[dict[str, Any]]:
    """Every approval record, without its task token (a scan: one call, not one per record)."""
    names = {f"#f{i}": name for i, name in enumerate(RECORD_FIELDS)}
    paginator = gate.client("dynamodb").get_paginator("scan")
    pages = paginator.paginate(
        TableName=gate.outputs["approvals_table_name"],
        FilterExpression="begins_with(pk, :prefix)",
        ProjectionExpression=", ".join(names),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={":prefix": {"S": "approval#"}},
    )
    return [
        {name: next(iter(value.values())) for name, value in item.items()}
        for page in pages
        for item in page["Items"]
    ]


def executions(gate: BurstGate) -> list[dict[str, Any]]:
    paginator = gate.client("stepfunctions").get_paginator("list_executions")
    return [
        item
        for page in paginator.paginate(stateMachineArn=gate.outputs["state_machine_arn"])
        for item in page["executions"]
    ]


def history(gate: BurstGate, execution_arn: str) -> list[dict[str, Any]]:
    paginator = gate.client("stepfunctions").get_paginator("get_execution_history")
    return [e for page in paginator.paginate(executionArn=execution_arn) for e in page["events"]]


def execution_name(execution_arn: str) -> str:
    return execution_arn.rsplit(":", 1)[-1]
