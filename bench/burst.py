"""A burst of concurrent approvals through the gate deployed in the local AWS.

    make package
    python bench/burst.py [--approvals 200] [--reject-every 4] [--quorum-every 5]
                          [--threads 50] [--max-concurrent-automations N]
                          [--sweep-during-decisions] [--json [PATH]]

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
import contextlib
import json
import logging
import math
import os
import platform
import resource
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter, defaultdict
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # sandbox/ and scripts/ are packages of the repository
    sys.path.insert(0, str(REPO_ROOT))

from sandbox.server import LocalAws  # noqa: E402
from scripts.gate_terraform import GateError  # noqa: E402
from scripts.local_gate import FAKE_KEYS, LocalGate  # noqa: E402

# The errors start_approval raises when SSM refuses to start an automation; the state
# machine retries them (terraform/modules/approval_gate/templates/state_machine.asl.json.tftpl).
START_RETRY_ERRORS = ("ApprovalStartThrottled", "ApprovalConcurrencyLimitExceeded")
EXPECTED_AUTOMATION_STATUS = {"Approved": ("Success",), "Rejected": ("Failed", "Success")}
PERCENTILES = (50, 90, 99)


class BenchError(Exception):
    """The bench cannot go on; the message says why."""


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the gate, shared by the threads -------------------------------------------------------


class BurstGate(LocalGate):
    """LocalGate whose boto3 clients are made once and shared by every thread.

    boto3 clients are thread-safe, but making them from many threads at once is not (one
    default session), and each costs tens of milliseconds of CPU in this process, which is
    also the local AWS's: LocalGate makes a new client per call. The connection pool is as
    large as the thread pool. (A cache like this one could live in LocalGate itself.)
    """

    def __init__(self, aws: LocalAws, connections: int, **kwargs: Any):
        super().__init__(aws, **kwargs)
        self._session = boto3.session.Session()
        # No hidden retries: a call the local AWS fails shows up as an error of the bench.
        self._config = Config(max_pool_connections=connections, retries={"total_max_attempts": 1})
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._clients_lock = threading.Lock()

    def client(self, service: str, approver: str | None = None) -> Any:
        with self._clients_lock:
            client = self._clients.get((service, approver))
            if client is None:
                keys = dict(FAKE_KEYS)
                if approver:
                    person = self.approvers[approver]
                    keys = {
                        "aws_access_key_id": person.access_key_id,
                        "aws_secret_access_key": person.secret_access_key,
                    }
                client = self._session.client(
                    service,
                    endpoint_url=self.aws.endpoint,
                    region_name=self.aws.region,
                    config=self._config,
                    **keys,
                )
                self._clients[service, approver] = client
            return client


# --- the approvals of the burst ------------------------------------------------------------


@dataclass
class Approval:
    index: int
    name: str  # of the workflow execution
    request: dict[str, Any]
    signals: tuple[tuple[str, str], ...]  # (approver, Approve|Reject) in order; the last decides
    expected: str  # Approved | Rejected
    execution_arn: str = ""
    started_at: float | None = None  # epoch seconds, before StartExecution
    start_error: str = ""
    automation_id: str = ""
    waiting_at: float | None = None  # the first poll that saw its automation Waiting
    wave: int = 0
    signalled_at: float | None = None  # before the deciding signal was sent
    signal_seconds: float | None = None  # how long the deciding SendAutomationSignal took
    signal_error: str = ""
    status: str = ""  # the execution's, once it ended
    ended_at: float | None = None  # its stopDate

    @property
    def deciders(self) -> set[str]:
        """Who the decision's decided_by must name."""
        kind = "Approve" if self.expected == "Approved" else "Reject"
        return {who for who, signal in self.signals if signal == kind}

    @property
    def open(self) -> bool:
        """Started, not decided yet, still running."""
        return not self.start_error and self.signalled_at is None and not self.status


