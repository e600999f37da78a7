"""A burst of concurrent approvals through the gate deployed in the local AWS.

    make package
    python -m bench.burst [--approvals 200] [--reject-every 4] [--quorum-every 5]
                          [--threads 50] [--max-concurrent-automations N]
                          [--sweep-during-decisions] [--json [PATH]]

(from the repository's root; `make bench-burst BURST_ARGS="..."` does both).

Starts the local AWS (sandbox.server.LocalAws, 127.0.0.1, a free port) in this process,
deploys terraform/examples/local with scripts/local_gate.py's LocalGate (Terraform state in a
temporary folder), then:

1. starts N workflow executions at once (a thread pool), and watches SSM until their
   approvals wait for approvers (request throughput, time to waiting);
2. has the approvers decide them concurrently: every `--reject-every`-th is rejected by bob,
   every `--quorum-every`-th asks for a quorum of 2 (alice then carol approve), the rest are
   approved by alice. A wave of decisions goes out when every approval still undecided
   waits, or when as many wait as the sandbox lets automations run at once
   (`max_concurrent_executions`, 100 by default, like AWS's quota): the approvals over the
   limit are refused by SSM and retried by the state machine (ApprovalConcurrencyLimitExceeded,
   with backoff), so with N over the limit they wait for the first wave's decisions;
3. waits until every execution has ended, and checks that each ended SUCCEEDED with the
   decision its approvers signalled, one TaskSucceeded in its history (TaskFailed only for
   the retried start errors), one approval record DECIDED with its callback DELIVERED, and
   that exactly N automations were started, one per approval: none lost, none duplicated.

Prints the throughput and the time from each decision signal to its workflow's end, where
that time goes (from the records and the histories), what each function did (from its
logs), memory, and the machine; `--json` adds a JSON summary (`--json PATH` writes it to a
file). Destroys the deployment and stops the local AWS at the end, on errors and on Ctrl-C
too. Exit status: 0 all checks passed, 1 a check failed, 2 the bench could not run.

The sandbox's limits are its defaults unless `--max-concurrent-automations` says otherwise
(reported either way). `--sweep-during-decisions` runs the sweep once right after each
wave's signals, as its schedule may during a long burst: it then races the event path for
the same decisions. Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.burst.approvals import plan
from bench.burst.checks import check, check_deliveries
from bench.burst.driver import BenchError, note, run_burst
from bench.burst.gate import BurstGate
from bench.burst.logs import delivery_log, settled_activity
from bench.burst.proc import lambda_workers, machine, proc_status
from bench.burst.report import report, summarize
from sandbox.server import LocalAws
from scripts.gate_terraform import GateError


def run(aws: LocalAws, state: Path, options: argparse.Namespace, wall: float) -> dict[str, Any]:
    load_before = os.getloadavg()
    if options.max_concurrent_automations is not None:
        aws.api(
            "/moto-api/sandbox/settings",
            {"sandbox": {"max_concurrent_executions": options.max_concurrent_automations}},
        )
    settings = aws.api("/moto-api/sandbox/settings", method="GET")
    limit = settings["sandbox"]["max_concurrent_executions"]
    origin = (
        "--max-concurrent-automations"
        if options.max_concurrent_automations is not None
        else "sandbox default"
    )
    note(f"Local AWS at {aws.endpoint}; automations at once: {limit} ({origin})")
    if limit < options.approvals:
        note(
            f"      {options.approvals} approvals over the limit of {limit}: the rest wait for "
            "the first decisions (SSM refuses them, the state machine retries with backoff)"
        )
    gate = BurstGate(aws, connections=options.threads + 4, state=state)
    approvals = plan(options.approvals, options.reject_every, options.quorum_every, options.run)
    pool = ThreadPoolExecutor(options.threads, thread_name_prefix="burst")
    times: dict[str, float] = {}
    try:
        note("[1/4] terraform apply terraform/examples/local ...")
        started = time.time()
        gate.deploy()
        times["deploy_s"] = time.time() - started
        rss_before, cpu_before = proc_status("self", "VmRSS"), time.process_time()
        note(f"[2/4] burst: {len(approvals)} executions started at once ...")
        burst = run_burst(gate, approvals, pool, limit, options)
        burst_cpu = time.process_time() - cpu_before
        note("[3/4] checks: executions, histories, records, automations, logs ...")
        started = time.time()
        checked = check(gate, approvals, pool)
        activity, python = settled_activity(gate, sum(bool(a.status) for a in approvals))
        deliveries = delivery_log(activity)
        check_deliveries(deliveries, len(approvals), checked.problems)
        sweeps = []
        for future in burst.sweeps:
            try:
                answer = future.result()
                sweeps.append({k: len(v) if k == "delivered" else v for k, v in answer.items()})
            except Exception as error:
                checked.problems.append(f"the sweep the bench invoked failed: {error}")
        times["checks_s"] = time.time() - started
        memory = {
            "process_peak_rss_mb": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
            ),
            "process_rss_before_burst_mb": round((rss_before or 0) / 1024, 1),
            "lambda_workers": lambda_workers(
                aws.api("/moto-api/sandbox/lambda/workers", method="GET")["workers"]
            ),
        }
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if state.exists():
            note("[4/4] terraform destroy ...")
            started = time.time()
            gate.destroy()
            times["destroy_s"] = time.time() - started
    context = {
        "machine": machine(),
        "load_average": {
            "before": [round(x, 2) for x in load_before],
            "after": [round(x, 2) for x in os.getloadavg()],
        },
        "sandbox": {
            "max_concurrent_executions": limit,
            "limit_origin": origin,
            "max_workers_per_version": settings["lambda"]["max_workers_per_version"],
        },
        "lambda_python": python,
        "deliveries": deliveries,
        "sweeps_invoked": sweeps,
        "process_cpu_during_burst_s": round(burst_cpu, 1),
        "memory": memory,
        "options": {k: v for k, v in vars(options).items() if k != "json"},
        **{k: round(v, 1) for k, v in times.items()},
        "wall_s": round(time.time() - wall, 1),
    }
    return summarize(approvals, burst, checked, activity, context)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--approvals", type=int, default=200, help="workflow executions (200)")
    parser.add_argument("--reject-every", type=int, default=4, help="every Nth is rejected (4)")
    parser.add_argument(
        "--quorum-every", type=int, default=5, help="every Nth needs 2 approvers (5; 0: none)"
    )
    parser.add_argument("--threads", type=int, default=50, help="client threads (50)")
    parser.add_argument(
        "--max-concurrent-automations",
        type=int,
        metavar="N",
        help="raise or lower the sandbox's limit of automations at once (default: its own, 100)",
    )
    parser.add_argument(
        "--sweep-during-decisions",
        action="store_true",
        help="invoke the sweep once right after each wave's signals, as its schedule may: it "
        "then races the event path for the same decisions",
    )
    parser.add_argument("--poll", type=float, default=0.25, help="seconds between SSM polls")
    parser.add_argument(
        "--listing-interval", type=float, default=1.0, help="seconds between execution listings"
    )
    parser.add_argument(
        "--stall",
        type=float,
        default=30.0,
        help="decide what waits when no new approval waited for this long (30 s)",
    )
    parser.add_argument("--timeout", type=float, default=1200.0, help="for the burst (1200 s)")
    parser.add_argument("--run", default=time.strftime("%H%M%S"), help="execution name tag")
    parser.add_argument(
        "--json", nargs="?", const="-", metavar="PATH", help="JSON summary (stdout, or PATH)"
    )
    options = parser.parse_args(argv)
    if options.approvals < 1 or options.threads < 1:
        parser.error("--approvals and --threads must be at least 1")
    # moto's Step Functions engine logs every failed Task attempt (the retried start errors
    # too) at ERROR with the whole state: the histories count them instead.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    wall = time.time()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="burst-") as scratch,
            LocalAws(port=0, host="127.0.0.1") as aws,
        ):
            summary = run(aws, Path(scratch) / "terraform.tfstate", options, wall)
    except KeyboardInterrupt:
        note("\ninterrupted: the deployment was destroyed and the local AWS stopped")
        return 130
    except (BenchError, GateError) as error:
        note(f"\nburst failed: {error}")
        return 2
    except Exception:  # whatever broke, with where: the bench's own bug or the sandbox's
        traceback.print_exc()
        note("\nburst failed (above); the deployment was destroyed and the local AWS stopped")
        return 2
    print(report(summary), flush=True)
    if options.json == "-":
        print(json.dumps(summary, indent=2))
    elif options.json:
        Path(options.json).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
