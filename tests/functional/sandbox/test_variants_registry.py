"""The registry of the local AWS's settings for behaviour AWS leaves undocumented: every
variant with its values and anchor (docs/aws-behaviour.md, sandbox/ssm/settings.py), values
refused, reset, and the settings over HTTP. Each variant's behaviour is tested by its group:
test_variants_statuses, test_variants_approvers, test_variants_starts (with the documented
concurrency queue), test_variants_reads."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

import sandbox
from sandbox.core.settings import limits, variants
from tests.support.sandbox_variants import AGREED

settings = sandbox.settings

# --- the registry -------------------------------------------------------------------------


def test_the_registry_names_every_agreed_variant_with_its_values_and_anchor():
    registered = {v.name: v for v in variants()}
    assert {name: v.values for name, v in registered.items()} == AGREED
    for variant in registered.values():
        assert getattr(settings, variant.name) == variant.default == variant.values[0]
        assert variant.doc == f"docs/aws-behaviour.md#{variant.anchor}"
        assert variant.anchor and variant.summary
    assert registered["rejection_status"].anchor == "undocumented-rejection-status"
    assert registered["gsi_lag_seconds"].anchor == "dynamodb-gsi-eventual-consistency"
    assert registered["status_read_lag_reads"].anchor == "undocumented-read-after-event"
    assert [v.name for v in settings.variants()] == list(AGREED)
    assert {limit.name: limit.default for limit in limits()} == {
        "max_concurrent_executions": 100,
        "automation_queue_size": 1000,
        "no_role_max_seconds": 43200,
        "start_automation_execution_tps": 1,
        "stop_automation_execution_tps": 1,
        "get_automation_execution_tps": 3,
        "describe_automation_step_executions_tps": 3,
        "describe_automation_executions_tps": 3,
        "send_automation_signal_tps": 3,
    }


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("rejection_status", "Denied"),
        ("approval_status", "Failed"),
        ("waiting_holds_slot", 1),  # True only, not 1
        ("waiting_holds_slot", "true"),
        ("status_read_lag_reads", -1),
        ("status_read_lag_reads", 1.5),
        ("status_read_lag_reads", True),
        ("gsi_lag_seconds", "2"),
        ("max_concurrent_executions", -1),
        ("automation_queue_size", None),
        ("no_role_max_seconds", 0),
    ],
)
def test_a_value_not_allowed_is_refused_naming_the_setting_and_the_allowed_values(name, value):
    before = getattr(settings, name)
    with pytest.raises(ValueError) as raised:
        setattr(settings, name, value)
    message = str(raised.value)
    assert f"sandbox.settings.{name} must be" in message
    assert repr(value) in message
    assert "docs/aws-behaviour.md#" in message
    if name in AGREED:
        assert all(repr(allowed) in message for allowed in AGREED[name])
    assert getattr(settings, name) == before


def test_an_unknown_setting_is_refused():
    with pytest.raises(ValueError, match="no setting 'rejection'"):
        settings.rejection = "Failed"  # type: ignore[attr-defined]


def test_numeric_variants_take_other_values_than_the_suites():
    settings.status_read_lag_reads = 5
    settings.gsi_lag_seconds = 0.25
    settings.no_role_max_seconds = None
    settings.reset()
    assert (settings.status_read_lag_reads, settings.gsi_lag_seconds) == (0, 0)
    assert settings.no_role_max_seconds == 43200


def test_reset_restores_every_default():
    for name, values in AGREED.items():
        setattr(settings, name, values[-1])
    settings.automation_queue_size = 3
    settings.reset()
    assert {name: getattr(settings, name) for name in AGREED} == {
        name: values[0] for name, values in AGREED.items()
    }
    assert settings.automation_queue_size == 1000


def _http(endpoint: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        endpoint + path,
        data=json.dumps(body).encode() if body is not None else None,
        method="POST" if body is not None else "GET",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_settings_over_http_show_the_registry_and_refuse_a_value_not_allowed(server_aws):
    endpoint = server_aws.endpoint_url
    status, answer = _http(endpoint, "/moto-api/sandbox/settings")
    assert status == 200
    assert answer["sandbox"]["approval_status"] == "Success"
    listed = answer["sandbox_variants"]
    assert set(AGREED) <= set(listed)
    assert listed["decision_values"]["values"] == ["verb", "past"]
    assert listed["decision_values"]["anchor"] == "undocumented-approver-decisions"
    assert listed["decision_values"]["value"] == "verb"
    assert listed["automation_queue_size"]["default"] == 1000

    status, answer = _http(
        endpoint, "/moto-api/sandbox/settings", {"sandbox": {"approval_status": "Approved"}}
    )
    assert status == 200
    assert answer["sandbox"]["approval_status"] == "Approved"
    assert settings.approval_status == "Approved"

    status, answer = _http(
        endpoint, "/moto-api/sandbox/settings", {"sandbox": {"approval_status": "Yes"}}
    )
    assert status == 400
    assert "approval_status" in answer["error"] and "'CompletedWithSuccess'" in answer["error"]
    assert settings.approval_status == "Approved"
