"""`approvals policy`: the IAM policy each kind of user needs for the commands they run,
for this deployment (attach it beside the module's `approver_policy_json`)."""

from __future__ import annotations

from typing import Any

from approvals_cli.deployment import Deployment
from approvals_cli.errors import CliError, ExitCode
from approvals_cli.records import ATTRIBUTES, EXECUTION_INDEX, STATUS_INDEX

# The records are read by projection, never their task token: IAM holds every read to these
# attributes (docs/aws-behaviour.md#dynamodb-fine-grained-access).
_WITHOUT_TOKEN = {
    "ForAllValues:StringEquals": {"dynamodb:Attributes": ["pk", *ATTRIBUTES]},
    "StringEqualsIfExists": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"},
}

ROLES = ("approver", "owner", "operator")


def policy(deployment: Deployment, role: str) -> dict[str, Any]:
    table, document, machine = deployment.require(
        "approvals_table_name", "document_name", "state_machine_arn"
    )
    _, partition, _, region, account, _ = machine.split(":", 5)
    prefix = f"arn:{partition}"
    table_arn = f"{prefix}:dynamodb:{region}:{account}:table/{table}"
    automations = f"{prefix}:ssm:{region}:{account}:automation-execution/*"
    executions = machine.replace(":stateMachine:", ":execution:") + ":*"
    statements: list[dict[str, Any]] = [
        _allow("ReadApprovalRecords", ["dynamodb:GetItem"], [table_arn], _WITHOUT_TOKEN),
        _allow(
            "ListApprovals",
            ["dynamodb:Query"],
            [f"{table_arn}/index/{STATUS_INDEX}", f"{table_arn}/index/{EXECUTION_INDEX}"],
            _WITHOUT_TOKEN,
        ),
        _allow("ReadApprovalAutomations", ["ssm:GetAutomationExecution"], [automations]),
        _allow(
            "ReadApprovalDocument",
            ["ssm:GetDocument"],
            [f"{prefix}:ssm:{region}:{account}:document/{document}"],
        ),
        _allow("ReadWorkflows", ["states:DescribeExecution"], [executions]),
        # X-Ray's read actions have no resource type: AWS requires "*".
        _allow("ReadTraces", ["xray:GetTraceSummaries", "xray:BatchGetTraces"], ["*"]),
    ]
    if role == "approver":
        statements.append(_allow("DecideApprovals", ["ssm:SendAutomationSignal"], [automations]))
    if role in ("owner", "operator"):
        statements.append(
            _allow("WithdrawApprovals", ["ssm:StopAutomationExecution"], [automations])
        )
    if role == "operator":
        statements += _operator(deployment, prefix, region, account)
    if role not in ROLES:
        raise CliError(f"no policy for {role!r}: one of {', '.join(ROLES)}", ExitCode.USAGE)
    return {"Version": "2012-10-17", "Statement": statements}


def _operator(
    deployment: Deployment, prefix: str, region: str, account: str
) -> list[dict[str, Any]]:
    statements = []
    functions = [
        deployment.get(name)
        for name in ("receive_result_alias_arn", "close_approvals_alias_arn")
        if deployment.get(name)
    ]
    names = [
        deployment.get(name)
        for name in (
            "start_approval_function_name",
            "receive_result_function_name",
            "sweep_function_name",
            "close_approvals_function_name",
        )
        if deployment.get(name)
    ]
    function_arns = [f"{prefix}:lambda:{region}:{account}:function:{n}" for n in names]
    statements.append(
        _allow(
            "RunSweepAndRedrive",
            ["lambda:InvokeFunction"],
            [*(str(f) for f in functions), *(f"{arn}:*" for arn in function_arns)],
        )
    )
    statements.append(
        _allow(
            "CheckFunctions",
            ["lambda:GetAlias"],
            [*function_arns, *(f"{a}:*" for a in function_arns)],
        )
    )
    queue = deployment.get("dead_letter_queue_url")
    if queue:
        name = queue.rstrip("/").rsplit("/", 1)[-1]
        statements.append(
            _allow(
                "ReadAndRedriveDeadLetters",
                [
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes",
                ],
                [f"{prefix}:sqs:{region}:{account}:{name}"],
            )
        )
    rules = [
        deployment.get(name)
        for name in ("event_rule_name", "sweep_rule_name", "workflow_ended_rule_name")
        if deployment.get(name)
    ]
    if rules:
        statements.append(
            _allow(
                "CheckRules",
                ["events:DescribeRule"],
                # A rule of the default bus is rule/NAME; the local AWS writes rule/default/NAME.
                [
                    arn
                    for rule in rules
                    for arn in (
                        f"{prefix}:events:{region}:{account}:rule/{rule}",
                        f"{prefix}:events:{region}:{account}:rule/*/{rule}",
                    )
                ],
            )
        )
    # CloudWatch's DescribeAlarms has no resource type: AWS requires "*".
    statements.append(_allow("CheckAlarms", ["cloudwatch:DescribeAlarms"], ["*"]))
    return statements


def _allow(
    sid: str,
    actions: list[str],
    resources: list[str],
    condition: dict[str, Any] | None = None,
) -> dict[str, Any]:
    statement = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
    return statement | ({"Condition": condition} if condition else {})
