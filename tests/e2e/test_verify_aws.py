"""`make verify-aws` against the local AWS: the probe drives the gate deployed by Terraform
(this folder's fixtures) and its report names the variant the local AWS was set to; without
credentials or without a deployment it refuses, changing nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error

import pytest

from scripts.aws_probe.variants import NOT_OBSERVABLE, UNOBSERVED, VARIANTS
from scripts.gate_terraform import REPO

pytestmark = pytest.mark.terraform


OBSERVABLE = [variant for variant in VARIANTS if variant.name not in NOT_OBSERVABLE]


def run_probe(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.verify_aws", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def without_aws(tmp_path) -> dict[str, str]:
    """This environment without any AWS credentials, profile or metadata service."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    return env | {
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def local_env(aws, tmp_path) -> dict[str, str]:
    """The local AWS's deployer identity (LocalAws.environment()), nothing else of AWS."""
    return without_aws(tmp_path) | aws.environment()


def probe_roles(aws) -> list[str]:
    roles = aws.client("iam").list_roles()["Roles"]
    return [role["RoleName"] for role in roles if role["RoleName"].startswith("approval-probe")]


def probe_report(deployed, tmp_path, *scenarios: str) -> tuple[dict, subprocess.CompletedProcess]:
    out = tmp_path / "report.json"
    args = [
        "--endpoint",
        deployed.aws.endpoint,
        "--state",
        str(deployed.terraform.state),
        "--out",
        str(out),
        "--timeout",
        "60",
        "--settle-seconds",
        "2",
        "--expiry-seconds",
        "2",
    ]
    if scenarios:
        args += ["--scenarios", ",".join(scenarios)]
    ran = run_probe(local_env(deployed.aws, tmp_path), *args)
    assert out.exists(), f"no report written:\n{ran.stdout}\n{ran.stderr}"
    return json.loads(out.read_text()), ran


def set_local(aws, values: dict[str, object]) -> list[str]:
    """Sets each value on the local AWS; returns the settings it refused (not there yet)."""
    refused = []
    for name, value in values.items():
        try:
            aws.api("/moto-api/sandbox/settings", {"sandbox": {name: value}})
        except urllib.error.HTTPError as error:
            refused.append(f"{name}={value!r}: {error.read().decode(errors='replace')}")
    return refused


def local_settings(aws) -> dict[str, object]:
    return aws.api("/moto-api/sandbox/settings", method="GET")["sandbox"]


# --- refusals: exit 2, the message says what is needed, nothing changes -------------------


def test_without_credentials_it_says_what_it_needs_and_exits_2(tmp_path):
    state = tmp_path / "terraform.tfstate"
    state.write_text(
        json.dumps(
            {
                "outputs": {
                    "state_machine_arn": {
                        "value": "arn:aws:states:eu-west-1:123456789012:stateMachine:gate"
                    },
                    "document_name": {"value": "approval-gate-approval"},
                }
            }
        )
    )
    ran = run_probe(without_aws(tmp_path), "--state", str(state), "--out", str(tmp_path / "r"))

    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert "no AWS credentials" in ran.stderr
    assert "AWS_PROFILE" in ran.stderr and "make deploy EXAMPLE=aws" in ran.stderr
    assert "iam:CreateRole" in ran.stderr and "sts:AssumeRole" in ran.stderr
    assert "nothing was changed" in ran.stderr
    assert "not deployed" not in ran.stderr  # the outputs were there
    assert not (tmp_path / "r").exists()


def test_without_the_deployment_it_says_make_deploy_and_changes_nothing(local_aws, tmp_path):
    empty_example = tmp_path / "example"
    empty_example.mkdir()
    ran = run_probe(
        local_env(local_aws, tmp_path),
        "--endpoint",
        local_aws.endpoint,
        "--example",
        str(empty_example),
        "--out",
        str(tmp_path / "report.json"),
    )

    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert "the approval gate is not deployed" in ran.stderr
    assert "run `make deploy EXAMPLE=aws` first" in ran.stderr
    assert "no AWS credentials" not in ran.stderr  # the local AWS's deployer was found
    assert probe_roles(local_aws) == []
    assert not (tmp_path / "report.json").exists()


# --- the report names what the local AWS was set to ----------------------------------------

DEFAULTS = {variant.name: variant.values[0] for variant in OBSERVABLE}
# Another value of each: every reader sees something other than the default. A rejection
# ends "Rejected" (not "Success"), so a step with decisions still ends unlike a success and
# failed_step_outputs shows.
OTHERS = {variant.name: variant.values[1] for variant in OBSERVABLE} | {
    "rejection_status": "Rejected"
}


@pytest.mark.parametrize("values", [DEFAULTS, OTHERS], ids=["defaults", "second-values"])
def test_the_report_names_the_variant_of_every_observable_setting(gate, tmp_path, values):
    before = local_settings(gate.aws)
    refused = set_local(gate.aws, values)
    try:
        report, ran = probe_report(gate, tmp_path)
    finally:
        set_local(gate.aws, {name: before[name] for name in values if name in before})

    seen = {name: finding["value"] for name, finding in report["variants"].items()}
    wanted = {
        name: value
        for name, value in values.items()
        if not any(item.startswith(f"{name}=") for item in refused)
    }
    assert {name: seen[name] for name in wanted} == wanted, ran.stdout
    assert {name: seen[name] for name in NOT_OBSERVABLE} == dict.fromkeys(
        NOT_OBSERVABLE, UNOBSERVED
    )
    assert report["local_aws_settings"] == {"sandbox": {n: seen[n] for n in DEFAULTS}}
    assert f"POST {gate.aws.endpoint}/moto-api/sandbox/settings" in ran.stdout
    assert probe_roles(gate.aws) == [], "the probe's roles were not deleted"
    assert not refused, f"the local AWS lacks these settings or values: {refused}"


