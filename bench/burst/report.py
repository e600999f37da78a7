"""The results of a burst: the JSON summary (--json) and the text report printed from it."""

from __future__ import annotations

import math
from collections import Counter
from itertools import pairwise
from typing import Any

from bench.burst.approvals import Approval
from bench.burst.checks import Checked
from bench.burst.driver import Burst
from bench.burst.gate import AWS_SSM_RATES
from bench.burst.logs import sweeps_deferred

PERCENTILES = (50, 90, 99)
# issue 10: starts and decisions at no less than 90% of what SSM's quotas allow
GOAL_FRACTION = 0.9


def percentiles(values: list[float]) -> dict[str, float | None]:
    ordered = sorted(values)
    if not ordered:
        return dict.fromkeys([*(f"p{p}" for p in PERCENTILES), "max"])
    found = {f"p{p}": ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] for p in PERCENTILES}
    return {name: round(value, 3) for name, value in (found | {"max": ordered[-1]}).items()}


def seconds(values: dict[str, float | None]) -> str:
    return ", ".join(f"{k} {v:.2f} s" if v is not None else f"{k} -" for k, v in values.items())


def steady_rate(times: list[float]) -> dict[str, Any]:
    """How fast a series of events came, from first to last: (n - 1) / (last - first), and
    the gaps between consecutive ones (a start SSM throttled leaves a gap of two slots)."""
    ordered = sorted(times)
    span = ordered[-1] - ordered[0] if len(ordered) > 1 else 0.0
    return {
        "count": len(ordered),
        "first_to_last_s": round(span, 2),
        "per_s": round((len(ordered) - 1) / span, 3) if span else None,
        "gap_s": percentiles([later - earlier for earlier, later in pairwise(ordered)]),
    }


def against_quota(
    rate: dict[str, Any], action: str, rates: dict[str, int | None]
) -> dict[str, Any]:
    """`rate` as a fraction of the action's quota during the burst; of AWS's figure when the
    quota was lifted."""
    quota = rates.get(action)
    lifted = quota is None
    quota = AWS_SSM_RATES[action] if lifted else quota
    fraction = round(rate["per_s"] / quota, 3) if rate["per_s"] and quota else None
    return rate | {
        "quota": action,
        "quota_per_s": quota,
        "quota_lifted": lifted,
        "fraction_of_quota": fraction,
        "goal_met": fraction is not None and fraction >= GOAL_FRACTION,
    }


def caller_name(caller: str) -> str:
    """A role's or user's name from its ARN; a service principal as it is."""
    return caller.rsplit("/", 1)[-1]


def at_rates(
    approvals: list[Approval],
    burst: Burst,
    checked: Checked,
    activity: dict[str, Any],
    rates: dict[str, int | None],
    burst_seconds: int,
    sweep_paused: bool,
) -> dict[str, Any]:
    """The burst against SSM's quotas: how close the starts and the decisions came, and the
    retries it took."""
    ssm_calls: Counter[str] = Counter()
    gets: Counter[str] = Counter()
    for (caller, service, action), count in burst.decision_calls.items():
        if service == "ssm":
            ssm_calls[action] += count
            if action == "GetAutomationExecution":
                gets[caller_name(caller)] += count
    decisions = len(checked.claimed_at)
    return {
        "ssm_rates": rates,
        "burst_seconds": burst_seconds,
        "scheduled_sweep_paused_during_decisions": sweep_paused,
        "starts": against_quota(
            steady_rate(checked.automations_started_at), "StartAutomationExecution", rates
        ),
        "decisions": against_quota(
            steady_rate(list(checked.claimed_at.values())), "GetAutomationExecution", rates
        ),
        "ssm_calls_during_decisions": dict(sorted(ssm_calls.items())),
        "get_calls_during_decisions": {
            "total": sum(gets.values()),
            "per_decision": round(sum(gets.values()) / decisions, 2) if decisions else None,
            "by_caller": dict(sorted(gets.items())),
        },
        # Over every sweep of the run (the sweep's "Sweep done" log); before the first signal
        # and after the last end nothing has ended that waits, so these are the decisions'.
        "sweeps_done": activity["sweep_approvals"]["sweep_done_totals"],
        "retries": {
            "throttled_by_ssm": dict(sorted(burst.throttled.items())),
            "approval_start_throttled": checked.start_retries.get("ApprovalStartThrottled", 0),
            "receive_result_errors": activity["receive_result"]["errors"],
            "sweeps_deferred": sweeps_deferred(activity),
            "signals_sent_again": sum(a.signal_retries for a in approvals),
        },
    }


