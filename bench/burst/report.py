"""The results of a burst: the JSON summary (--json) and the text report printed from it."""

from __future__ import annotations

import math
from typing import Any

from bench.burst.approvals import Approval
from bench.burst.checks import Checked
from bench.burst.driver import Burst

PERCENTILES = (50, 90, 99)


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
