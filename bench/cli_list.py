"""`approvals list` over 1,000 pending approvals: the time it answers in, and its AWS calls.

    make package
    .venv/bin/python -m bench.cli_list [--approvals 1000] [--runs 3] [--goal 2.0]

Starts the local AWS (127.0.0.1, a free port; IAM on, SSM's API rates at AWS's figures),
deploys terraform/examples/local with scripts/local_gate.py's LocalGate, and writes N pending
approval records into the records table as start_approval writes them (the request's
message, approvers and quorum included; 25 per BatchWriteItem, as the deployer). Then, as an
approver (an IAM user with the module's approver policy and `approvals policy approver`), it
runs the installed command the way a person does, in a process of its own, `--runs` times
each: `approvals list` (the table of the newest 50, what a person sees), `approvals list
--limit 0` and `approvals --json list --limit 0` (all N), `approvals list --mine`. For each it
prints the wall time of the whole command (Python's start included) and the AWS calls the
approver made (/moto-api/sandbox/calls, cleared before each run). Fails (exit 1) when the
slowest list takes longer than `--goal` seconds or lists fewer than it should; prints the
machine's load average (the local AWS and the command share its CPUs with whatever else
runs). Destroys the deployment and stops the local AWS at the end. Results:
docs/benchmarks.md, "`approvals list` over 1,000 pending approvals".
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.server import LocalAws
from scripts.local_gate import LocalGate

COMMANDS = {
    "approvals list": ["list"],  # what a person sees: the newest 50
    "approvals list --limit 0": ["list", "--limit", "0"],  # all of them
    "approvals --json list --limit 0": ["--json", "list", "--limit", "0"],
    "approvals list --mine": ["list", "--mine"],
}
# What the goal applies to, and how many each must list.
GOALS = {
    "approvals list": 50,
    "approvals list --limit 0": None,  # None: every approval written
    "approvals --json list --limit 0": None,
}


def seed(gate: LocalGate, count: int) -> None:
    """`count` PENDING records, one a second apart, newest now; half ask alice."""
    dynamodb = gate.client("dynamodb")
    table = gate.outputs["approvals_table_name"]
    machine = gate.outputs["state_machine_arn"].replace(":stateMachine:", ":execution:")
    now = int(time.time())
    items = []
    for n in range(count):
        approval_id = str(uuid.uuid4())
        epoch = now - n
        approvers = ["alice", "bob"] if n % 2 else ["carol"]
        at = datetime.fromtimestamp(epoch, UTC).isoformat()
        items.append(
            {
                "pk": {"S": f"approval#{approval_id}"},
                "approval_id": {"S": approval_id},
                "task_token": {"S": "t" * 600},  # a token's size; never read by the CLI
                "execution_arn": {"S": f"{machine}:bench-{n:04d}"},
                "state_name": {"S": "RequestApproval"},
                "state_entered_time": {"S": at},
                "requested_at": {"S": at},
                "requested_epoch": {"N": str(epoch)},
                "expiration": {"N": str(epoch + 3600 + 30 * 86400)},
                "status": {"S": "PENDING"},
                "awaiting": {"S": "decision"},
                "automation_execution_id": {"S": str(uuid.uuid4())},
                "updated_at": {"S": at},
                "message": {"S": f"Deploy release {n} to production? " + "Details. " * 10},
                "approvers": {"L": [{"S": gate.principal_arn(a)} for a in approvers]},
                "min_required_approvals": {"N": "1"},
            }
        )
    for start in range(0, len(items), 25):
        batch = {table: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]}
        while batch:
            batch = dynamodb.batch_write_item(RequestItems=batch).get("UnprocessedItems") or {}


def approver(gate: LocalGate, home: Path) -> dict[str, str]:
    """alice's environment for the command, with the CLI's read policy added to hers."""
    person = gate.approvers["alice"]
    config = home / "gate.json"
    config.write_text(json.dumps(gate.outputs))
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "AWS_ENDPOINT_URL": gate.aws.endpoint,
        "AWS_REGION": gate.aws.region,
        "APPROVALS_CONFIG": str(config),
        "COLUMNS": "200",
    }
    admin = env | {
        "AWS_ACCESS_KEY_ID": "LOCALADMINKEY0000000",
        "AWS_SECRET_ACCESS_KEY": "local-admin",
    }
    policy = run(admin, ["policy", "approver"])[1]
    gate.client("iam").put_user_policy(
        UserName="alice", PolicyName="approvals-cli", PolicyDocument=policy
    )
    return env | {
        "AWS_ACCESS_KEY_ID": person.access_key_id,
        "AWS_SECRET_ACCESS_KEY": person.secret_access_key,
    }


def run(env: dict[str, str], args: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "approvals_cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"approvals {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return took, done.stdout


def calls_by(aws: LocalAws, caller: str) -> dict[str, int]:
    counted: dict[str, int] = {}
    for entry in aws.api("/moto-api/sandbox/calls", method="GET")["calls"]:
        if entry["caller"] == caller:
            key = f"{entry['service']}:{entry['action']}"
            counted[key] = counted.get(key, 0) + entry["count"]
    return counted


def measure(aws: LocalAws, gate: LocalGate, env: dict[str, str], runs: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    alice = gate.principal_arn("alice")
    for name, args in COMMANDS.items():
        times, calls, listed = [], {}, 0
        for _ in range(runs):
            aws.api("/moto-api/sandbox/calls", method="DELETE")
            took, out = run(env, args)
            times.append(took)
            calls = calls_by(aws, alice)
            listed = len(json.loads(out)) if "--json" in args else _rows(out)
        results[name] = {"seconds": times, "calls": calls, "listed": listed}
        print(
            f"{name:<24} {min(times):5.2f} s best, {max(times):5.2f} s worst of {runs}; "
            f"{listed} listed; {sum(calls.values())} AWS calls: "
            + ", ".join(f"{k} {v}" for k, v in sorted(calls.items())),
            flush=True,
        )
    return results


def _rows(table: str) -> int:
    """The count `approvals list` prints last: "N approval(s)"."""
    return int(table.strip().splitlines()[-1].split()[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--approvals", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--goal", type=float, default=2.0, help="seconds, the slowest list")
    options = parser.parse_args(argv)
    with LocalAws(port=0) as aws, tempfile.TemporaryDirectory() as home:
        gate = LocalGate(aws, state=Path(home) / "terraform.tfstate")
        started = time.perf_counter()
        gate.deploy()
        try:
            print(f"deployed in {time.perf_counter() - started:.0f} s", flush=True)
            started = time.perf_counter()
            seed(gate, options.approvals)
            print(
                f"{options.approvals} pending approvals written in "
                f"{time.perf_counter() - started:.1f} s",
                flush=True,
            )
            results = measure(aws, gate, approver(gate, Path(home)), options.runs)
        finally:
            gate.destroy()
    slowest = max(max(results[name]["seconds"]) for name in GOALS)
    complete = all(
        results[name]["listed"] == (count or options.approvals) for name, count in GOALS.items()
    )
    verdict = "PASSED" if slowest <= options.goal and complete else "FAILED"
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"{verdict}: slowest `approvals list` {slowest:.2f} s (goal {options.goal:.1f} s); "
        f"{'every list complete' if complete else 'a list came short'}; load average {load} "
        f"on {os.cpu_count()} CPUs"
    )
    return 0 if verdict == "PASSED" else 1


if __name__ == "__main__":
    sys.exit(main())