def summarize(
    approvals: list[Approval],
    burst: Burst,
    checked: Checked,
    activity: dict[str, Any],
    context: dict[str, Any],
) -> dict[str, Any]:
    decided = [a for a in approvals if a.signalled_at and a.ended_at and not a.signal_error]
    seen = [a for a in approvals if a.automation_seen_at and a.started_at]
    # (x or 0.0): set for every approval of these lists, which the types cannot tell
    to_end = [(a.ended_at or 0.0) - (a.signalled_at or 0.0) for a in decided]
    claim = [
        checked.claimed_at[a.name] - (a.signalled_at or 0.0)
        for a in decided
        if a.name in checked.claimed_at
    ]
    answer = [
        checked.answered_at[a.name] - checked.claimed_at[a.name]
        for a in decided
        if a.name in checked.answered_at and a.name in checked.claimed_at
    ]
    finish = [
        (a.ended_at or 0.0) - checked.answered_at[a.name]
        for a in decided
        if a.name in checked.answered_at
    ]
    first = burst.waves[0] if burst.waves else None
    first_members = [a for a in approvals if first and a.wave == first.number]
    window = sum(w.ended_at - w.first_signal_at for w in burst.waves if w.ended_at)
    waves = [
        {
            "wave": w.number,
            "size": w.size,
            "trigger": w.trigger,
            "all_started_s": round(w.all_started_at - burst.started_at, 2),
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
            "all_started_s": round(burst.all_started_at - burst.started_at, 2),
            "approvals_per_s": round(len(seen) / (burst.all_started_at - burst.started_at), 2)
            if burst.all_started_at > burst.started_at
            else None,
            "first_wave_per_s": round(
                len(first_members) / (first.all_started_at - burst.started_at), 2
            )
            if first and first.all_started_at > burst.started_at
            else None,
            "time_to_automation_s": percentiles(
                [(a.automation_seen_at or 0.0) - (a.started_at or 0.0) for a in seen]
            ),
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
        "at_rates": at_rates(
            approvals,
            burst,
            checked,
            activity,
            context["sandbox"]["ssm_rates_during_burst"],
            context["sandbox"]["ssm_rate_burst_seconds"],
            context["options"]["pause_scheduled_sweep"],
        ),
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
        *rates_report(summary["at_rates"]),
        "",
        f"Requests: {summary['approvals']} StartExecution calls in {requests['start_calls_s']} s; "
        f"every approval's automation in the records after {requests['all_started_s']} s "
        f"({requests['approvals_per_s']} approvals/s; first wave {requests['first_wave_per_s']}/s)",
        f"  time to automation (StartExecution to the record naming it): "
        f"{seconds(requests['time_to_automation_s'])}",
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
            f"  wave {wave['wave']}: {wave['size']} ({wave['trigger']}), all started at "
            f"{wave['all_started_s']} s, signals sent in {wave['signals_sent_s']} s, all ended "
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


def rates_report(found: dict[str, Any]) -> list[str]:
    rates = found["ssm_rates"]
    lifted = all(rate is None for rate in rates.values())
    lines = [
        "SSM's API rates and the gate's pacing lifted (--no-rates): the emulator's ceiling, set "
        "against AWS's figures"
        if lifted
        else "At SSM's rates (calls/s per account and Region): "
        + ", ".join(f"{action} {rate}" for action, rate in rates.items())
        + f"; each bucket holds {found['burst_seconds']} s of calls",
    ]
    if not lifted and rates.get("SendAutomationSignal") != AWS_SSM_RATES["SendAutomationSignal"]:
        lines.append(
            f"  the approvers' SendAutomationSignal quota raised to "
            f"{rates['SendAutomationSignal']}/s so that the gate's delivery side, not the "
            "clicking, is measured"
        )
    for key, source in (
        ("starts", "automations' ExecutionStartTime"),
        ("decisions", "records' decided_at"),
    ):
        rate = found[key]
        fraction = rate["fraction_of_quota"]
        share = f"{fraction:.0%}" if fraction is not None else "-"
        if rate["quota_lifted"]:
            verdict = " (AWS's figure; lifted here)"
        else:
            verdict = f" (goal {GOAL_FRACTION:.0%}: {'met' if rate['goal_met'] else 'NOT met'})"
        lines += [
            f"  {key}: {rate['count']} in {rate['first_to_last_s']} s ({source}, first to "
            f"last): {rate['per_s']}/s = {share} of {rate['quota']}'s {rate['quota_per_s']}/s"
            + verdict,
            f"    gap between consecutive ones: {seconds(rate['gap_s'])}",
        ]
    gets, retries = found["get_calls_during_decisions"], found["retries"]
    lines += [
        f"  GetAutomationExecution calls from the first signal to the last workflow's end: "
        f"{gets['total']} ({gets['per_decision']} per decision) {gets['by_caller']}",
        f"  sweeps done (their logs, summed): {sweep_done_line(found['sweeps_done'])}",
        f"  SSM calls then: {found['ssm_calls_during_decisions']}"
        + (
            " (the scheduled sweep paused: --pause-scheduled-sweep)"
            if found["scheduled_sweep_paused_during_decisions"]
            else ""
        ),
        f"  retries: throttled by SSM {retries['throttled_by_ssm'] or 0}; ApprovalStartThrottled "
        f"{retries['approval_start_throttled']}; receive_result errors (events retried) "
        f"{retries['receive_result_errors'] or 0}; sweeps deferred for the rate "
        f"{retries['sweeps_deferred']}; signals sent again (step not waiting yet, throttled) "
        f"{retries['signals_sent_again']}",
    ]
    return lines


def sweep_done_line(totals: dict[str, int]) -> str:
    """The sweeps' reads and what they left to the events (receive_result before 0.6.0 logs
    no left_to_their_event)."""
    left = totals.get("left_to_their_event", "?")
    return (
        f"read {totals.get('finished', 0)} ended automations to deliver, left {left} that "
        f"ended within the grace to their event, delivered {totals.get('delivered', 0)}; "
        f"{totals}"
    )
