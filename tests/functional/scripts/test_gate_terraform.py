"""`make plan|deploy|destroy` stop before Terraform runs when something is missing, and say
what to do."""

from __future__ import annotations

import os
import shutil

import pytest

from scripts.gate_terraform import REPO, GateError, GateTerraform, main


@pytest.fixture
def checkout(tmp_path):
    """The Terraform examples without a build."""
    shutil.copytree(REPO / "terraform" / "examples", tmp_path / "terraform" / "examples")
    return tmp_path


def test_a_missing_build_says_to_run_make_package(checkout):
    with pytest.raises(GateError, match=r"dist/manifest.json is missing: run `make package`"):
        GateTerraform("local", root=checkout).check()


def test_missing_credentials_for_a_real_account_say_how_to_set_them(checkout, monkeypatch):
    (checkout / "dist").mkdir()
    (checkout / "dist" / "manifest.json").write_text("{}")
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(checkout / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(checkout / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(GateError, match="no AWS credentials: configure them"):
        GateTerraform("aws", root=checkout).check()


def test_missing_terraform_is_named_with_the_fix(checkout, monkeypatch, tmp_path):
    (checkout / "dist").mkdir()
    (checkout / "dist" / "manifest.json").write_text("{}")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(GateError, match=r"terraform is not installed .* Install Terraform"):
        GateTerraform("local", root=checkout).check()


def test_an_unknown_example_is_refused():
    with pytest.raises(GateError, match="no Terraform example named 'prod'"):
        GateTerraform("prod")


def test_the_cli_reports_the_problem_and_exits_1(capsys, monkeypatch):
    monkeypatch.setattr("scripts.gate_terraform.REPO", REPO)
    assert main(["plan", "--example", "local", "-var", "novalue"]) == 1
    assert "write it as name=value" in capsys.readouterr().err