def plan(count: int, reject_every: int, quorum_every: int, run: str) -> list[Approval]:
    approvals = []
    for index in range(count):
        rejected = reject_every > 0 and index % reject_every == reject_every - 1
        quorum = quorum_every > 0 and index % quorum_every == quorum_every - 1
        approvers = ("alice", "bob", "carol") if quorum else ("alice", "bob")
        if rejected:  # one rejection decides, whatever the quorum
            signals: tuple[tuple[str, str], ...] = (("bob", "Reject"),)
        elif quorum:
            signals = (("alice", "Approve"), ("carol", "Approve"))
        else:
            signals = (("alice", "Approve"),)
        request = {
            "message": f"Burst {run}: release {index}?",
            "approvers": [LocalGate.principal_arn(name) for name in approvers],
            "min_required_approvals": 2 if quorum else 1,
        }
        approvals.append(
            Approval(
                index=index,
                name=f"burst-{run}-{index:04d}",
                request=request,
                signals=signals,
                expected="Rejected" if rejected else "Approved",
            )
        )
    return approvals


# --- what the local AWS says ---------------------------------------------------------------


def waiting_automations(gate: BurstGate) -> set[str]:
    paginator = gate.client("ssm").get_paginator("describe_automation_executions")
    filters = [
        {"Key": "DocumentNamePrefix", "Values": [gate.outputs["document_name"]]},
        {"Key": "ExecutionStatus", "Values": ["Waiting"]},
    ]
    return {
        item["AutomationExecutionId"]
        for page in paginator.paginate(Filters=filters)
        for item in page["AutomationExecutionMetadataList"]
    }


def all_automations(gate: BurstGate) -> list[dict[str, Any]]:
    paginator = gate.client("ssm").get_paginator("describe_automation_executions")
    filters = [{"Key": "DocumentNamePrefix", "Values": [gate.outputs["document_name"]]}]
    return [
        item
        for page in paginator.paginate(Filters=filters)
        for item in page["AutomationExecutionMetadataList"]
    ]


RECORD_FIELDS = (
    "approval_id",
    "execution_arn",
    "automation_execution_id",
    "status",
    "outcome",
    "callback",
    "callback_error",
    "closed_reason",
    "decided_at",
    "updated_at",
)


def approval_records(gate: BurstGate) -> list[dict[str, Any]]:
    """Every approval record, without its task token (a scan: one call, not one per record)."""
    names = {f"#f{i}": name for i, name in enumerate(RECORD_FIELDS)}
    paginator = gate.client("dynamodb").get_paginator("scan")
    pages = paginator.paginate(
        TableName=gate.outputs["approvals_table_name"],
        FilterExpression="begins_with(pk, :prefix)",
        ProjectionExpression=", ".join(names),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={":prefix": {"S": "approval#"}},
    )
    return [
        {name: next(iter(value.values())) for name, value in item.items()}
        for page in pages
        for item in page["Items"]
    ]


def executions(gate: BurstGate) -> list[dict[str, Any]]:
    paginator = gate.client("stepfunctions").get_paginator("list_executions")
    return [
        item
        for page in paginator.paginate(stateMachineArn=gate.outputs["state_machine_arn"])
        for item in page["executions"]
    ]


def history(gate: BurstGate, execution_arn: str) -> list[dict[str, Any]]:
    paginator = gate.client("stepfunctions").get_paginator("get_execution_history")
    return [e for page in paginator.paginate(executionArn=execution_arn) for e in page["events"]]


def execution_name(execution_arn: str) -> str:
    return execution_arn.rsplit(":", 1)[-1]


# --- the burst -----------------------------------------------------------------------------


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


# --- checks --------------------------------------------------------------------------------


@dataclass
class Checked:
    problems: list[str] = field(default_factory=list)
    start_retries: Counter[str] = field(default_factory=Counter)
    retries_per_execution: Counter[str] = field(default_factory=Counter)
    # per approval: when its delivery claimed the decision (the record's decided_at) and
    # when Step Functions took the callback (the TaskSucceeded event)
    claimed_at: dict[str, float] = field(default_factory=dict)
    answered_at: dict[str, float] = field(default_factory=dict)
    automations: int = 0
    records: int = 0
    executions: int = 0
    dead_letters: int = 0