def test_the_gate_passes_the_integration_assertions_under_the_defaults(gate, tmp_path):
    report, ran = probe_report(gate, tmp_path)

    assert ran.returncode == 0, ran.stdout + ran.stderr
    failed = {name: check for name, check in report["gate_checks"].items() if not check["ok"]}
    assert failed == {}
    assert set(report["gate_checks"]) == {
        "approval",
        "rejection",
        "two_of_three_with_a_reject",
        "stranger",
        "duplicate_approve",
    }
    stranger = report["scenarios"]["stranger"]["evidence"]["stranger_signal"]
    assert stranger.startswith("InvalidAutomationSignal")


@pytest.mark.parametrize("status", ["Failed", "Success", "Rejected", "CompletedWithFailure"])
def test_the_report_names_the_rejection_status_the_local_aws_was_set_to(gate, tmp_path, status):
    before = local_settings(gate.aws)["rejection_status"]
    refused = set_local(gate.aws, {"rejection_status": status})
    assert not refused, f"the local AWS does not offer this variant: {refused}"
    try:
        report, ran = probe_report(gate, tmp_path, "rejection")
    finally:
        set_local(gate.aws, {"rejection_status": before})

    finding = report["variants"]["rejection_status"]
    assert finding["value"] == status, ran.stdout
    assert finding["anchor"] == "docs/aws-behaviour.md#undocumented-rejection-status"
    settled = report["scenarios"]["rejection"]["evidence"]["settled"]
    assert (settled["step_status"], settled["automation_status"]) == (status, status)
    assert report["local_aws_settings"]["sandbox"]["rejection_status"] == status


# --- reading variants from evidence (no AWS) ------------------------------------------------


def shot(step_status: str, outputs: dict | None = None, automation: str = "") -> dict:
    return {
        "automation_status": automation or step_status,
        "automation_outputs": {},
        "step_status": step_status,
        "step_outputs": outputs or {},
    }


DECISION = {"Approver": "arn:aws:sts::1:assumed-role/r/s", "Decision": "Rejected"}


def test_a_json_array_of_decisions_in_one_string_is_told_from_one_string_per_decision():
    from scripts.aws_probe.variants import parsed_decisions

    per_map = [json.dumps(DECISION), json.dumps(DECISION)]
    assert parsed_decisions(per_map) == ("string_per_map", [DECISION, DECISION])
    assert parsed_decisions([json.dumps([DECISION, DECISION])]) == (
        "json_array",
        [DECISION, DECISION],
    )
    assert parsed_decisions(["not json"]) == (None, [])


def test_a_rejected_step_without_outputs_reads_as_dropped_and_past_decisions_as_past():
    from scripts.aws_probe.report import findings

    evidence = {
        "rejection": {"ok": True, "evidence": {"settled": shot("Rejected")}},
        "approval": {
            "ok": True,
            "evidence": {
                "settled": shot(
                    "Approved",
                    {
                        "Approve.ApprovalStatus": ["Approved"],
                        "Approve.ApproverDecisions": [json.dumps([DECISION])],
                    },
                )
            },
        },
    }
    found = findings(evidence)
    assert found["rejection_status"].value == "Rejected"
    assert found["approval_status"].value == "Approved"
    assert found["failed_step_outputs"].value == "dropped"
    assert found["decision_values"].value == "past"
    assert found["decisions_serialization"].value == "json_array"
    assert found["client_token_reuse"].value == UNOBSERVED
    assert "did not run" in found["client_token_reuse"].why


def test_a_status_outside_the_variants_is_unobserved_with_what_was_seen():
    from scripts.aws_probe.report import findings

    evidence = {"rejection": {"ok": True, "evidence": {"settled": shot("Exited")}}}
    finding = findings(evidence)["rejection_status"]
    assert finding.value == UNOBSERVED
    assert "'Exited'" in finding.why


def test_signals_read_as_refused_exact_and_waiting_for_an_unreachable_quorum():
    from scripts.aws_probe.report import findings

    refused = "InvalidAutomationSignalException: not an approver"
    evidence = {
        "approver_matching": {"ok": True, "evidence": {"role_arn_session_signal": refused}},
        "duplicate_approve": {
            "ok": True,
            "evidence": {"second": refused, "after_second": shot("Waiting")},
        },
        "two_of_three_with_a_reject": {
            "ok": True,
            "evidence": {
                "signals": {"a Approve": "accepted", "b Reject": "accepted"},
                "after_one_reject": shot("Waiting"),
            },
        },
        "client_token_reuse": {
            "ok": True,
            "evidence": {"first": "x", "second_error": "IdempotentParameterMismatch: used"},
        },
    }
    found = findings(evidence)
    assert found["approver_matching"].value == "exact"
    assert found["duplicate_signal"].value == "refused"
    assert found["reject_under_quorum"].value == "rejects_when_quorum_unreachable"
    assert found["client_token_reuse"].value == "idempotent_parameter_mismatch"
