"""The deployed gate (its Terraform outputs) and the account, checked before the probe
changes anything."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

REPO = Path(__file__).resolve().parents[2]
DEFAULT_EXAMPLE = REPO / "terraform" / "examples" / "aws"
# Outputs the probe cannot do without; the others it reads where present.
REQUIRED_OUTPUTS = ("state_machine_arn", "document_name")

# What the identity running the probe needs (README "Check a real AWS account").
PROBE_PERMISSIONS = (
    "sts:GetCallerIdentity",
    "states:StartExecution, states:DescribeExecution, states:StopExecution "
    "on the gate's state machine and its executions",
    "ssm:DescribeAutomationExecutions, ssm:GetAutomationExecution, "
    "ssm:StartAutomationExecution, ssm:StopAutomationExecution, ssm:SendAutomationSignal",
    "ssm:GetDocument on the gate's document; ssm:CreateDocument, ssm:DeleteDocument on "
    "document/approval-probe-* (the expiry check's short-timeout copy)",
    "iam:PassRole of the gate's automation role to ssm.amazonaws.com",
    "iam:CreateRole, iam:PutRolePolicy, iam:DeleteRolePolicy, iam:DeleteRole, "
    "iam:TagRole on role/approval-probe-* and role/approval-probe/approval-probe-*; "
    "sts:AssumeRole on those roles",
)


@dataclass
class Account:
    """Who runs the probe, where, and its boto3 clients."""

    session: boto3.Session
    region: str
    endpoint: str | None
    account_id: str = ""
    caller_arn: str = ""
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(
                service,
                region_name=self.region,
                endpoint_url=self.endpoint,
                # Standard retries ride out SSM's 1-3 TPS API quotas.
                config=Config(retries={"mode": "standard", "max_attempts": 8}),
            )
        return self._clients[service]


@dataclass(frozen=True)
class Preflight:
    """What was found; `problems` non-empty means the probe must not run."""

    outputs: dict[str, Any]
    account: Account | None
    problems: tuple[str, ...]


def read_outputs(example: Path, state: Path | None = None) -> tuple[dict[str, Any], str]:
    """The root module's outputs, and where they came from (or why there are none).

    A local state file is read directly (no Terraform needed); a module with a remote
    backend is asked with `terraform output -json`."""
    state_file = state or example / "terraform.tfstate"
    if state_file.exists():
        try:
            outputs = json.loads(state_file.read_text()).get("outputs", {})
        except ValueError as error:
            return {}, f"{state_file} is not a Terraform state ({error})"
        return {name: value.get("value") for name, value in outputs.items()}, str(state_file)
    if state is not None:
        return {}, f"the state file {state} does not exist"
    if not (example / ".terraform").is_dir():
        return {}, f"{example} has no Terraform state (never initialised or applied)"
    return _terraform_outputs(example)


def _terraform_outputs(example: Path) -> tuple[dict[str, Any], str]:
    from scripts.terraform_env import TerraformEnvError, setup

    try:
        found = setup(check_registry=False)
    except TerraformEnvError as error:
        return {}, f"cannot run `terraform output` in {example}: {error}"
    import os

    completed = subprocess.run(
        [found.terraform, f"-chdir={example}", "output", "-json"],
        capture_output=True,
        text=True,
        env={**os.environ, **found.env},
        check=False,
        timeout=120,
    )
    if completed.returncode != 0:
        return {}, f"`terraform output -json` in {example} failed: {completed.stderr.strip()}"
    outputs = json.loads(completed.stdout or "{}")
    values = {name: value.get("value") for name, value in outputs.items()}
    return values, f"terraform output ({example})"


def region_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else None


def preflight(example: Path, state: Path | None, endpoint: str | None) -> Preflight:
    """Everything the probe needs, checked without changing anything."""
    problems: list[str] = []
    outputs, source = read_outputs(example, state)
    missing = [name for name in REQUIRED_OUTPUTS if not outputs.get(name)]
    if missing:
        problems.append(
            f"the approval gate is not deployed ({source}; missing outputs: "
            f"{', '.join(missing)}): run `make deploy EXAMPLE=aws` first (or point --example "
            "at your own root module that calls terraform/modules/approval_gate, or --state "
            "at its state file)."
        )
    session = boto3.Session()
    region = region_of(str(outputs.get("state_machine_arn", ""))) or session.region_name
    account: Account | None = None
    if session.get_credentials() is None:
        problems.append(
            "no AWS credentials: set them with `aws configure` / `aws sso login` and "
            "AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and "
            "AWS_SESSION_TOKEN), for the account the gate is deployed in."
        )
    elif not region:
        problems.append("no AWS Region: set AWS_REGION (or deploy the gate first).")
    else:
        account = Account(session, region, endpoint)
        try:
            identity = account.client("sts").get_caller_identity()
        except (ClientError, BotoCoreError) as error:
            problems.append(
                f"STS GetCallerIdentity failed with these credentials ({error}): renew them "
                "(`aws sso login`, a new session token) or pick another AWS_PROFILE."
            )
            account = None
        else:
            account.account_id = identity["Account"]
            account.caller_arn = identity["Arn"]
    return Preflight(outputs, account, tuple(problems))


def refusal(problems: tuple[str, ...]) -> str:
    """What to print when the probe cannot run: every problem and everything it needs."""
    lines = ["verify-aws cannot run, nothing was changed:"]
    lines += [f"  - {problem}" for problem in problems]
    lines += [
        "",
        "It needs:",
        "  1. AWS credentials for the account and Region the gate is deployed in "
        "(AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY[/AWS_SESSION_TOKEN]);",
        "  2. the aws example deployed: `make deploy EXAMPLE=aws` (its Terraform outputs are "
        "read from terraform/examples/aws, or --example DIR / --state FILE);",
        "  3. these IAM permissions for the identity that runs it:",
    ]
    lines += [f"       {permission}" for permission in PROBE_PERMISSIONS]
    return "\n".join(lines)
