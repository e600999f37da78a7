"""The calls and the cost of an approval: this gate beside the article's original stack.

    make package
    python -m bench.cost [--approvals 20] [--stages N] [--json FILE]

Starts the local AWS (127.0.0.1, a free port) in this process with X-Ray capture on and the
SSM API rate quotas off (a cost bench counts calls, not throughput), deploys
terraform/examples/local with scripts/local_gate.py's LocalGate, clears the call counts, runs
the approvals (approve, reject, 2-of-3 quorum; with `--stages N` every approval N stages, each
approved by a different approver), waits until each workflow ended and the
gate's calls settled, then reads the counts, the functions' REPORT lines and log bytes, the
executions' states entered, the records table's item sizes and the X-Ray traces. The sweep
runs on a schedule: one idle run is measured apart (per hour, not per approval). Prints
per approval both stacks side by side (the original from its template's code), the calls by
caller, the sweep, what the records table holds and the prices' sources; `--json FILE` writes it
all. Destroys the deployment and stops the local AWS at the end. Results go to
docs/benchmarks.md, "Calls and cost per approval".
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.burst.gate import BurstGate
from bench.cost import measure, model, report
from bench.cost.drive import MAX_STAGES, STAGE_APPROVERS, run_approvals
from sandbox.server import LocalAws

LOCAL_SWEEP_MINUTES = 1  # terraform/examples/local
MODULE_SWEEP_MINUTES = 5  # the module's default


def prepare(aws: LocalAws) -> list[str]:
    """X-Ray capture on; every SSM API rate quota off. What it changed, to print."""
    settings = aws.api("/moto-api/sandbox/settings", method="GET")["sandbox"]
    quotas = {name: None for name in settings if name.endswith("_tps")}
    aws.api(
        "/moto-api/sandbox/settings",
        {"lambda": {"capture_traces": True}} | ({"sandbox": quotas} if quotas else {}),
    )
    notes = ["X-Ray capture on"]
    if quotas:
        notes.append(f"SSM API rate quotas off ({', '.join(sorted(quotas))})")
    return notes


def clear(aws: LocalAws) -> int:
    aws.api("/moto-api/sandbox/calls", method="DELETE")
    aws.api("/moto-api/sandbox/xray/segments", method="DELETE")
    return int(time.time() * 1000)


def measure_run(gate: BurstGate, options: argparse.Namespace) -> dict[str, Any]:
    callers = measure.callers(gate)
    measured = measure.Measured(callers, functions=measure.memory_sizes(gate))
    measured.email_subscriptions = measure.email_subscriptions(gate)
    since = clear(gate.aws)
    note(f"[2/4] {options.approvals} approvals ({kind_of(options.stages)}) ...")
    approvals = run_approvals(gate, options.approvals, options.run, options.stages or 0)
    ignore = {arn for arn, label in callers.items() if label in (model.DRIVER, model.SWEEP)}
    measured.calls = measure.settled_calls(gate, ignore)
    measure.lambda_use(gate, measured.functions, since)
    measured.states_entered = measure.states_entered(gate, [a.execution_arn for a in approvals])
    measure.records_table(gate, measured)
    names = {label: gate.outputs[output] for label, output in measure.FUNCTIONS.items()}
    measured.traces = measure.traces(gate, names)

    note("[3/4] one idle run of the sweep ...")
    memory = measured.functions[model.SWEEP].memory_mb
    sweep = measure.Measured(callers, functions={model.SWEEP: measure.FunctionUse(memory)})
    since = clear(gate.aws)
    gate.client("lambda").invoke(FunctionName=gate.outputs["sweep_function_name"])
    time.sleep(1)
    sweep.calls = gate.aws.api("/moto-api/sandbox/calls", method="GET")["calls"]
    measure.lambda_use(gate, sweep.functions, since)
    sweep.traces = measure.traces(gate, names)

    result = model.per_approval(measured, options.approvals)
    return {
        "approvals": options.approvals,
        "stages": options.stages,
        "outcomes": {
            s: sum(a.status == s for a in approvals) for s in {a.status for a in approvals}
        },
        "email_subscriptions": measured.email_subscriptions,
        "record_bytes": measured.record_bytes,
        "other_items": measured.other_items,
        "result": result,
        "sweep": model.sweep_per_run(sweep),
    }


def kind_of(stages: int | None) -> str:
    if stages is None:
        return "approve, reject, 2-of-3 quorum"
    return f"{stages} stage(s) each, every stage approved"


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def render(summary: dict[str, Any], notes: list[str]) -> str:
    parts = [
        f"Calls and cost per approval ({time.strftime('%Y-%m-%d')}; local AWS: "
        f"{'; '.join(notes)}; {kind_of(summary['stages'])}; outcomes {summary['outcomes']})",
        report.table(summary["result"], summary["approvals"], summary["email_subscriptions"]),
        "",
        report.sweep_table(summary["sweep"], LOCAL_SWEEP_MINUTES, MODULE_SWEEP_MINUTES),
        "",
        report.table_items(summary["record_bytes"], summary["other_items"]),
        "",
        report.citations(),
    ]
    return "\n".join(parts)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {" ".join(k) if isinstance(k, tuple) else k: _jsonable(v) for k, v in value.items()}
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--approvals", type=int, default=20, help="approvals to run (20)")
    parser.add_argument("--json", metavar="FILE", help="write the measures as JSON to FILE")
    parser.add_argument(
        "--stages",
        type=int,
        metavar="N",
        help=f"every approval N stages (1-{MAX_STAGES}), each approved by a different approver "
        "(default: one stage, the mix of approve, reject and 2-of-3 quorum)",
    )
    parser.add_argument("--run", default=time.strftime("%H%M%S"), help="execution name tag")
    options = parser.parse_args(argv)
    if options.approvals < 1:
        parser.error("--approvals must be at least 1")
    if options.stages is not None and not 1 <= options.stages <= MAX_STAGES:
        parser.error(f"--stages must be from 1 to {MAX_STAGES}")
    # Every stage's approver a user of the local AWS; alice, bob and carol for the mix.
    approvers = STAGE_APPROVERS[: max(3, options.stages or 0)]
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    with (
        tempfile.TemporaryDirectory(prefix="cost-") as scratch,
        LocalAws(port=0, host="127.0.0.1") as aws,
    ):
        notes = prepare(aws)
        gate = BurstGate(
            aws, connections=8, approvers=approvers, state=Path(scratch) / "terraform.tfstate"
        )
        try:
            note("[1/4] terraform apply terraform/examples/local ...")
            gate.deploy()
            summary = measure_run(gate, options)
        finally:
            note("[4/4] terraform destroy ...")
            gate.destroy()
    print(render(summary, notes))
    if options.json:
        Path(options.json).write_text(json.dumps(_jsonable(summary), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
