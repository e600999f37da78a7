"""The burst: every execution started at once, its automation seen in the records table, then
the approvals decided in waves (all of them once each has its automation, or what has one
after a stall), until every execution has ended.

The bench behaves like one more user of the account at SSM's rates: its SSM calls count
against the same buckets as the gate's. So it reads no automation from SSM during the burst
(the records name them; a signal sent before its step waits, to an automation SSM still
queues, is sent again after a pause), and its approvers' signals share one SignalBucket."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from bench.burst.approvals import Approval
from bench.burst.gate import (
    BurstGate,
    approval_records,
    call_counts,
    execution_name,
    executions,
    set_sweep_schedule,
    ssm_throttled,
)

# SendAutomationSignal's refusals an approver meets when clicking early, sent again after a
# pause: the automation is still queued by SSM or not at its approval step yet (no step
# waits: AutomationStepNotFoundException; InvalidAutomationSignalException, the API's
# "not valid for the current Automation execution"), or the signal rate was exceeded.
RETRIED_SIGNAL_ERRORS = frozenset(
    {"AutomationStepNotFoundException", "InvalidAutomationSignalException", "ThrottlingException"}
)
SIGNAL_RETRY_PAUSE_S = 1.0
SIGNAL_RETRY_FOR_S = 180.0  # then the signal's error is the approval's (a check fails)
LISTING_BEFORE_S = 15.0  # between executions listings before the first signal


class BenchError(Exception):
    """The bench cannot go on; the message says why."""


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class SignalBucket:
    """The approvers' SendAutomationSignal calls, shared by every thread, at most `rate` per
    second in evenly spaced slots (a token bucket that holds one token); None: unpaced."""

    def __init__(
        self,
        rate: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._interval = 1 / rate if rate else 0.0
        self._next_slot = 0.0
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def take(self) -> float:
        """Waits for the next free slot: the seconds waited."""
        if not self._interval:
            return 0.0
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
        if slot > now:
            self._sleep(slot - now)
        return slot - now


@dataclass
class Wave:
    number: int
    size: int
    trigger: str
    all_started_at: float
    first_signal_at: float
    signals_done_at: float
    ended_at: float = 0.0


@dataclass
class Burst:
    started_at: float
    starts_done_at: float = 0.0
    all_started_at: float = 0.0
    ended_at: float = 0.0
    waves: list[Wave] = field(default_factory=list)
    sweeps: list[Future[dict[str, Any]]] = field(default_factory=list)
    # SSM calls refused for the local AWS's rates during the burst, by action
    throttled: Counter[str] = field(default_factory=Counter)
    # every call from the first signal to the last workflow's end: (caller, service, action)
    decision_calls: Counter[tuple[str, str, str]] = field(default_factory=Counter)


def start_one(gate: BurstGate, approval: Approval) -> None:
    approval.started_at = time.time()
    try:
        approval.execution_arn = gate.start(approval.request, name=approval.name)
    except Exception as error:  # reported by the checks; the burst goes on
        approval.start_error = f"{type(error).__name__}: {error}"


def decide_one(gate: BurstGate, bucket: SignalBucket, approval: Approval) -> None:
    comment = f"burst decision {approval.index}"
    try:
        for approver, signal in approval.signals[:-1]:
            send_signal(gate, bucket, approval, approver, signal, comment)
        approver, signal = approval.signals[-1]
        approval.signalled_at = send_signal(gate, bucket, approval, approver, signal, comment)
        approval.signal_seconds = time.time() - approval.signalled_at
    except Exception as error:
        approval.signal_error = f"{type(error).__name__}: {error}"
        approval.signalled_at = approval.signalled_at or time.time()


def send_signal(
    gate: BurstGate,
    bucket: SignalBucket,
    approval: Approval,
    approver: str,
    signal: str,
    comment: str,
) -> float:
    """One approver's signal, sent again after a pause while SSM refuses it for a reason
    that passes (RETRIED_SIGNAL_ERRORS); when the attempt SSM took was sent."""
    give_up_at = time.time() + SIGNAL_RETRY_FOR_S
    while True:
        bucket.take()
        sent_at = time.time()
        try:
            gate.decide(approver, approval.automation_id, signal, comment)
            return sent_at
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code not in RETRIED_SIGNAL_ERRORS or time.time() > give_up_at:
                raise
        approval.signal_retries += 1
        time.sleep(SIGNAL_RETRY_PAUSE_S)


def stage(approval: Approval) -> str:
    if approval.started_at is None:
        return "not started"
    if approval.automation_seen_at is None:
        return "no automation"
    return "not decided" if approval.signalled_at is None else "still running"


def run_burst(
    gate: BurstGate,
    approvals: list[Approval],
    pool: ThreadPoolExecutor,
    bucket: SignalBucket,
    options: argparse.Namespace,
) -> Burst:
    by_name = {approval.name: approval for approval in approvals}
    throttled_before = ssm_throttled(gate.aws)
    calls_before: Counter[tuple[str, str, str]] | None = None
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
        if any(a.open and not a.automation_id for a in approvals) and see_started(
            gate, by_name, now
        ):
            last_new = now
        if now >= next_listing:
            for item in executions(gate):
                approval = by_name.get(item["name"])
                if approval is not None and item["status"] != "RUNNING" and not approval.status:
                    approval.status = item["status"]
                    approval.ended_at = item["stopDate"].timestamp()
            # Each listing and each scan of the records holds the local AWS's one GIL for tens
            # to hundreds of milliseconds, delaying the gate's paced SSM calls past their slots
            # (SSM then throttles the next): the bench looks seldom, and before the first
            # signal, when only a failed execution can end, more seldom still.
            next_listing = now + (options.listing_interval if burst.waves else LISTING_BEFORE_S)
        if burst.starts_done_at and all(
            a.start_error or a.status or (a.signal_error and a.signalled_at) for a in approvals
        ):
            break
        remaining = [a for a in approvals if a.open]
        ready = [a for a in remaining if a.automation_id]
        trigger = ""
        if ready and len(ready) == len(remaining) and burst.starts_done_at:
            trigger = "all started"
        elif ready and now - last_new >= options.stall:
            trigger = f"no new automation for {options.stall:.0f} s"
        if trigger:
            if calls_before is None:
                calls_before = call_counts(gate.aws)
                if options.pause_scheduled_sweep:
                    set_sweep_schedule(gate, enabled=False)
            wave = decide_wave(gate, bucket, ready, pool, len(burst.waves) + 1, trigger)
            burst.waves.append(wave)
            if options.sweep_during_decisions:
                burst.sweeps.append(pool.submit(invoke_sweep, gate))
            continue
        time.sleep(options.poll)
    if options.pause_scheduled_sweep:
        set_sweep_schedule(gate, enabled=True)
    burst.throttled = ssm_throttled(gate.aws) - throttled_before
    if calls_before is not None:
        burst.decision_calls = call_counts(gate.aws) - calls_before
    seen = [a.automation_seen_at for a in approvals if a.automation_seen_at is not None]
    burst.all_started_at = max(seen, default=0.0)
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
    answer: dict[str, Any] = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        raise BenchError(f"the sweep failed: {answer}")
    return answer


def see_started(gate: BurstGate, by_name: dict[str, Approval], now: float) -> bool:
    """Notes the automation of each approval whose record names one by now (start_approval
    writes it once SSM started or queued it); True if any is new."""
    new = False
    for record in approval_records(gate):
        approval = by_name.get(execution_name(record.get("execution_arn", "")))
        automation_id = record.get("automation_execution_id")
        if approval is not None and automation_id and not approval.automation_id:
            approval.automation_id = automation_id
            approval.automation_seen_at = now
            new = True
    return new


def decide_wave(
    gate: BurstGate,
    bucket: SignalBucket,
    ready: list[Approval],
    pool: ThreadPoolExecutor,
    number: int,
    trigger: str,
) -> Wave:
    """Decides `ready`, the oldest automations first: SSM runs the queued ones in that order."""
    note(f"      wave {number}: {len(ready)} approvals decided at once ({trigger})")
    first = time.time()
    ordered = sorted(ready, key=lambda a: (a.automation_seen_at or 0.0, a.index))
    for approval in ordered:
        approval.wave = number
    wait([pool.submit(decide_one, gate, bucket, approval) for approval in ordered])
    return Wave(
        number=number,
        size=len(ready),
        trigger=trigger,
        all_started_at=max(a.automation_seen_at or 0.0 for a in ready),
        first_signal_at=first,
        signals_done_at=time.time(),
    )
