"""SSM Automation's settings: the behaviours AWS leaves undocumented (variants) and the
quotas (limits, with the API request rates of sandbox/ssm/rate_quotas.py). ``sandbox``
registers them on ``sandbox.settings`` (``sandbox.core.settings``), where the SSM code reads
their values.
"""

from __future__ import annotations

from sandbox.core.settings import Limit, Variant
from sandbox.ssm import rate_quotas

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
        "ssm_rate_burst_seconds",
        (1, 10),
        "ssm-api-rate-quotas",
        "each SSM API rate's bucket holds this many seconds' calls: a burst after a quiet "
        "spell (AWS documents none)",
        at_least=1,
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
    *rate_quotas.LIMITS,  # the API request rates, one per Automation action the gate calls
)
