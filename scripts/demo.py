"""`make demo`: the whole approval gate on this machine, with no AWS account.

Starts the local AWS (moto + sandbox/) on 127.0.0.1, deploys terraform/examples/local
with Terraform, starts three workflows, approves one and rejects another as configured
approvers (with comments), stops the third while its approval waits (the approval is closed
and its automation cancelled), prints what happened to each, then destroys and stops.
A failure says which step failed and why.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from sandbox.server import LocalAws
from scripts.local_gate import LocalGate, wait_for

STEPS = 7


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


def run() -> None:
    with LocalAws(port=0) as aws:
        print(f"Local AWS at {aws.endpoint}")
        gate = LocalGate(aws)
        try:
            step(1, "terraform apply terraform/examples/local", gate.deploy)
            requests = {
                "approved": {
                    "message": "Deploy release 42 to production?",
                    "approvers": [gate.principal_arn("alice"), gate.principal_arn("bob")],
                    "min_required_approvals": 1,
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
            automations = step(
                3,
                "wait until the three approvals wait for approvers",
                lambda: {name: gate.automation_of(arn) for name, arn in executions.items()},
            )
            step(
                4,
                "alice approves one, bob rejects another, the third workflow is stopped",
                lambda: (
                    gate.decide("alice", automations["approved"], "Approve", "Looks good, ship it"),
                    gate.decide("bob", automations["rejected"], "Reject", "Not before the freeze"),
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
            notifications = gate.notifications()
            for name, arn in executions.items():
                print(f"\nWorkflow demo-{name}: {finals[name]['status']}")
                for event in gate.timeline(arn, notifications):
                    print(f"  {event.at:%H:%M:%S.%f}"[:-3] + f"  {event.step:<13} {event.what}")
            outcome = {name: finals[name]["status"] for name in executions}
            if outcome != {"approved": "SUCCEEDED", "rejected": "SUCCEEDED", "stopped": "ABORTED"}:
                raise StepFailed(f"step 5: unexpected final states {outcome}")
            print()
        finally:
            if gate.outputs:
                step(6, "terraform destroy", gate.destroy)
        print(f"[7/{STEPS}] stop the local AWS")


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