def check(gate: BurstGate, approvals: list[Approval], pool: ThreadPoolExecutor) -> Checked:
    checked = Checked()
    problems = checked.problems
    started = [a for a in approvals if not a.start_error]
    for approval in approvals:
        if approval.start_error:
            problems.append(f"{approval.name}: StartExecution failed: {approval.start_error}")
        elif approval.signal_error:
            problems.append(f"{approval.name}: the signal failed: {approval.signal_error}")
        elif not approval.status:
            problems.append(f"{approval.name}: still running")

    def inspect(approval: Approval) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        described = gate.client("stepfunctions").describe_execution(
            executionArn=approval.execution_arn
        )
        return described, history(gate, approval.execution_arn)

    records = defaultdict(list)
    for record in approval_records(gate):
        records[execution_name(record.get("execution_arn", ""))].append(record)
    checked.records = sum(len(found) for found in records.values())
    for approval, (described, events) in zip(started, pool.map(inspect, started), strict=True):
        check_execution(approval, described, gate, problems)
        check_history(approval, events, checked)
        check_records(approval, records.pop(approval.name, []), checked)
    for name, extra in records.items():
        problems.append(f"{len(extra)} approval records of an execution not in the burst: {name}")

    automations = all_automations(gate)
    checked.automations = len(automations)
    if len(automations) != len(started):
        problems.append(
            f"{len(automations)} automations of the gate's document were started for "
            f"{len(started)} executions"
        )
    parameters = pool.map(
        lambda item: gate.client("ssm").get_automation_execution(
            AutomationExecutionId=item["AutomationExecutionId"]
        )["AutomationExecution"]["Parameters"],
        automations,
    )
    approval_ids = Counter(p.get("ApprovalId", ["?"])[0] for p in parameters)
    duplicated = {aid: n for aid, n in approval_ids.items() if n > 1}
    if duplicated:
        problems.append(f"approvals with more than one automation: {duplicated}")
    expected_status = {a.automation_id: a.expected for a in started}
    for item in automations:
        status = item["AutomationExecutionStatus"]
        wanted = expected_status.get(item["AutomationExecutionId"])
        if wanted is None:
            problems.append(
                f"automation {item['AutomationExecutionId']} ({status}) was not signalled"
            )
        elif status not in EXPECTED_AUTOMATION_STATUS[wanted]:
            problems.append(f"automation {item['AutomationExecutionId']} is {status} ({wanted})")

    listed = executions(gate)
    checked.executions = len(listed)
    if len(listed) != len(started):
        problems.append(f"{len(listed)} executions of the state machine, {len(started)} started")

    attributes = gate.client("sqs").get_queue_attributes(
        QueueUrl=gate.outputs["dead_letter_queue_url"],
        AttributeNames=["ApproximateNumberOfMessages"],
    )["Attributes"]
    checked.dead_letters = int(attributes["ApproximateNumberOfMessages"])
    if checked.dead_letters:
        problems.append(f"{checked.dead_letters} results in the dead-letter queue")
    return checked


def check_records(approval: Approval, records: list[dict[str, Any]], checked: Checked) -> None:
    """One record, DECIDED as signalled, its callback DELIVERED, for the signalled automation."""
    if len(records) != 1:
        checked.problems.append(f"{approval.name}: {len(records)} approval records, not 1")
        return
    record = records[0]
    if (record.get("status"), record.get("callback")) != ("DECIDED", "DELIVERED"):
        checked.problems.append(
            f"{approval.name}: record {record.get('approval_id')} is "
            f"{record.get('status')} with callback {record.get('callback')} "
            f"({record.get('callback_error') or record.get('closed_reason') or '-'}), "
            "not DECIDED with callback DELIVERED"
        )
    if record.get("outcome") != approval.expected:
        checked.problems.append(
            f"{approval.name}: record outcome {record.get('outcome')}, "
            f"signalled {approval.expected}"
        )
    if record.get("automation_execution_id") != approval.automation_id:
        checked.problems.append(
            f"{approval.name}: record names automation {record.get('automation_execution_id')}, "
            f"the approvers signalled {approval.automation_id}"
        )
    if record.get("decided_at"):
        checked.claimed_at[approval.name] = epoch(record["decided_at"])


