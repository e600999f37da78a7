"""`make verify-aws`: which variant of each undocumented SSM behaviour a real account shows.

    python -m scripts.verify_aws [--example DIR | --state FILE] [--endpoint URL]
                                 [--out FILE] [--timeout SECONDS] [--scenarios a,b,...]

It drives the deployed gate (terraform/examples/aws by default) with approvers of its own
(short-lived IAM roles `approval-probe-*`, deleted at the end, also on failure): an approval,
a rejection, 2-of-3 with a reject, a stranger's signal, a duplicate Approve, role ARN
matching, a reused ClientToken and an expiry. It writes a JSON report (the variant per
setting of the local AWS, or "unobserved" and why, with the raw evidence) and prints how to
set the local AWS to match. Without credentials or without the deployment it says what it
needs and exits 2, having changed nothing. `--endpoint` points it at the local AWS.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from scripts.aws_probe.approvers import ProbeRoles
from scripts.aws_probe.deployment import DEFAULT_EXAMPLE, REPO, preflight, refusal
from scripts.aws_probe.gate import DeployedGate, ProbeError
from scripts.aws_probe.report import build_report, settings_command
from scripts.aws_probe.scenarios import APPROVERS, PATHED, SCENARIOS, Probe

# Under .sandbox/ (gitignored): the report may name the account, so it is never committed.
DEFAULT_REPORT = REPO / ".sandbox" / "verify-aws" / "report.json"
EXIT_REFUSED = 2
LOCAL_AWS = "http://127.0.0.1:5000"  # `make sandbox`


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.verify_aws", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--example",
        type=Path,
        default=DEFAULT_EXAMPLE,
        help="root module whose Terraform outputs name the deployed gate (default: %(default)s)",
    )
    parser.add_argument("--state", type=Path, help="read the outputs from this Terraform state")
    parser.add_argument("--endpoint", help="the local AWS (e.g. http://127.0.0.1:5000)")
    parser.add_argument("--out", type=Path, default=DEFAULT_REPORT, help="report (JSON)")
    parser.add_argument(
        "--timeout", type=float, default=300, help="longest wait for one step, seconds"
    )
    parser.add_argument(
        "--settle-seconds",
        type=float,
        default=15,
        help="how long a signal may take to show before 'still waiting' is the answer",
    )
    parser.add_argument(
        "--expiry-seconds", type=int, default=60, help="timeout of the expiry check's approval"
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated subset of: {', '.join(SCENARIOS)}",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.scenarios.split(",")) - set(SCENARIOS))
    if unknown:
        parser.error(f"--scenarios: unknown {unknown}; choose from {list(SCENARIOS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    found = preflight(args.example, args.state, args.endpoint)
    if found.problems or found.account is None:
        print(refusal(found.problems), file=sys.stderr)
        return EXIT_REFUSED
    account, outputs = found.account, found.outputs
    local = bool(args.endpoint)
    run_id = uuid.uuid4().hex[:8]
    roles = ProbeRoles(
        account,
        run_id,
        _policy_text(outputs.get("approver_policy_json")),
        propagation_seconds=5 if local else 60,
    )
    gate = DeployedGate(account, outputs, args.timeout, poll_seconds=0.2 if local else 1.0)
    probe = Probe(gate, roles, run_id, args.settle_seconds, args.expiry_seconds)
    print(f"verify-aws: {account.caller_arn} in {account.region}, gate {gate.state_machine_arn}")
    evidence: dict[str, dict[str, Any]] = {}
    cleanup: list[str] = []
    try:
        roles.create(list(APPROVERS), pathed=PATHED)
        print(f"  approvers: {', '.join(roles.created)} (deleted at the end)")
        for name in args.scenarios.split(","):
            started = time.monotonic()
            try:
                evidence[name] = {"ok": True, "evidence": SCENARIOS[name](probe)}
            except (ProbeError, ClientError, BotoCoreError, KeyError, ValueError) as error:
                evidence[name] = {"ok": False, "error": f"{type(error).__name__}: {error}"}
            took = time.monotonic() - started
            outcome = "done" if evidence[name]["ok"] else f"FAILED: {evidence[name]['error']}"
            print(f"  {name}: {outcome} ({took:.0f} s)")
    except (ClientError, BotoCoreError) as error:
        cleanup.append(f"the probe stopped: {type(error).__name__}: {error}")
    finally:
        cleanup += gate.stop_leftovers()
        left = roles.delete_all()
        cleanup += [f"NOT deleted, delete it yourself: {item}" for item in left]
        cleanup.append(f"deleted the probe's roles approval-probe-{run_id}-*" if not left else "")
    meta = {
        "report": "make verify-aws",
        "format_version": 1,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "run_id": run_id,
        "account_id": account.account_id,
        "region": account.region,
        "caller": account.caller_arn,
        "endpoint": args.endpoint,
        "gate": {"state_machine_arn": gate.state_machine_arn, "document_name": gate.document_name},
    }
    report = build_report(meta, evidence, [line for line in cleanup if line])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(summary(report, args.out, args.endpoint or LOCAL_AWS))
    scenarios_ok = all(result["ok"] for result in evidence.values()) and evidence
    checks_ok = all(check["ok"] for check in report["gate_checks"].values())
    return 0 if scenarios_ok and checks_ok and not any("NOT deleted" in c for c in cleanup) else 1


def _policy_text(policy: Any) -> str | None:
    if not policy:
        return None
    return policy if isinstance(policy, str) else json.dumps(policy)


def summary(report: dict[str, Any], out: Path, local_aws: str) -> str:
    lines = ["", "What this account showed (setting: value, why):"]
    for name, finding in report["variants"].items():
        lines.append(f"  {name}: {finding['value']}  ({finding['why']})")
    lines.append("")
    lines.append("The gate on this account (the integration tests' assertions):")
    for scenario, check in report["gate_checks"].items():
        verdict = "ok" if check["ok"] else "NOT AS EXPECTED"
        lines.append(f"  {scenario}: {verdict} ({check['expected']})")
    lines += [f"  cleanup: {line}" for line in report["cleanup"]]
    lines += [
        "",
        f"Report: {out}",
        "Send it back: attach it to an issue, or to the project's maintainers (it names the",
        "account id, the Region and the probe's role names; redact them if you like).",
        "Make the local AWS behave like this account (`make sandbox` running):",
        f"  {settings_command(report, local_aws)}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
