"""What one more stage costs: two runs of bench.cost written with --json, one with fewer
stages than the other, per approval side by side and their difference per stage
(docs/benchmarks.md, "Per stage"). Prints a Markdown table.

    python -m bench.cost --approvals 10 --stages 1 --json one.json
    python -m bench.cost --approvals 10 --stages 3 --json three.json
    python -m bench.cost.per_stage one.json three.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench.cost.model import GATE_FUNCTIONS

# Per-approval measures besides the calls and the functions: key -> row name.
MEASURES = {
    "state_transitions": "Step Functions transitions",
    "dynamodb_wru": "DynamoDB write request units",
    "dynamodb_rru": "DynamoDB read request units",
    "ssm_automation_steps": "SSM Automation steps (aws:approve)",
    "sns_publishes": "SNS publishes",
    "xray_traces": "X-Ray traces",
    "log_bytes": "CloudWatch Logs bytes ingested",
}


def rows(gate: dict[str, Any]) -> dict[str, float]:
    """One run's per-approval figures, by row name."""
    found: dict[str, float] = {}
    for key, value in sorted(gate["calls"].items()):
        caller, service, action = key.rsplit(" ", 2)
        found[f"{caller} {service}:{action}"] = value
    found["all calls"] = sum(gate["calls"].values())
    for function in GATE_FUNCTIONS:
        gb_seconds = gate["lambda_gb_seconds"][function]
        memory_gb = gate["lambda_memory_mb"][function] / 1024
        found[f"Lambda invocations: {function}"] = gate["lambda_invocations"][function]
        found[f"Lambda billed ms: {function}"] = gb_seconds / memory_gb * 1000
        found[f"Lambda GB-s: {function}"] = gb_seconds
    for key, name in MEASURES.items():
        found[name] = gate[key]
    found["$ per 1,000 approvals, verified prices only"] = gate["dollars"]["total_verified"] * 1000
    return found


def table(fewer: dict[str, Any], more: dict[str, Any]) -> str:
    stages = more["stages"] - fewer["stages"]
    if stages < 1:
        raise SystemExit("the second run must have more stages than the first")
    before, after = rows(fewer["result"]["gate"]), rows(more["result"]["gate"])
    names = list(after) + [name for name in before if name not in after]
    lines = [
        f"| per approval | {_stages(fewer['stages'])} | {_stages(more['stages'])} "
        f"| one more stage (({more['stages']} - {fewer['stages']}) / {stages}) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name in names:
        one, other = before.get(name, 0.0), after.get(name, 0.0)
        digits = 6 if name.startswith("$") or "GB-s" in name else 2
        if name.startswith("Lambda billed ms") or name.startswith("CloudWatch"):
            digits = 0
        cells = (f"{value:,.{digits}f}" for value in (one, other, (other - one) / stages))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _stages(count: int) -> str:
    return f"{count} stage" + ("s" if count > 1 else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("fewer", type=Path, help="bench.cost --json of the run with fewer stages")
    parser.add_argument("more", type=Path, help="bench.cost --json of the run with more stages")
    options = parser.parse_args(argv)
    fewer, more = (json.loads(path.read_text()) for path in (options.fewer, options.more))
    for path, run in ((options.fewer, fewer), (options.more, more)):
        if not run.get("stages"):
            parser.error(f"{path}: not a run with --stages")
    print(table(fewer, more))
    return 0


if __name__ == "__main__":
    sys.exit(main())
