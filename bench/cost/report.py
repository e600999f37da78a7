"""The text tables: this gate and the original stack side by side, the same rows."""

from __future__ import annotations

from typing import Any

from bench.cost.prices import PRICES, READ_ON, UNITS_SOURCE, UNVERIFIED


def _number(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "not measured"
    return f"{value:,.{digits}f}"


def _dollars(value: float) -> str:
    return f"${value:.8f}"


def table(result: dict[str, Any], approvals: int, emails: int) -> str:
    gate, original = result["gate"], result["original"]
    rows: list[tuple[str, str, str, str]] = []

    def row(name: str, key: str, price: str, digits: int = 2) -> None:
        rows.append((name, _number(gate[key], digits), _number(original[key], digits), price))

    for function in ("start_approval", "receive_result", "close_approvals"):
        rows.append(
            (
                f"Lambda invocations: {function}",
                _number(gate["lambda_invocations"].get(function, 0.0)),
                _number(original["lambda_invocations"].get(function, 0.0)),
                "$0.20 / 1M",
            )
        )
    for function in ("start_approval", "receive_result", "close_approvals"):
        memory = f"{gate['lambda_memory_mb'][function]} MB"
        other = original["lambda_memory_mb"].get(function)
        rows.append(
            (
                f"Lambda GB-s: {function}",
                f"{gate['lambda_gb_seconds'][function]:.4f} ({memory})",
                f"{original['lambda_gb_seconds'].get(function, 0.0):.4f}"
                + (f" ({other} MB)" if other else ""),
                "$0.0000166667 / GB-s",
            )
        )
    row("Step Functions transitions", "state_transitions", "$0.025 / 1,000")
    row("DynamoDB write request units", "dynamodb_wru", UNVERIFIED)
    row("DynamoDB read request units", "dynamodb_rru", UNVERIFIED)
    row("SSM Automation steps (aws:approve)", "ssm_automation_steps", UNVERIFIED)
    row("SNS publishes", "sns_publishes", UNVERIFIED)
    row("SNS e-mail deliveries", "email_deliveries", UNVERIFIED)
    row("X-Ray traces", "xray_traces", "$5.00 / 1M")
    row("CloudWatch Logs bytes ingested", "log_bytes", UNVERIFIED, 0)
    for key in ("lambda_requests", "lambda_gb_seconds", "state_transitions", "xray_traces"):
        rows.append(
            (
                f"$ {key.replace('_', ' ')}",
                _dollars(gate["dollars"][key]),
                _dollars(original["dollars"][key]),
                "",
            )
        )
    rows.append(
        (
            "$ total, verified prices only",
            _dollars(gate["dollars"]["total_verified"]),
            _dollars(original["dollars"]["total_verified"]),
            "",
        )
    )
    lines = [
        f"Per approval ({approvals} approvals; e-mail subscriptions on the gate's topic: {emails})",
        _format(("", "this gate", "the original stack", "price (us-east-1)"), rows),
        "",
        "Calls per approval, by caller",
        _format(("caller", "service:action", "this gate", "the original stack"), _calls(result)),
    ]
    return "\n".join(lines)


def _calls(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    gate, original = result["gate"]["calls"], result["original"]["calls"]
    keys = sorted(set(gate) | set(original))
    rows = [
        (
            caller,
            f"{service}:{action}",
            _number(gate.get((caller, service, action), 0.0)),
            _number(original.get((caller, service, action), 0.0)),
        )
        for caller, service, action in keys
    ]
    rows.append(
        (
            "all",
            "",
            _number(sum(gate.values())),
            _number(sum(original.values())),
        )
    )
    return rows


def sweep_table(sweep: dict[str, Any], local_minutes: int, default_minutes: int) -> str:
    calls = ", ".join(f"{k} {v:.0f}" for k, v in sorted(sweep["calls"].items()))
    lines = [
        "The sweep (on a schedule: per run and per hour, not per approval)",
        f"  per idle run: 1 invocation ({sweep['memory_mb']} MB), "
        f"{sweep['gb_seconds']:.4f} GB-s, {sweep['xray_traces']:.0f} trace(s), "
        f"{sweep['log_bytes']:.0f} log bytes; calls: {calls}",
    ]
    for minutes in (local_minutes, default_minutes):
        runs = 60 / minutes
        lines.append(
            f"  every {minutes} min: {runs:.0f} runs/hour, {_dollars(sweep['dollars'] * runs)}"
            " per hour (Lambda and X-Ray; the calls' own prices not verified offline)"
        )
    return "\n".join(lines)


def table_items(record_bytes: int, other_items: int) -> str:
    """What the records table held: the size every write and read is priced at, and whether
    anything besides the approval records and the pacing's slots was written."""
    others = (
        "no other item: receive_result's delivery keeps no idempotency record (0.7.0 on: the "
        "record's claim carries the delivery lease, `delivery_lease_until`, that replaced "
        "Powertools' idempotency layer and its two writes per delivery)"
        if not other_items
        else f"{other_items} other item(s) (neither approval records nor pacing slots)"
    )
    return (
        f"Records table: the largest approval record {record_bytes:,} bytes (every DynamoDB "
        f"call priced at that size: an upper bound); {others}"
    )


def citations() -> str:
    lines = ["Prices (us-east-1):"]
    for price in PRICES.values():
        lines.append(f"  ${price.dollars:.10g} per {price.unit}: {price.source} ({READ_ON})")
    lines.append(
        f"  DynamoDB on-demand request units as defined at {UNITS_SOURCE} ({READ_ON}); "
        f"DynamoDB, SNS, CloudWatch Logs and SSM Automation: {UNVERIFIED}"
    )
    lines.append(
        "  The original stack's Lambda durations are this gate's measured ones of the "
        "matching functions (an assumption)."
    )
    return "\n".join(lines)


def _format(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines)
