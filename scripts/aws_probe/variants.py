"""The local AWS's settings for behaviour AWS does not document, and how the probe reads
each one from what an account showed.

Names and values are the sandbox's (`sandbox.settings`, settable with
`POST /moto-api/sandbox/settings {"sandbox": {...}}`); the first value is its default.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

UNOBSERVED = "unobserved"


@dataclass(frozen=True)
class Variant:
    name: str
    values: tuple[Any, ...]
    anchor: str  # docs/aws-behaviour.md#<anchor>


VARIANTS: tuple[Variant, ...] = (
    Variant(
        "rejection_status",
        ("Failed", "Success", "Rejected", "CompletedWithFailure"),
        "undocumented-rejection-status",
    ),
    Variant(
        "approval_status",
        ("Success", "Approved", "CompletedWithSuccess"),
        "undocumented-approval-status",
    ),
    Variant("failed_step_outputs", ("kept", "dropped"), "undocumented-failed-step-outputs"),
    Variant("decision_values", ("verb", "past"), "undocumented-approver-decisions"),
    Variant(
        "decisions_serialization",
        ("string_per_map", "json_array"),
        "undocumented-approver-decisions",
    ),
    Variant(
        "client_token_reuse",
        ("same_execution", "idempotent_parameter_mismatch"),
        "undocumented-client-token-reuse",
    ),
    Variant("waiting_holds_slot", (True, False), "undocumented-waiting-holds-slot"),
    Variant(
        "approver_matching",
        ("role_sessions", "exact", "role_sessions_ignoring_path"),
        "undocumented-approver-matching",
    ),
    Variant("duplicate_signal", ("counted_once", "refused"), "undocumented-duplicate-signal"),
    Variant(
        "reject_under_quorum",
        ("rejects_at_once", "rejects_when_quorum_unreachable"),
        "undocumented-reject-under-quorum",
    ),
    Variant(
        "failed_notification",
        ("fails_step", "waits_unannounced"),
        "undocumented-failed-notification",
    ),
    Variant("status_read_lag_reads", (0, 2), "undocumented-read-after-event"),
    Variant("gsi_lag_seconds", (0, 2), "dynamodb-gsi-eventual-consistency"),
)
BY_NAME = {variant.name: variant for variant in VARIANTS}

# Why the probe cannot tell these from outside (it would need to break or flood the account).
NOT_OBSERVABLE = {
    "waiting_holds_slot": (
        "needs the account's concurrent-automation quota (100) filled with waiting approvals; "
        "the probe starts a handful, so it cannot see whether a Waiting approval holds a slot"
    ),
    "failed_notification": (
        "needs the approval request's SNS publish to fail (a denied topic or key); the probe "
        "does not break the deployment's notification permissions"
    ),
    "status_read_lag_reads": (
        "a read-after-event lag shows only in a race between the step's event and the next "
        "read; the probe polls, so a short lag is invisible to it (every read it made is in "
        "the evidence)"
    ),
    "gsi_lag_seconds": (
        "DynamoDB index lag is seen only by reads racing a write of the gate's own functions; "
        "AWS documents the eventual consistency, not the delay"
    ),
}

# Step statuses an approval step shows before it ends: the module's own list (the rule that
# takes any terminal status is built from it).
NOT_TERMINAL = frozenset(
    json.loads(
        (
            Path(__file__).resolve().parents[2]
            / "terraform/modules/approval_gate/templates/non_terminal_step_statuses.json"
        ).read_text()
    )
)
# What failed_step_outputs is about: statuses other than these.
SUCCESS_LIKE = frozenset({"Success", "Approved", "CompletedWithSuccess"})


@dataclass(frozen=True)
class Finding:
    """Which variant the account showed for one setting, or why it is unobserved."""

    value: Any
    why: str
    evidence_from: tuple[str, ...] = ()  # the scenarios whose evidence decided it

    @classmethod
    def unobserved(cls, why: str, *scenarios: str) -> Finding:
        return cls(UNOBSERVED, why, scenarios)

    def as_json(self, name: str) -> dict[str, Any]:
        return {
            "value": self.value,
            "why": self.why,
            "evidence_from": list(self.evidence_from),
            "anchor": f"docs/aws-behaviour.md#{BY_NAME[name].anchor}",
            "allowed": list(BY_NAME[name].values),
        }


def is_terminal(status: str | None) -> bool:
    return bool(status) and status not in NOT_TERMINAL


# --- reading a step's outputs -------------------------------------------------------------


def output_values(outputs: dict[str, Any] | None, name: str) -> tuple[str | None, list[Any]]:
    """The output `name` of an approve step: (the key it was found under, its values).

    SSM may name a step's output `ApproverDecisions` or `<step>.ApproverDecisions`."""
    for key, values in (outputs or {}).items():
        if key == name or key.endswith(f".{name}"):
            return key, list(values or [])
    return None, []


def parsed_decisions(raw: list[Any]) -> tuple[str | None, list[dict[str, Any]]]:
    """The decisions in an ApproverDecisions output and how SSM serialised them:
    "string_per_map" (one JSON object per string), "json_array" (one string holding a JSON
    array), or None when it is neither (then the list says what could be read)."""
    loaded = []
    for item in raw:
        if isinstance(item, str):
            try:
                loaded.append(json.loads(item))
            except ValueError:
                return None, []
        else:
            loaded.append(item)
    if loaded and all(isinstance(item, str) for item in raw):
        if all(isinstance(item, dict) for item in loaded):
            return "string_per_map", loaded
        if len(loaded) == 1 and isinstance(loaded[0], list):
            decisions = [d for d in loaded[0] if isinstance(d, dict)]
            return "json_array", decisions
    return None, [item for item in loaded if isinstance(item, dict)]


def decision_word(decision: str) -> str | None:
    """ "verb" for Approve/Reject, "past" for Approved/Rejected."""
    if decision in ("Approve", "Reject"):
        return "verb"
    if decision in ("Approved", "Rejected"):
        return "past"
    return None


# aws:approve's timeoutSeconds when a document sets none (7 days).
APPROVE_ACTION_TIMEOUT_DEFAULT = 604800
