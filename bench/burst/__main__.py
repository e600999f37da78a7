"""A burst of concurrent approvals through the gate deployed in the local AWS, at SSM's rates.

    make package
    python -m bench.burst [--approvals 200] [--reject-every 4] [--quorum-every 5]
                          [--threads 50] [--max-concurrent-automations N]
                          [--signal-tps 10] [--no-rates]
                          [--sweep-during-decisions] [--pause-scheduled-sweep]
                          [--json [PATH]]

(from the repository's root; `make bench-burst BURST_ARGS="..."` does both).

Starts the local AWS (sandbox.server.LocalAws, 127.0.0.1, a free port) in this process,
deploys terraform/examples/local with scripts/local_gate.py's LocalGate (Terraform state in a
temporary folder), then:

1. starts N workflow executions at once (a thread pool), and scans the records table until
   each approval's record names its automation (request throughput, time to automation).
   SSM's API rates are on, at AWS's figures (the local AWS's defaults): StartAutomationExecution
   1/s, the gate's reads 3/s. The bench is one more caller of the account: it reads no
   automation from SSM during the burst, and its approvers' SendAutomationSignal calls go
   through one token bucket at --signal-tps (10/s; the local AWS allows as many for the
   burst, so that the gate's delivery side, not the clicking, is measured). `--no-rates`
   lifts every rate from the start, and the gate's own pacing (its functions' SSM_API_RATES
   emptied after the deploy): the emulator's own ceiling;
2. has the approvers decide them concurrently, once every approval has its automation (or
   what has one when none came for `--stall` seconds): every `--reject-every`-th is
   rejected by bob, every `--quorum-every`-th asks for a quorum of 2 (alice then carol
   approve), the rest are approved by alice. Past the automations SSM runs at once
   (`max_concurrent_executions`, 100 by default, like AWS's quota) SSM queues the rest; a
   signal to one not waiting yet, or throttled, is sent again after a pause;
3. waits until every execution has ended, lifts every rate (the checks are not measured)
   and checks that each ended SUCCEEDED with the decision its approvers signalled, one
   TaskSucceeded in its history (TaskFailed only for the retried start errors), one
   approval record DECIDED with its callback DELIVERED, and that exactly N automations were
   started, one per approval: none lost, none duplicated.

Prints the start rate (the automations' ExecutionStartTime, first to last) as a fraction of
StartAutomationExecution's quota, the decision rate (the records' decided_at) as a fraction
of GetAutomationExecution's, the SSM calls made during the decisions, what the sweeps read
and left to their events (their "Sweep done" logs, summed), the retries (calls SSM
throttled, ApprovalStartThrottled, receive_result's errors, sweeps deferred, signals sent
again), the throughput and the time from each decision signal to its workflow's end, where
that time goes (from the records and the histories), what each function did (from its
logs), memory, and the machine; `--json` adds a JSON summary (`--json PATH` writes it to a
file). Destroys the deployment and stops the local AWS at the end, on errors and on Ctrl-C
too. Exit status: 0 all checks passed, 1 a check failed, 2 the bench could not run.

The sandbox's limits are its defaults unless `--max-concurrent-automations` says otherwise
(reported either way). `--sweep-during-decisions` runs the sweep once right after each
wave's signals, as its schedule may during a long burst: it then races the event path for
the same decisions; `--pause-scheduled-sweep` keeps the scheduled sweep from running while
the decisions are delivered. Results go to docs/benchmarks.md.
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
from bench.burst.driver import BenchError, SignalBucket, note, run_burst
from bench.burst.gate import (
    PACING_VARIABLE,
    BurstGate,
    lift_pacing,
    set_ssm_rates,
    ssm_rates,
)
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
    rates = rates_for_burst(aws, options)
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
            f"      {options.approvals} approvals over the limit of {limit}: SSM queues the "
            "rest (Pending) until decisions free their slots"
        )
    note(
        f"SSM API rates (calls/s; None: lifted) during the burst: {rates}; each bucket holds "
        f"{settings['sandbox']['ssm_rate_burst_seconds']} s of calls"
    )
    gate = BurstGate(aws, connections=options.threads + 4, state=state)
    approvals = plan(options.approvals, options.reject_every, options.quorum_every, options.run)
    pool = ThreadPoolExecutor(options.threads, thread_name_prefix="burst")
    times: dict[str, float] = {}
    pacing_lifted: list[str] = []
    try:
        note("[1/4] terraform apply terraform/examples/local ...")
        started = time.time()
        gate.deploy()
        times["deploy_s"] = time.time() - started
        if options.no_rates:  # the gate's own pacing too: the emulator's ceiling
            pacing_lifted = lift_pacing(gate)
            note(f"      the gate's SSM pacing lifted ({PACING_VARIABLE} emptied): {pacing_lifted}")
        rss_before, cpu_before = proc_status("self", "VmRSS"), time.process_time()
        note(f"[2/4] burst: {len(approvals)} executions started at once ...")
        bucket = SignalBucket(None if options.no_rates else options.signal_tps)
        burst = run_burst(gate, approvals, pool, bucket, options)
        burst_cpu = time.process_time() - cpu_before
        # The checks read every automation: not measured, they run with the rates lifted.
        set_ssm_rates(aws, dict.fromkeys(rates))
        note("[3/4] checks (SSM's rates lifted): executions, histories, records, automations, logs")
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
            "ssm_rates_during_burst": rates,
            "ssm_rate_burst_seconds": settings["sandbox"]["ssm_rate_burst_seconds"],
            "gate_pacing_lifted": pacing_lifted,
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


def rates_for_burst(aws: LocalAws, options: argparse.Namespace) -> dict[str, int | None]:
    """SSM's rates for the burst: AWS's (the local AWS's defaults), but for the approvers'
    SendAutomationSignal at --signal-tps, so that the gate's delivery side is measured and
    not the clicking; every rate lifted with --no-rates. The rates in effect: action -> calls
    per second, None: lifted."""
    if options.no_rates:
        set_ssm_rates(aws, dict.fromkeys(ssm_rates(aws)))
    else:
        set_ssm_rates(aws, {"SendAutomationSignal": options.signal_tps})
    if options.ssm_rate_burst_seconds is not None:
        aws.api(
            "/moto-api/sandbox/settings",
            {"sandbox": {"ssm_rate_burst_seconds": options.ssm_rate_burst_seconds}},
        )
    return ssm_rates(aws)


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
    parser.add_argument(
        "--pause-scheduled-sweep",
        action="store_true",
        help="disable the sweep's schedule from the first signal to the last workflow's end: "
        "what the event path's deliveries reach alone",
    )
    parser.add_argument(
        "--signal-tps",
        type=int,
        default=10,
        help="the approvers' SendAutomationSignal calls per second, paced by the bench and "
        "allowed by the local AWS for the burst (10; AWS's figure is 3)",
    )
    parser.add_argument(
        "--no-rates",
        action="store_true",
        help="lift every SSM API rate of the local AWS from the start, and the gate's own "
        "pacing of its SSM calls (the emulator's ceiling)",
    )
    parser.add_argument(
        "--ssm-rate-burst-seconds",
        type=int,
        metavar="N",
        help="each SSM rate's bucket holds N seconds' calls (default: the local AWS's, 1, the "
        "strictest reading: AWS documents no burst)",
    )
    parser.add_argument(
        "--poll",
        type=float,
        default=3.0,
        help="seconds between scans of the records while automations start (3)",
    )
    parser.add_argument(
        "--listing-interval",
        type=float,
        default=5.0,
        help="seconds between execution listings once decisions went out (5; 15 before)",
    )
    parser.add_argument(
        "--stall",
        type=float,
        default=30.0,
        help="decide the approvals that have their automation when no new one came for this "
        "long (30 s)",
    )
    parser.add_argument("--timeout", type=float, default=1200.0, help="for the burst (1200 s)")
    parser.add_argument("--run", default=time.strftime("%H%M%S"), help="execution name tag")
    parser.add_argument(
        "--json", nargs="?", const="-", metavar="PATH", help="JSON summary (stdout, or PATH)"
    )
    options = parser.parse_args(argv)
    if options.approvals < 1 or options.threads < 1 or options.signal_tps < 1:
        parser.error("--approvals, --threads and --signal-tps must be at least 1")
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
