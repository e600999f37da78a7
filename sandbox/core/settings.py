"""Settings of the local AWS: behaviour AWS leaves undocumented, and the emulated quotas.

The project's rule: the local AWS is never kinder than AWS. Where AWS documents nothing, each
plausible behaviour is a value of a `Variant` (the first value is the default) and the suite
runs the gate under every value; docs/aws-behaviour.md#<anchor> says what AWS documents and
what it leaves open. The quotas (`Limit`) are documented; they are settings so tests can reach
them.

    from sandbox.settings import settings, variants
    settings.rejection_status = "Rejected"   # ValueError for a value not allowed
    [variant.name for variant in variants()]
    settings.reset()                          # every default back

Over HTTP: ``GET/POST /moto-api/sandbox/settings`` ``{"sandbox": {...}}`` (400 for a value
not allowed); the GET lists the registry under ``"sandbox_variants"``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

DOCS = "docs/aws-behaviour.md"


@dataclass(frozen=True)
class Variant:
    """An undocumented behaviour and the values the local AWS can show (first: default)."""

    name: str
    values: tuple[Any, ...]
    anchor: str
    summary: str
    # Numeric variants take any number >= this (the suite runs `values`); None: only `values`.
    at_least: float | None = None
    whole: bool = False  # with at_least: integers only

    @property
    def default(self) -> Any:
        return self.values[0]

    @property
    def doc(self) -> str:
        return f"{DOCS}#{self.anchor}"

    def allows(self, value: Any) -> bool:
        if self.at_least is not None:
            kinds = (int,) if self.whole else (int, float)
            return type(value) in kinds and value >= self.at_least
        # Strict types: True is not 1, "0" is not 0.
        return any(type(value) is type(item) and value == item for item in self.values)

    def allowed(self) -> str:
        listed = ", ".join(repr(item) for item in self.values)
        if self.at_least is not None:
            kind = "an integer" if self.whole else "a number"
            return f"{kind} >= {self.at_least:g} (the suite runs {listed})"
        return f"one of {listed}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"default": self.default, "doc": self.doc}


@dataclass(frozen=True)
class Limit:
    """A documented quota the local AWS enforces: an integer >= `minimum` (or None)."""

    name: str
    default: int | None
    minimum: int
    anchor: str
    summary: str
    none_allowed: bool = False

    def allows(self, value: Any) -> bool:
        if value is None:
            return self.none_allowed
        return type(value) is int and value >= self.minimum

    def allowed(self) -> str:
        return f"an integer >= {self.minimum}" + (" or null" if self.none_allowed else "")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"doc": f"{DOCS}#{self.anchor}"}


VARIANTS: tuple[Variant, ...] = (
    Variant(
        "rejection_status",
        ("Failed", "Success", "Rejected", "CompletedWithFailure"),
        "undocumented-rejection-status",
        "terminal status of the aws:approve step and of the automation after a rejection",
    ),
    Variant(
        "approval_status",
        ("Success", "Approved", "CompletedWithSuccess"),
        "undocumented-approval-status",
        "terminal status of the step and of the automation once the quorum approves",
    ),
    Variant(
        "failed_step_outputs",
        ("kept", "dropped"),
        "undocumented-failed-step-outputs",
        "whether a step that ended other than Success/Approved/CompletedWithSuccess still "
        "shows its Outputs (ApprovalStatus, ApproverDecisions)",
    ),
    Variant(
        "decision_values",
        ("verb", "past"),
        "undocumented-approver-decisions",
        'ApproverDecisions entries say Decision "Approve"/"Reject" (verb) or '
        '"Approved"/"Rejected" (past)',
    ),
    Variant(
        "decisions_serialization",
        ("string_per_map", "json_array"),
        "undocumented-approver-decisions",
        "the ApproverDecisions output: one JSON-object string per decision, or one string "
        "holding a JSON array of them",
    ),
    Variant(
        "client_token_reuse",
        ("same_execution", "idempotent_parameter_mismatch"),
        "undocumented-client-token-reuse",
        "a second StartAutomationExecution with a used ClientToken and the same request: "
        "the first execution's id, or IdempotentParameterMismatch",
    ),
    Variant(
        "waiting_holds_slot",
        (True, False),
        "undocumented-waiting-holds-slot",
        "whether an automation waiting for approval counts toward the automation quota",
    ),
    Variant(
        "approver_matching",
        ("role_sessions", "exact", "role_sessions_ignoring_path"),
        "undocumented-approver-matching",
        "how an Approvers entry matches the caller: a role ARN admits its sessions; only an "
        "identical ARN (or a user's name); or also a role ARN written without the role's path",
    ),
    Variant(
        "duplicate_signal",
        ("counted_once", "refused"),
        "undocumented-duplicate-signal",
        "a second decision by the same approver: ignored, or InvalidAutomationSignalException",
    ),
    Variant(
        "reject_under_quorum",
        ("rejects_at_once", "rejects_when_quorum_unreachable"),
        "undocumented-reject-under-quorum",
        "with MinRequiredApprovals < approvers, one Reject ends the step, or only once the "
        "undecided approvers can no longer reach the quorum",
    ),
    Variant(
        "failed_notification",
        ("fails_step", "waits_unannounced"),
        "undocumented-failed-notification",
        "when publishing the approval request to SNS fails: the step fails, or it waits with "
        "nobody told",
    ),
    Variant(
        "status_read_lag_reads",
        (0, 2),
        "undocumented-read-after-event",
        "after a status change, this many Get/Describe reads of the execution still show the "
        "previous status and outputs",
        at_least=0,
        whole=True,
    ),
    Variant(
        "gsi_lag_seconds",
        (0, 2),
        "dynamodb-gsi-eventual-consistency",
        "a DynamoDB Query/Scan on a global secondary index sees items as they were this many "
        "real seconds ago",
        at_least=0,
    ),
)

LIMITS: tuple[Limit, ...] = (
    Limit(
        "max_concurrent_executions",
        100,
        0,
        "ssm-automation-concurrency-queue",
        "automations running at once per account and Region; past it new ones queue (Pending)",
    ),
    Limit(
        "automation_queue_size",
        1000,
        0,
        "ssm-automation-concurrency-queue",
        "automations queued (Pending) past the concurrency quota; past it "
        "AutomationExecutionLimitExceededException",
    ),
    Limit(
        "no_role_max_seconds",
        43200,
        1,
        "ssm-no-role-12-hours",
        "an automation without an assume role times out after this many seconds (null: never)",
        none_allowed=True,
    ),
)

_REGISTRY: dict[str, Variant | Limit] = {item.name: item for item in (*VARIANTS, *LIMITS)}


@dataclass
class SandboxSettings:
    """The current values; every assignment is checked against the registry above."""

    # Variants (docs/aws-behaviour.md#<anchor> of each in VARIANTS); first value = default.
    rejection_status: str = "Failed"
    approval_status: str = "Success"
    failed_step_outputs: str = "kept"
    decision_values: str = "verb"
    decisions_serialization: str = "string_per_map"
    client_token_reuse: str = "same_execution"
    waiting_holds_slot: bool = True
    approver_matching: str = "role_sessions"
    duplicate_signal: str = "counted_once"
    reject_under_quorum: str = "rejects_at_once"
    failed_notification: str = "fails_step"
    status_read_lag_reads: int = 0
    gsi_lag_seconds: float = 0
    # Documented quotas (LIMITS).
    max_concurrent_executions: int = 100
    automation_queue_size: int = 1000
    no_role_max_seconds: int | None = 43200

    def __setattr__(self, name: str, value: Any) -> None:
        check(name, value)
        super().__setattr__(name, value)

    def reset(self) -> None:
        for item in fields(self):
            setattr(self, item.name, item.default)

    def variants(self) -> tuple[Variant, ...]:
        return variants()


def check(name: str, value: Any) -> None:
    """ValueError naming the setting and what it takes, unless ``value`` is allowed."""
    entry = _REGISTRY.get(name)
    if entry is None:
        raise ValueError(
            f"sandbox.settings has no setting {name!r} (settings: {', '.join(_REGISTRY)})"
        )
    if not entry.allows(value):
        raise ValueError(
            f"sandbox.settings.{name} must be {entry.allowed()}, not {value!r} "
            f"(see {DOCS}#{entry.anchor})"
        )


def variants() -> tuple[Variant, ...]:
    """Every undocumented behaviour the local AWS can show, in a stable order."""
    return VARIANTS


def variant(name: str) -> Variant:
    found = _REGISTRY.get(name)
    if not isinstance(found, Variant):
        raise ValueError(f"{name!r} is not a variant (variants: {[v.name for v in VARIANTS]})")
    return found


def limits() -> tuple[Limit, ...]:
    return LIMITS


def registry() -> dict[str, dict[str, Any]]:
    """The registry as JSON-ready dicts (HTTP GET), with each setting's current value."""
    return {
        name: entry.as_dict() | {"value": getattr(settings, name)}
        for name, entry in _REGISTRY.items()
    }


def _defaults_agree() -> None:
    # The dataclass defaults and the registry must say the same thing.
    defaults = {item.name: item.default for item in fields(SandboxSettings)}
    if set(defaults) != set(_REGISTRY):
        raise RuntimeError(f"settings fields {sorted(defaults)} != registry {sorted(_REGISTRY)}")
    for name, entry in _REGISTRY.items():
        if defaults[name] != entry.default:
            raise RuntimeError(f"default of {name}: {defaults[name]!r} != {entry.default!r}")


_defaults_agree()
settings = SandboxSettings()
