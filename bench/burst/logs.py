"""What each function did, from its logs in the local AWS: invocations, workers, durations,
errors, and the messages of its deliveries."""

from __future__ import annotations

import contextlib
import json
import statistics
import time
from collections import Counter
from typing import Any

from bench.burst.gate import FUNCTIONS, BurstGate

# What the sweep logs when it went through everything it found (sweep_approvals.py), with its
# counts, summed over the run's sweeps: "finished", the ended automations it read to deliver;
# "left_to_their_event", those that ended within its grace, left unread to their event.
SWEEP_DONE = "Sweep done"


def function_activity(gate: BurstGate) -> tuple[dict[str, dict[str, Any]], str]:
    """Per function: invocations, workers, durations, errors, messages; and the Python the
    workers ran on."""
    logs = gate.client("logs")
    activity, python = {}, ""
    for label, output in FUNCTIONS.items():
        group = f"/aws/lambda/{gate.outputs[output]}"
        durations: list[float] = []
        errors: Counter[str] = Counter()
        messages: Counter[str] = Counter()
        sweep_counts: Counter[str] = Counter()
        workers = 0
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
                    record = json.loads(line)
                    message = record.get("message")
                    if isinstance(message, str):
                        messages[message] += 1
                    if message == SWEEP_DONE:
                        sweep_counts.update(
                            {k: v for k, v in record.items() if type(v) is int}  # not bools
                        )
        activity[label] = {
            "invocations": len(durations),
            "workers": workers,
            "duration_ms_median": round(statistics.median(durations), 1) if durations else None,
            "duration_ms_total": round(sum(durations)),
            "errors": dict(errors),
            "messages": dict(messages),
            "sweep_done_totals": dict(sorted(sweep_counts.items())),
        }
    return activity, python


# What receive_result's delivery logs (services/receive_result/src/receive_result/logic/:
# receive_result.py and sweep_approvals.py), counted over receive_result and the sweep (the
# same code).
DELIVERY_MESSAGES = {
    "delivered": "Decision delivered",
    "duplicates": "Duplicate: the decision was delivered before",
    "resumed": "Resuming a delivery that stopped before it was recorded",
    "refused": "Callback refused: the workflow no longer waits for this approval",
    "recovered_by_sweep": "Sweep delivered a decision its event had not delivered",
    # The delivery lease: another attempt held the callback (receive_result raised for
    # Lambda's retry; the sweep skipped the approval till its next run).
    "stepped_aside": "Stepped aside: another attempt is delivering this decision",
    "skipped_held": "Skipped: the decision is being delivered right now (its event, most likely)",
}


def delivery_log(activity: dict[str, dict[str, Any]]) -> dict[str, dict[str, int]]:
    return {
        key: {
            name: activity[name]["messages"].get(message, 0)
            for name in ("receive_result", "sweep_approvals")
        }
        for key, message in DELIVERY_MESSAGES.items()
    }


def settled_activity(gate: BurstGate, ended: int) -> tuple[dict[str, dict[str, Any]], str]:
    """function_activity once close_approvals has run for every ended execution (it runs
    asynchronously after each end), or after a minute."""
    deadline = time.time() + 60
    while True:
        activity, python = function_activity(gate)
        if activity["close_approvals"]["invocations"] >= ended or time.time() > deadline:
            return activity, python
        time.sleep(1)


# What the sweep logs when the pacing leaves it no slot of SSM's rate within its wait
# (sweep_approvals.py): the deliveries under way have it, the next sweep goes on.
SWEEP_DEFERRED = "Sweep stopped: SSM's rate is taken"


def sweeps_deferred(activity: dict[str, dict[str, Any]]) -> int:
    messages = activity["sweep_approvals"]["messages"]
    return sum(count for message, count in messages.items() if message.startswith(SWEEP_DEFERRED))