def check_execution(
    approval: Approval, described: dict[str, Any], gate: BurstGate, problems: list[str]
) -> None:
    if described["status"] != "SUCCEEDED":
        problems.append(
            f"{approval.name}: {described['status']} "
            f"({described.get('error', '')}: {described.get('cause', '')[:300]})"
        )
        return
    result = json.loads(described["output"]).get("approval", {})
    decided_by = {entry.get("approver") for entry in result.get("decided_by", [])}
    wanted_by = {gate.principal_arn(name) for name in approval.deciders}
    if (result.get("decision"), result.get("is_approved")) != (
        approval.expected,
        approval.expected == "Approved",
    ):
        problems.append(
            f"{approval.name}: decision {result.get('decision')} "
            f"(is_approved {result.get('is_approved')}), signalled {approval.expected}"
        )
    if decided_by != wanted_by:
        problems.append(
            f"{approval.name}: decided_by {sorted(decided_by)}, not {sorted(wanted_by)}"
        )
    if result.get("automation_execution_id") != approval.automation_id:
        problems.append(
            f"{approval.name}: output names automation {result.get('automation_execution_id')}"
            f", the approvers signalled {approval.automation_id}"
        )


def check_history(approval: Approval, events: list[dict[str, Any]], checked: Checked) -> None:
    """One TaskSucceeded; TaskFailed only for start errors the state machine retries."""
    succeeded = [e for e in events if e["type"] == "TaskSucceeded"]
    failed = [e for e in events if e["type"] == "TaskFailed"]
    other = Counter(
        e["type"] for e in events if e["type"].startswith("Task") and e["type"].endswith("Out")
    )
    if len(succeeded) != 1:
        checked.problems.append(f"{approval.name}: {len(succeeded)} TaskSucceeded events, not 1")
    else:
        checked.answered_at[approval.name] = succeeded[0]["timestamp"].timestamp()
    for event in failed:
        error = event.get("taskFailedEventDetails", {}).get("error", "?")
        if error in START_RETRY_ERRORS:
            checked.start_retries[error] += 1
            checked.retries_per_execution[approval.name] += 1
        else:
            checked.problems.append(f"{approval.name}: TaskFailed {error}")
    if other:
        checked.problems.append(f"{approval.name}: {dict(other)}")


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


# --- what the functions did, from their logs -----------------------------------------------


FUNCTIONS = {
    "start_approval": "start_approval_function_name",
    "receive_result": "receive_result_function_name",
    "sweep_approvals": "sweep_function_name",
    "close_approvals": "close_approvals_function_name",
}


def function_activity(gate: BurstGate) -> tuple[dict[str, dict[str, Any]], str]:
    """Per function: invocations, workers, durations, errors, messages; and the Python the
    workers ran on."""
    logs = gate.client("logs")
    activity, python = {}, ""
    for label, output in FUNCTIONS.items():
        group = f"/aws/lambda/{gate.outputs[output]}"
        durations, errors, messages, workers = [], Counter(), Counter(), 0
        try:
            pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group)
            lines = [event["message"] for page in pages for event in page["events"]]
        except logs.exceptions.ResourceNotFoundException:
            lines = []
        for line in lines:
            if line.startswith("REPORT RequestId"):
                durations.append(float(line.split("\tDuration: ", 1)[1].split(" ms", 1)[0]))
            elif line.startswith("INIT_START"):
                workers += 1
                python = python or line.partition("(sandbox: ")[2].rstrip(")")
            elif line.startswith("[ERROR] "):
                errors[line[8:].split(":", 1)[0]] += 1
            elif line.startswith("{"):
                with contextlib.suppress(ValueError, AttributeError):
                    message = json.loads(line).get("message")
                    if isinstance(message, str):
                        messages[message] += 1
        activity[label] = {
            "invocations": len(durations),
            "workers": workers,
            "duration_ms_median": round(statistics.median(durations), 1) if durations else None,
            "duration_ms_total": round(sum(durations)),
            "errors": dict(errors),
            "messages": dict(messages),
        }
    return activity, python


