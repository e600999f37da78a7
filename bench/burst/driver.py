"""The burst: every execution started at once, its approvals seen waiting, then decided in
waves (all of them, or as many as the sandbox runs at once, or what waits after a stall),
until every execution has ended."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from bench.burst.approvals import Approval
from bench.burst.gate import (
    BurstGate,
    approval_records,
    execution_name,
    executions,
    waiting_automations,
)


class BenchError(Exception):
    """The bench cannot go on; the message says why."""


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Wave:
    number: int
    size: int
    trigger: str
    all_waiting_at: float
    first_signal_at: float
    signals_done_at: float
    ended_at: float = 0.0


@dataclass
class Burst:
    started_at: float
    starts_done_at: float = 0.0
    all_waiting_at: float = 0.0
    ended_at: float = 0.0
    waves: list[Wave] = field(default_factory=list)
    sweeps: list[Future[dict[str, Any]]] = field(default_factory=list)


def start_one(gate: BurstGate, approval: Approval) -> None:
    approval.started_at = time.time()
    try:
        approval.execution_arn = gate.start(approval.request, name=approval.name)
    except Exception as error:  # reported by the checks; the burst goes on
        approval.start_error = f"{type(error).__name__}: {error}"


def decide_one(gate: BurstGate, approval: Approval) -> None:
    comment = f"burst decision {approval.index}"
    try:
        for approver, signal in approval.signals[:-1]:
            gate.decide(approver, approval.automation_id, signal, comment)
        approver, signal = approval.signals[-1]
        approval.signalled_at = time.time()
        gate.decide(approver, approval.automation_id, signal, comment)
        approval.signal_seconds = time.time() - approval.signalled_at
    except Exception as error:
        approval.signal_error = f"{type(error).__name__}: {error}"
        approval.signalled_at = approval.signalled_at or time.time()


def stage(approval: Approval) -> str:
    if approval.started_at is None:
        return "not started"
    if approval.waiting_at is None:
        return "not waiting"
    return "not decided" if approval.signalled_at is None else "still running"


def run_burst(
    gate: BurstGate,
    approvals: list[Approval],
    pool: ThreadPoolExecutor,
    limit: int,
    options: argparse.Namespace,
) -> Burst:
    by_name = {approval.name: approval for approval in approvals}
    burst = Burst(started_at=time.time())
    starts = [pool.submit(start_one, gate, approval) for approval in approvals]
    last_new = time.time()
    next_listing = 0.0
    while True:
        now = time.time()
        if now - burst.started_at > options.timeout:
            stuck = Counter(stage(a) for a in approvals if not a.status and not a.start_error)
            raise BenchError(
                f"the burst did not end within --timeout {options.timeout:.0f} s: "
                + ", ".join(f"{n} {what}" for what, n in stuck.items())
            )
        if not burst.starts_done_at and all(future.done() for future in starts):
            burst.starts_done_at = time.time()
        if any(a.open for a in approvals) and see_waiting(gate, approvals, by_name, now):
            last_new = now
        if now >= next_listing or not any(approval.open for approval in approvals):
            for item in executions(gate):
                approval = by_name.get(item["name"])
                if approval is not None and item["status"] != "RUNNING" and not approval.status:
                    approval.status = item["status"]
                    approval.ended_at = item["stopDate"].timestamp()
            next_listing = now + options.listing_interval
        if burst.starts_done_at and all(
            a.start_error or a.status or (a.signal_error and a.signalled_at) for a in approvals
        ):
            break
        remaining = [a for a in approvals if a.open]
        ready = [a for a in remaining if a.waiting_at is not None and a.automation_id]
        trigger = ""
        if ready and len(ready) == len(remaining) and burst.starts_done_at:
            trigger = "all waiting"
        elif ready and len(ready) >= limit:
            trigger = f"the concurrency limit ({limit}) waiting"
        elif ready and now - last_new >= options.stall:
            trigger = f"no new approval waiting for {options.stall:.0f} s"
        if trigger:
            burst.waves.append(decide_wave(gate, ready, pool, len(burst.waves) + 1, trigger))
            if options.sweep_during_decisions:
                burst.sweeps.append(pool.submit(invoke_sweep, gate))
            continue
        time.sleep(options.poll)
    waiting = [a.waiting_at for a in approvals if a.waiting_at is not None]
    burst.all_waiting_at = max(waiting, default=0.0)
    burst.ended_at = max((a.ended_at or 0.0 for a in approvals), default=0.0)
    for wave in burst.waves:
        members = [a for a in approvals if a.wave == wave.number]
        wave.ended_at = max((a.ended_at or 0.0 for a in members), default=0.0)
    return burst


def invoke_sweep(gate: BurstGate) -> dict[str, Any]:
    """One sweep now, as its schedule may run it at any time (README: "The sweep by hand")."""
    response = gate.client("lambda").invoke(
        FunctionName=f"{gate.outputs['sweep_function_name']}:live", Payload=b"{}"
    )
    answer = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        raise BenchError(f"the sweep failed: {answer}")
    return answer


def see_waiting(
    gate: BurstGate, approvals: list[Approval], by_name: dict[str, Approval], now: float
) -> bool:
    """Marks the approvals whose automation now waits for approvers; True if any is new."""
    waiting = waiting_automations(gate)
    known = {approval.automation_id for approval in approvals if approval.automation_id}
    if waiting - known:
        for record in approval_records(gate):
            approval = by_name.get(execution_name(record.get("execution_arn", "")))
            automation_id = record.get("automation_execution_id")
            if approval is not None and automation_id and not approval.automation_id:
                approval.automation_id = automation_id
    new = False
    for approval in approvals:
        if approval.waiting_at is None and approval.automation_id in waiting:
            approval.waiting_at = now
            new = True
    return new


def decide_wave(
    gate: BurstGate, ready: list[Approval], pool: ThreadPoolExecutor, number: int, trigger: str
) -> Wave:
    note(f"      wave {number}: {len(ready)} approvals decided at once ({trigger})")
    first = time.time()
    for approval in ready:
        approval.wave = number
    wait([pool.submit(decide_one, gate, approval) for approval in ready])
    return Wave(
        number=number,
        size=len(ready),
        trigger=trigger,
        all_waiting_at=max(a.waiting_at or 0.0 for a in ready),
        first_signal_at=first,
        signals_done_at=time.time(),
    )
