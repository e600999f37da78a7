"""`make demo`: the whole approval gate on this machine, with no AWS account.

Starts the local AWS (moto + sandbox/) on 127.0.0.1, deploys terraform/examples/local
with Terraform, starts three workflows; then the approvers use the `approvals` command line
(cli/) as a person would, with their own IAM users' keys: the first approval has two stages
(change, then security): alice lists what waits for her and approves its first stage, then
carol, asked only then, approves the second; bob rejects another (with comments); the third
workflow is stopped while its approval waits (the approval is closed and its automation
cancelled); `approvals show` tells what happened to each, stage by stage. Every command and
its output is printed. Then it destroys and stops.
A failure says which step failed and why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox.server import LocalAws
from scripts.local_gate import LocalGate, wait_for

STEPS = 8


class StepFailed(Exception):
    pass


def step(number: int, title: str, action: Callable[[], Any]) -> Any:
    started = time.monotonic()
    print(f"[{number}/{STEPS}] {title} ...", flush=True)
    try:
        result = action()
    except Exception as error:  # every failure is reported with its step
        raise StepFailed(f"step {number} ({title}) failed: {error}") from error
    print(f"      done in {time.monotonic() - started:.1f} s", flush=True)
    return result


class Approvals:
    """The `approvals` command as each person runs it: their own keys, the gate's outputs as
    its config file (`terraform output -json`), the local AWS as AWS_ENDPOINT_URL."""

    def __init__(self, gate: LocalGate, home: Path):
        self.gate = gate
        self.home = home
        config = home / "gate.json"
        config.write_text(json.dumps(gate.outputs))
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "AWS_ENDPOINT_URL": gate.aws.endpoint,
            "AWS_REGION": gate.aws.region,
            "APPROVALS_CONFIG": str(config),
            "COLUMNS": "150",
        }
        # The approvers' read access for the command (README, "Approvers").
        policy = self.run(None, "policy", "approver", show=False)
        for name in gate.approvers:
            gate.client("iam").put_user_policy(
                UserName=name, PolicyName="approvals-cli", PolicyDocument=policy
            )

    def run(self, user: str | None, *args: str, show: bool = True) -> str:
        keys = {"AWS_ACCESS_KEY_ID": "LOCALADMINKEY0000000", "AWS_SECRET_ACCESS_KEY": "local-admin"}
        if user:
            person = self.gate.approvers[user]
            keys = {
                "AWS_ACCESS_KEY_ID": person.access_key_id,
                "AWS_SECRET_ACCESS_KEY": person.secret_access_key,
            }
        done = subprocess.run(
            [sys.executable, "-m", "approvals_cli", *args],
            env=self.env | keys,
            capture_output=True,
            text=True,
            check=False,
        )
        if show:
            print(f"\n{user or 'operator'}$ approvals {' '.join(_quoted(a) for a in args)}")
            print("\n".join("  " + line for line in done.stdout.rstrip().splitlines()))
        if done.returncode != 0:
            raise RuntimeError(
                f"approvals {' '.join(args)} exited {done.returncode}: {done.stderr}"
            )
        return done.stdout


def _quoted(arg: str) -> str:
    return f'"{arg}"' if " " in arg else arg


def run() -> None:
    with LocalAws(port=0) as aws, tempfile.TemporaryDirectory() as home:
        print(f"Local AWS at {aws.endpoint}")
        gate = LocalGate(aws)
        try:
            step(1, "terraform apply terraform/examples/local", gate.deploy)
            requests = {
                "approved": {
                    "message": "Deploy release 42 to production?",
                    "stages": [
                        {
                            "name": "change",
                            "approvers": [gate.principal_arn("alice"), gate.principal_arn("bob")],
                            "min_required_approvals": 1,
                        },
                        {"name": "security", "approvers": [gate.principal_arn("carol")]},
                    ],
                },
                "rejected": {
                    "confirmation_url": "https://example.com/releases/43",
                    "confirmation_file": "changes.txt",
                    "approvers": [gate.principal_arn("bob")],
                },
                "stopped": {
                    "message": "Rotate the database credentials?",
                    "approvers": [gate.principal_arn("carol")],
                },
            }
            executions = step(
                2,
                "start three workflows",
                lambda: {
                    name: gate.start(body, name=f"demo-{name}") for name, body in requests.items()
                },
            )
            step(
                3,
                "wait until the three approvals wait for approvers",
                lambda: {name: gate.automation_of(arn) for name, arn in executions.items()},
            )
            approvals = Approvals(gate, Path(home))
            step(
                4,
                "alice approves stage 1 of one, then carol stage 2; bob rejects another; the "
                "third workflow is stopped",
                lambda: (
                    approvals.run("alice", "list", "--mine"),
                    approvals.run("alice", "approve", "demo-approved", "-m", "Change board: go"),
                    wait_for(
                        lambda: gate.records_of(executions["approved"])[0].get("stage_index"),
                        30,
                        "stage 2 of demo-approved was not asked",
                    ),
                    approvals.run("carol", "list", "--mine"),
                    approvals.run("carol", "approve", "demo-approved", "-m", "Security: fine"),
                    approvals.run("bob", "reject", "demo-rejected", "-m", "Not before the freeze"),
                    gate.client("stepfunctions").stop_execution(
                        executionArn=executions["stopped"], cause="Change withdrawn"
                    ),
                ),
            )
            finals = step(
                5,
                "wait for the workflows to finish and the stopped one's approval to close",
                lambda: (
                    wait_for(
                        lambda: all(
                            r.get("status") == "CLOSED"
                            for r in gate.records_of(executions["stopped"])
                        ),
                        30,
                        "the stopped workflow's approval was not closed",
                    ),
                    {name: gate.finished(arn) for name, arn in executions.items()},
                )[1],
            )
            step(
                6,
                "what happened: approvals show, approvals list --all",
                lambda: (
                    [approvals.run("bob", "show", f"demo-{name}") for name in executions],
                    approvals.run(None, "list", "--all"),
                ),
            )
            for name in executions:
                print(f"Workflow demo-{name}: {finals[name]['status']}")
            outcome = {name: finals[name]["status"] for name in executions}
            if outcome != {"approved": "SUCCEEDED", "rejected": "SUCCEEDED", "stopped": "ABORTED"}:
                raise StepFailed(f"step 5: unexpected final states {outcome}")
            print()
        finally:
            if gate.outputs:
                step(7, "terraform destroy", gate.destroy)
        print(f"[8/{STEPS}] stop the local AWS")


def main() -> int:
    started = time.monotonic()
    try:
        run()
    except StepFailed as error:
        print(f"\ndemo failed: {error}", file=sys.stderr)
        return 1
    print(f"Demo finished in {time.monotonic() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