# What receive_result's delivery logs (services/receive_result/src/receive_result/service.py
# and sweep.py), counted over receive_result and the sweep (the same code).
DELIVERY_MESSAGES = {
    "delivered": "Decision delivered",
    "duplicates": "Duplicate: the decision was delivered before",
    "resumed": "Resuming a delivery that stopped before it was recorded",
    "refused": "Callback refused: the workflow no longer waits for this approval",
    "recovered_by_sweep": "Sweep delivered a decision its event had not delivered",
}


def delivery_log(activity: dict[str, dict[str, Any]]) -> dict[str, dict[str, int]]:
    return {
        key: {
            name: activity[name]["messages"].get(message, 0)
            for name in ("receive_result", "sweep_approvals")
        }
        for key, message in DELIVERY_MESSAGES.items()
    }


def check_deliveries(
    deliveries: dict[str, dict[str, int]], count: int, problems: list[str]
) -> None:
    """Every workflow waits for its decision here: each decision is delivered once, and no
    callback may be refused."""
    delivered = sum(deliveries["delivered"].values())
    if delivered != count:
        problems.append(
            f"'Decision delivered' logged {delivered} times for {count} approvals "
            f"({deliveries['delivered']})"
        )
    refused = sum(deliveries["refused"].values())
    if refused:
        problems.append(
            f"{refused} callbacks refused ({deliveries['refused']}) although every workflow "
            f"waited for its decision; deliveries resumed: {deliveries['resumed']}"
        )


def settled_activity(gate: BurstGate, ended: int) -> tuple[dict[str, dict[str, Any]], str]:
    """function_activity once close_approvals has run for every ended execution (it runs
    asynchronously after each end), or after a minute."""
    deadline = time.time() + 60
    while True:
        activity, python = function_activity(gate)
        if activity["close_approvals"]["invocations"] >= ended or time.time() > deadline:
            return activity, python
        time.sleep(1)


# --- memory and machine --------------------------------------------------------------------


