"""Finding the gate: config files (flat or `terraform output -json`), a state file, the
APPROVALS_* variables, and exactly what is missing."""

from __future__ import annotations

import json

import pytest

from approvals_cli.deployment import Sources, find
from approvals_cli.errors import CliError, ExitCode

OUTPUTS = {
    "approvals_table_name": "gate-approvals",
    "document_name": "Gate-Approval",
    "state_machine_arn": "arn:aws:states:eu-west-1:123456789012:stateMachine:gate",
}


@pytest.fixture(autouse=True)
def no_home_config(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def test_a_flat_config_file_and_terraform_output_json_read_the_same(tmp_path):
    flat, wrapped = tmp_path / "flat.json", tmp_path / "wrapped.json"
    flat.write_text(json.dumps(OUTPUTS))
    wrapped.write_text(json.dumps({k: {"value": v, "type": "string"} for k, v in OUTPUTS.items()}))
    for path in (flat, wrapped):
        deployment = find(Sources(config=path), environ={})
        assert deployment.require("approvals_table_name", "document_name") == [
            "gate-approvals",
            "Gate-Approval",
        ]
        assert deployment.region == "eu-west-1"


def test_a_state_file_gives_its_outputs(tmp_path):
    state = tmp_path / "terraform.tfstate"
    state.write_text(json.dumps({"version": 4, "outputs": {"document_name": {"value": "D"}}}))
    assert find(Sources(terraform_state=state), environ={}).get("document_name") == "D"
    state.write_text(json.dumps({"version": 4, "outputs": {}}))
    with pytest.raises(CliError, match="not deployed"):
        find(Sources(terraform_state=state), environ={})


def test_nothing_to_go_on_says_how_to_point_at_the_gate():
    with pytest.raises(CliError) as missing:
        find(Sources(), environ={})
    assert missing.value.code is ExitCode.CONFIGURATION
    for hint in ("--terraform-dir", "--config", "APPROVALS_TABLE_NAME"):
        assert hint in missing.value.message


def test_variables_alone_or_over_a_file(tmp_path):
    alone = find(Sources(), environ={"APPROVALS_TABLE_NAME": " t "})
    assert alone.require("approvals_table_name") == ["t"]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(OUTPUTS))
    over = find(Sources(config=path), environ={"APPROVALS_DOCUMENT_NAME": "Other"})
    assert over.require("document_name", "approvals_table_name") == ["Other", "gate-approvals"]


def test_what_is_missing_is_named_with_its_variable(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(OUTPUTS))
    deployment = find(Sources(config=path), environ={})
    with pytest.raises(CliError) as missing:
        deployment.require("approvals_table_name", "dead_letter_queue_url", "sweep_function_name")
    message = missing.value.message
    assert "dead_letter_queue_url" in message and "APPROVALS_DEAD_LETTER_QUEUE_URL" in message
    assert "sweep_function_name" in message and "approvals_table_name" not in message


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"])
def test_an_unreadable_config_file_is_a_configuration_error(tmp_path, content):
    path = tmp_path / "c.json"
    path.write_text(content)
    with pytest.raises(CliError) as refused:
        find(Sources(config=path), environ={})
    assert refused.value.code is ExitCode.CONFIGURATION and str(path) in refused.value.message


def test_a_missing_config_file_or_terraform_directory_is_named(tmp_path):
    for sources in (Sources(config=tmp_path / "nope.json"), Sources(terraform_dir=tmp_path / "x")):
        with pytest.raises(CliError) as refused:
            find(sources, environ={})
        assert (
            refused.value.code is ExitCode.CONFIGURATION
            and "does not exist" in refused.value.message
        )


def test_the_default_config_file_is_read(tmp_path):
    path = tmp_path / "xdg" / "approvals" / "config.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(OUTPUTS))
    assert find(Sources(), environ={}).get("document_name") == "Gate-Approval"
