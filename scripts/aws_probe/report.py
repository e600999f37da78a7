"""From the scenarios' evidence to the variants an account showed, the JSON report, and the
local AWS's settings that match it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from scripts.aws_probe.variants import (
    BY_NAME,
    NOT_OBSERVABLE,
    SUCCESS_LIKE,
    UNOBSERVED,
    VARIANTS,
    Finding,
    decision_word,
    is_terminal,
    output_values,
    parsed_decisions,
)

Evidence = dict[str, dict[str, Any]]  # scenario -> {"ok": bool, "evidence": {...}, "error"}


def _seen(evidence: Evidence, scenario: str) -> dict[str, Any] | None:
    result = evidence.get(scenario)
    if result is None:
        return None
    return result.get("evidence") or None


def _missing(scenario: str, evidence: Evidence) -> Finding:
    result = evidence.get(scenario)
    if result is None:
        return Finding.unobserved(f"the scenario {scenario} did not run (--scenarios)")
    return Finding.unobserved(
        f"the scenario {scenario} failed before it could tell: {result.get('error')}", scenario
    )


def _terminal_status(
    evidence: Evidence, scenario: str, setting: str, key: str = "settled"
) -> Finding:
    seen = _seen(evidence, scenario)
    if not seen or key not in seen:
        return _missing(scenario, evidence)
    status = seen[key]["step_status"]
    automation = seen[key]["automation_status"]
    if status in BY_NAME[setting].values:
        also = "" if automation == status else f" (the automation: {automation})"
        return Finding(status, f"the approve step ended {status}{also}", (scenario,))
    return Finding.unobserved(
        f"the approve step ended {status!r} (automation {automation!r}), none of the variants",
        scenario,
    )


def rejection_status(evidence: Evidence) -> Finding:
    return _terminal_status(evidence, "rejection", "rejection_status")


def approval_status(evidence: Evidence) -> Finding:
    return _terminal_status(evidence, "approval", "approval_status")


def _decided_snapshots(evidence: Evidence) -> list[tuple[str, dict[str, Any]]]:
    """Ended approve steps that had decisions, most decisions first."""
    found = []
    for scenario, key in (
        ("two_of_three_with_a_reject", "after_second_reject"),
        ("two_of_three_with_a_reject", "after_one_reject"),
        ("duplicate_approve", "settled"),
        ("duplicate_approve", "after_second"),
        ("approval", "settled"),
        ("rejection", "settled"),
    ):
        seen = _seen(evidence, scenario)
        if seen and key in seen and is_terminal(seen[key]["step_status"]):
            found.append((scenario, seen[key]))
    return found


def failed_step_outputs(evidence: Evidence) -> Finding:
    decided_not_success = [
        (scenario, shot)
        for scenario, shot in _decided_snapshots(evidence)
        if shot["step_status"] not in SUCCESS_LIKE
    ]
    for scenario, shot in decided_not_success:
        names = ("ApprovalStatus", "ApproverDecisions")
        has = [name for name in names if output_values(shot["step_outputs"], name)[0]]
        if has:
            return Finding(
                "kept",
                f"the step ended {shot['step_status']} after decisions and still shows {has}",
                (scenario,),
            )
        return Finding(
            "dropped",
            f"the step ended {shot['step_status']} after decisions and shows no outputs",
            (scenario,),
        )
    expired = _seen(evidence, "expiry")
    if expired and "settled" in expired and is_terminal(expired["settled"]["step_status"]):
        shot = expired["settled"]
        if shot["step_outputs"] and shot["step_status"] not in SUCCESS_LIKE:
            return Finding(
                "kept", f"the step ended {shot['step_status']} and still shows outputs", ("expiry",)
            )
    return Finding.unobserved(
        "no approve step with decisions ended in a status other than Success/Approved/"
        "CompletedWithSuccess (a rejection ended as a success-like status, or did not run); "
        "an expired step without outputs does not tell",
        "rejection",
        "expiry",
    )


def _decisions(evidence: Evidence) -> list[tuple[str, str | None, list[dict[str, Any]], list[Any]]]:
    found = []
    for scenario, shot in _decided_snapshots(evidence):
        _, raw = output_values(shot["step_outputs"], "ApproverDecisions")
        if not raw:
            _, raw = output_values(shot["automation_outputs"], "ApproverDecisions")
        if raw:
            shape, decisions = parsed_decisions(raw)
            found.append((scenario, shape, decisions, raw))
    return found


def decision_values(evidence: Evidence) -> Finding:
    words: dict[str, list[str]] = {}
    for scenario, _, decisions, _ in _decisions(evidence):
        for decision in decisions:
            word = decision_word(str(decision.get("Decision")))
            words.setdefault(str(word), []).append(f"{scenario}: {decision.get('Decision')!r}")
    if not words:
        return Finding.unobserved(
            "no ApproverDecisions output was seen on an ended step", "approval", "rejection"
        )
    if len(words) == 1 and "None" not in words:
        word = next(iter(words))
        return Finding(word, f"decisions say {sorted(set(words[word]))}", ("approval", "rejection"))
    return Finding.unobserved(f"decisions say {words}: neither variant alone")


def decisions_serialization(evidence: Evidence) -> Finding:
    shapes = {(scenario, shape) for scenario, shape, _, _ in _decisions(evidence)}
    if not shapes:
        return Finding.unobserved("no ApproverDecisions output was seen on an ended step")
    kinds = {shape for _, shape in shapes}
    if len(kinds) == 1 and None not in kinds:
        kind = next(iter(kinds))
        scenarios = tuple(sorted(scenario for scenario, _ in shapes))
        return Finding(kind, f"ApproverDecisions is {kind} in {list(scenarios)}", scenarios)
    return Finding.unobserved(
        f"ApproverDecisions shapes differ or are unknown: {sorted(map(str, shapes))}"
    )


def client_token_reuse(evidence: Evidence) -> Finding:
    seen = _seen(evidence, "client_token_reuse")
    if not seen:
        return _missing("client_token_reuse", evidence)
    scenario = ("client_token_reuse",)
    if seen.get("second") == seen["first"]:
        return Finding(
            "same_execution", "the second start returned the first execution's id", scenario
        )
    error = str(seen.get("second_error", ""))
    if error.startswith("IdempotentParameterMismatch"):
        return Finding(
            "idempotent_parameter_mismatch", f"the second start failed: {error}", scenario
        )
    if seen.get("second"):
        return Finding.unobserved(
            f"the second start made a new execution {seen['second']}: neither variant", *scenario
        )
    return Finding.unobserved(f"the second start failed otherwise: {error}", *scenario)


def duplicate_signal(evidence: Evidence) -> Finding:
    seen = _seen(evidence, "duplicate_approve")
    if not seen:
        return _missing("duplicate_approve", evidence)
    scenario = ("duplicate_approve",)
    second, after = seen["second"], seen["after_second"]["step_status"]
    if second.startswith("InvalidAutomationSignal"):
        return Finding("refused", f"the second Approve was refused: {second}", scenario)
    if second == "accepted" and after == "Waiting":
        return Finding(
            "counted_once", "the second Approve was accepted; a quorum of 2 still waited", scenario
        )
    return Finding.unobserved(
        f"the second Approve answered {second!r} and the step then showed {after!r}", *scenario
    )


def reject_under_quorum(evidence: Evidence) -> Finding:
    seen = _seen(evidence, "two_of_three_with_a_reject")
    if not seen or "after_one_reject" not in seen:
        return _missing("two_of_three_with_a_reject", evidence)
    scenario = ("two_of_three_with_a_reject",)
    if seen["signals"].get("b Reject") != "accepted":
        return Finding.unobserved(f"the Reject was refused: {seen['signals']}", *scenario)
    status = seen["after_one_reject"]["step_status"]
    if is_terminal(status):
        return Finding("rejects_at_once", f"one Reject of 2-of-3 ended the step {status}", scenario)
    if status == "Waiting":
        return Finding(
            "rejects_when_quorum_unreachable",
            "after one Approve and one Reject of 2-of-3 the step still waited",
            scenario,
        )
    return Finding.unobserved(f"after one Reject the step showed {status!r}", *scenario)


def approver_matching(evidence: Evidence) -> Finding:
    seen = _seen(evidence, "approver_matching")
    if not seen:
        return _missing("approver_matching", evidence)
    scenario = ("approver_matching",)
    role = seen["role_arn_session_signal"]
    if role.startswith("InvalidAutomationSignal"):
        return Finding("exact", f"a session of a listed role ARN was refused: {role}", scenario)
    if role != "accepted":
        return Finding.unobserved(f"a listed role's session signal answered {role}", *scenario)
    pathed = seen.get("pathed_role_session_signal", "")
    if pathed == "accepted":
        return Finding(
            "role_sessions_ignoring_path",
            "a role ARN written without its path let the role's session approve",
            scenario,
        )
    if pathed.startswith("InvalidAutomationSignal"):
        return Finding(
            "role_sessions",
            "a listed role ARN names its sessions; written without its path it does not",
            scenario,
        )
    return Finding.unobserved(f"the pathed role's session signal answered {pathed!r}", *scenario)


READERS: dict[str, Callable[[Evidence], Finding]] = {
    "rejection_status": rejection_status,
    "approval_status": approval_status,
    "failed_step_outputs": failed_step_outputs,
    "decision_values": decision_values,
    "decisions_serialization": decisions_serialization,
    "client_token_reuse": client_token_reuse,
    "approver_matching": approver_matching,
    "duplicate_signal": duplicate_signal,
    "reject_under_quorum": reject_under_quorum,
}


def findings(evidence: Evidence) -> dict[str, Finding]:
    """Every setting of the table, in its order: the variant seen, or why not."""
    found: dict[str, Finding] = {}
    for variant in VARIANTS:
        if variant.name in NOT_OBSERVABLE:
            found[variant.name] = Finding.unobserved(NOT_OBSERVABLE[variant.name])
        else:
            found[variant.name] = READERS[variant.name](evidence)
    return found


def matching_settings(found: dict[str, Finding]) -> dict[str, Any]:
    return {name: finding.value for name, finding in found.items() if finding.value != UNOBSERVED}


def build_report(meta: dict[str, Any], evidence: Evidence, cleanup: list[str]) -> dict[str, Any]:
    found = findings(evidence)
    gate_checks = {
        scenario: result["evidence"]["gate_check"]
        for scenario, result in evidence.items()
        if result.get("evidence", {}).get("gate_check")
    }
    return meta | {
        "variants": {name: finding.as_json(name) for name, finding in found.items()},
        "local_aws_settings": {"sandbox": matching_settings(found)},
        "gate_checks": gate_checks,
        "scenarios": evidence,
        "cleanup": cleanup,
    }


def settings_command(report: dict[str, Any], endpoint: str) -> str:
    body = json.dumps(report["local_aws_settings"])
    return (
        f"curl -s -X POST {endpoint}/moto-api/sandbox/settings "
        f"-H 'Content-Type: application/json' -d '{body}'"
    )