def proc_status(pid: int | str, key: str) -> int | None:
    """A kB value of /proc/<pid>/status (VmRSS, VmHWM), or None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (/proc/<pid>/stat), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def lambda_workers(aws: LocalAws) -> dict[str, Any]:
    """The running Lambda workers (their own processes): peak RSS and CPU time, by function."""
    peaks: defaultdict[str, list[int]] = defaultdict(list)
    cpu: defaultdict[str, float] = defaultdict(float)
    for worker in aws.api("/moto-api/sandbox/lambda/workers", method="GET")["workers"]:
        peak, used = proc_status(worker["pid"], "VmHWM"), cpu_seconds(worker["pid"])
        if peak is not None:
            peaks[worker["function_name"]].append(peak)
        cpu[worker["function_name"]] += used or 0.0
    every = [kb for found in peaks.values() for kb in found]
    return {
        "workers": len(every),
        "peak_rss_mb_max": round(max(every) / 1024, 1) if every else None,
        "peak_rss_mb_sum": round(sum(every) / 1024, 1) if every else None,
        "cpu_s": round(sum(cpu.values()), 1),
        "per_function": {
            name: {"workers": len(found), "cpu_s": round(cpu[name], 1)}
            for name, found in sorted(peaks.items())
        },
    }


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "moto": version("moto"),
        "boto3": version("boto3"),
    }


# --- the report ----------------------------------------------------------------------------


def percentiles(values: list[float]) -> dict[str, float | None]:
    ordered = sorted(values)
    if not ordered:
        return {f"p{p}": None for p in PERCENTILES} | {"max": None}
    found = {f"p{p}": ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] for p in PERCENTILES}
    return {name: round(value, 3) for name, value in (found | {"max": ordered[-1]}).items()}


def seconds(values: dict[str, float | None]) -> str:
    return ", ".join(f"{k} {v:.2f} s" if v is not None else f"{k} -" for k, v in values.items())


def summarize(
    approvals: list[Approval],
    burst: Burst,
    checked: Checked,
    activity: dict[str, Any],
    context: dict[str, Any],
) -> dict[str, Any]:
    decided = [a for a in approvals if a.signalled_at and a.ended_at and not a.signal_error]
    waited = [a for a in approvals if a.waiting_at and a.started_at]
    to_end = [a.ended_at - a.signalled_at for a in decided]
    claim = [
        checked.claimed_at[a.name] - a.signalled_at for a in decided if a.name in checked.claimed_at
    ]
    answer = [
        checked.answered_at[a.name] - checked.claimed_at[a.name]
        for a in decided
        if a.name in checked.answered_at and a.name in checked.claimed_at
    ]
    finish = [
        a.ended_at - checked.answered_at[a.name] for a in decided if a.name in checked.answered_at
    ]
    first = burst.waves[0] if burst.waves else None
    first_members = [a for a in approvals if first and a.wave == first.number]
    window = sum(w.ended_at - w.first_signal_at for w in burst.waves if w.ended_at)
    waves = [
        {
            "wave": w.number,
            "size": w.size,
            "trigger": w.trigger,
            "all_waiting_s": round(w.all_waiting_at - burst.started_at, 2),
            "signals_sent_s": round(w.signals_done_at - w.first_signal_at, 2),
            "all_ended_s": round(w.ended_at - w.first_signal_at, 2),
            "decisions_per_s": round(w.size / (w.ended_at - w.first_signal_at), 1)
            if w.ended_at > w.first_signal_at
            else None,
        }
        for w in burst.waves
    ]
    retried = checked.retries_per_execution
    return {
        "passed": not checked.problems,
        "problems": checked.problems,
        "approvals": len(approvals),
        "mix": {
            "approved": sum(a.expected == "Approved" for a in approvals),
            "rejected": sum(a.expected == "Rejected" for a in approvals),
            "quorum_of_2": sum(a.request["min_required_approvals"] == 2 for a in approvals),
            "signals": sum(len(a.signals) for a in approvals),
        },
        "requests": {
            "start_calls_s": round(burst.starts_done_at - burst.started_at, 2),
            "all_waiting_s": round(burst.all_waiting_at - burst.started_at, 2),
            "approvals_per_s": round(len(waited) / (burst.all_waiting_at - burst.started_at), 1)
            if burst.all_waiting_at > burst.started_at
            else None,
            "first_wave_per_s": round(
                len(first_members) / (first.all_waiting_at - burst.started_at), 1
            )
            if first and first.all_waiting_at > burst.started_at
            else None,
            "time_to_waiting_s": percentiles([a.waiting_at - a.started_at for a in waited]),
            "start_retries": sum(checked.start_retries.values()),
            "start_retries_by_error": dict(checked.start_retries),
            "executions_retried": len(retried),
            "max_retries_of_one_execution": max(retried.values(), default=0),
        },
        "decisions": {
            "delivered": len(decided),
            "signal_to_end_s": percentiles(to_end),
            "decisions_per_s": round(len(decided) / window, 1) if window else None,
            "signal_call_s": percentiles([a.signal_seconds for a in decided if a.signal_seconds]),
            "breakdown_s": {
                "signal_to_claim": percentiles(claim),
                "claim_to_task_succeeded": percentiles(answer),
                "task_succeeded_to_end": percentiles(finish),
            },
            "waves": waves,
        },
        "checks": {
            "executions": checked.executions,
            "automations": checked.automations,
            "records": checked.records,
            "dead_letters": checked.dead_letters,
        },
        "burst_s": round(burst.ended_at - burst.started_at, 2),
        "functions": activity,
        **context,
    }


def report(summary: dict[str, Any]) -> str:
    requests, decisions = summary["requests"], summary["decisions"]
    mix, memory, host = summary["mix"], summary["memory"], summary["machine"]
    settings = summary["sandbox"]
    retries = requests["start_retries_by_error"]
    lines = [
        f"Burst of {summary['approvals']} approvals: {mix['approved']} approved, "
        f"{mix['rejected']} rejected, {mix['quorum_of_2']} with a quorum of 2 "
        f"({mix['signals']} signals)",
        f"Machine: {host['cpus']} CPUs ({host['cpu_model']}), Python {host['python']}, "
        f"moto {host['moto']}, {host['platform']}; load average "
        f"{summary['load_average']['before']} before, {summary['load_average']['after']} after",
        f"Sandbox: max_concurrent_executions {settings['max_concurrent_executions']} "
        f"({settings['limit_origin']}), max_workers_per_version "
        f"{settings['max_workers_per_version']}; functions on {summary['lambda_python']}",
        "",
        f"Requests: {summary['approvals']} StartExecution calls in {requests['start_calls_s']} s; "
        f"all approvals waiting after {requests['all_waiting_s']} s "
        f"({requests['approvals_per_s']} approvals/s; first wave {requests['first_wave_per_s']}/s)",
        f"  time to waiting: {seconds(requests['time_to_waiting_s'])}",
        f"  start retries: {requests['start_retries']}{f' {retries}' if retries else ''} in "
        f"{requests['executions_retried']} executions "
        f"(at most {requests['max_retries_of_one_execution']} for one)",
        f"Decisions: {decisions['delivered']} delivered, {decisions['decisions_per_s']} "
        "decisions/s (decision windows)",
        f"  signal -> workflow end: {seconds(decisions['signal_to_end_s'])}",
    ]
    for part, values in decisions["breakdown_s"].items():
        lines.append(f"    {part.replace('_', ' ')}: {seconds(values)}")
    lines.append(f"  SendAutomationSignal call: {seconds(decisions['signal_call_s'])}")
    for wave in decisions["waves"]:
        lines.append(
            f"  wave {wave['wave']}: {wave['size']} ({wave['trigger']}), all waiting at "
            f"{wave['all_waiting_s']} s, signals sent in {wave['signals_sent_s']} s, all ended "
            f"{wave['all_ended_s']} s after the first signal ({wave['decisions_per_s']}/s)"
        )
    found = summary["deliveries"]
    lines.append(
        "  deliveries (logs, receive_result + sweep): "
        + "; ".join(f"{key.replace('_', ' ')} {sum(by.values())} {by}" for key, by in found.items())
    )
    for number, sweep in enumerate(summary["sweeps_invoked"], 1):
        lines.append(f"  sweep invoked by the bench after wave {number}: {sweep}")
    lines.append("Functions:")
    for name, done in summary["functions"].items():
        lines.append(
            f"  {name}: {done['invocations']} invocations on {done['workers']} workers, median "
            f"{done['duration_ms_median']} ms, total {done['duration_ms_total'] / 1000:.1f} s"
            + (f", errors {done['errors']}" if done["errors"] else "")
        )
    lines += [
        f"Memory: this process (local AWS + bench) peak RSS {memory['process_peak_rss_mb']} MB "
        f"({memory['process_rss_before_burst_mb']} MB before the burst); "
        f"{memory['lambda_workers']['workers']} Lambda workers, peak RSS "
        f"{memory['lambda_workers']['peak_rss_mb_max']} MB max, "
        f"{memory['lambda_workers']['peak_rss_mb_sum']} MB together",
        f"CPU: this process {summary['process_cpu_during_burst_s']} s during the "
        f"{summary['burst_s']} s burst (the local AWS's threads and the bench's, one GIL); "
        f"Lambda workers {memory['lambda_workers']['cpu_s']} s in all "
        + ", ".join(
            f"{name} {done['cpu_s']} s/{done['workers']}"
            for name, done in memory["lambda_workers"]["per_function"].items()
        ),
        f"Times: deploy {summary['deploy_s']} s, burst {summary['burst_s']} s, checks "
        f"{summary['checks_s']} s, destroy {summary['destroy_s']} s, wall {summary['wall_s']} s",
        f"Checked: {summary['checks']['executions']} executions, "
        f"{summary['checks']['automations']} automations, {summary['checks']['records']} "
        f"records, {summary['checks']['dead_letters']} dead letters",
    ]
    if summary["problems"]:
        lines.append(f"FAILED: {len(summary['problems'])} problems")
        lines += [f"  - {problem}" for problem in summary["problems"][:50]]
        if len(summary["problems"]) > 50:
            lines.append(f"  ... and {len(summary['problems']) - 50} more (--json lists all)")
    else:
        lines.append(
            f"PASSED: all {summary['approvals']} decided as signalled, none lost, none duplicated"
        )
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------


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
            "lambda_workers": lambda_workers(aws),
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
