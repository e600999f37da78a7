"""The gate deployed in the local AWS, as the bench sees it: clients shared by its threads,
what the local AWS lists (automations, approval records, executions, histories), and its
SSM API rates (settings, calls refused) and call counts."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import boto3
from botocore.config import Config

from sandbox.server import LocalAws
from sandbox.ssm.rate_quotas import LIMITS, RATE_SETTINGS
from scripts.local_gate import FAKE_KEYS, LocalGate

# The gate's functions: label -> the local example's output naming the function.
FUNCTIONS = {
    "start_approval": "start_approval_function_name",
    "receive_result": "receive_result_function_name",
    "sweep_approvals": "sweep_function_name",
    "close_approvals": "close_approvals_function_name",
}
# The functions' variable holding the SSM rates they pace their calls to (approval_core.pacing,
# RATES_VARIABLE; empty: not paced). The module sets it from ssm_api_rate_quotas.
PACING_VARIABLE = "SSM_API_RATES"


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
                key_id, secret = FAKE_KEYS["aws_access_key_id"], FAKE_KEYS["aws_secret_access_key"]
                if approver:
                    person = self.approvers[approver]
                    key_id, secret = person.access_key_id, person.secret_access_key
                client = self._session.client(
                    service,  # type: ignore[call-overload]  # any service, by name
                    endpoint_url=self.aws.endpoint,
                    region_name=self.aws.region,
                    config=self._config,
                    aws_access_key_id=key_id,
                    aws_secret_access_key=secret,
                )
                self._clients[service, approver] = client
            return client


# AWS's figures (the local AWS's defaults): action -> calls per second.
AWS_SSM_RATES: dict[str, int | None] = {
    action: next(limit.default for limit in LIMITS if limit.name == setting)
    for action, setting in RATE_SETTINGS.items()
}


def ssm_rates(aws: LocalAws) -> dict[str, int | None]:
    """The local AWS's SSM API rates in effect: action -> calls per second (None: lifted)."""
    settings = aws.api("/moto-api/sandbox/settings", method="GET")["sandbox"]
    return {action: settings[name] for action, name in RATE_SETTINGS.items()}


def set_ssm_rates(aws: LocalAws, rates: dict[str, int | None]) -> None:
    """Sets the rates of the actions named (action -> calls per second, None: lifted)."""
    aws.api(
        "/moto-api/sandbox/settings",
        {"sandbox": {RATE_SETTINGS[action]: rate for action, rate in rates.items()}},
    )


def ssm_throttled(aws: LocalAws) -> Counter[str]:
    """The SSM calls the local AWS refused for its rates so far, by action."""
    return Counter(aws.api("/moto-api/sandbox/ssm/throttled", method="GET")["throttled"])


def call_counts(aws: LocalAws) -> Counter[tuple[str, str, str]]:
    """Every call the local AWS received so far: (caller, service, action) -> count."""
    counted: Counter[tuple[str, str, str]] = Counter()
    for call in aws.api("/moto-api/sandbox/calls", method="GET")["calls"]:
        counted[call["caller"], call["service"], call["action"]] += call["count"]
    return counted


def lift_pacing(gate: BurstGate) -> list[str]:
    """Every function of the gate without its SSM pacing: its pacing variable emptied, a
    version published with it and its aliases moved to that version. The functions changed."""
    lam = gate.client("lambda")
    changed = []
    for output in FUNCTIONS.values():
        name = gate.outputs[output]
        variables = (
            lam.get_function_configuration(FunctionName=name)
            .get("Environment", {})
            .get("Variables", {})
        )
        if not variables.get(PACING_VARIABLE):
            continue
        lam.update_function_configuration(
            FunctionName=name, Environment={"Variables": variables | {PACING_VARIABLE: ""}}
        )
        version = lam.publish_version(FunctionName=name)["Version"]
        for alias in lam.list_aliases(FunctionName=name)["Aliases"]:
            lam.update_alias(FunctionName=name, Name=alias["Name"], FunctionVersion=version)
        changed.append(name)
    return changed


def set_sweep_schedule(gate: BurstGate, enabled: bool) -> None:
    """Enables or disables the rule that runs the sweep on its schedule."""
    events = gate.client("events")
    name = gate.outputs["sweep_rule_name"]
    if enabled:
        events.enable_rule(Name=name)
    else:
        events.disable_rule(Name=name)


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
