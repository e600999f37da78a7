"""A service is released on its own: bumping one service's version and re-packaging
changes only that function, its version and its alias in a real Terraform plan."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from scripts.gate_terraform import REPO, GateTerraform

pytestmark = pytest.mark.terraform


def package(root) -> str:
    result = subprocess.run(
        [sys.executable, str(REPO / "build" / "package.py"), "--root", str(root)],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def bump(root, service: str, version: str) -> None:
    pyproject = root / "services" / service / "pyproject.toml"
    pyproject.write_text(
        re.sub(r'^version = ".*"', f'version = "{version}"', pyproject.read_text(), flags=re.M)
    )
    init = root / "services" / service / "src" / service / "__init__.py"
    init.write_text(re.sub(r'__version__ = ".*"', f'__version__ = "{version}"', init.read_text()))


def test_bumping_receive_result_changes_only_its_functions_and_aliases(local_aws, tmp_path):
    checkout = tmp_path / "checkout"
    ignore = shutil.ignore_patterns(
        ".terraform", "*.tfstate*", ".terraform.lock.hcl", "__pycache__"
    )
    for part in ("services", "libs", "terraform", "build"):
        shutil.copytree(REPO / part, checkout / part, ignore=ignore)
    package(checkout)
    deployment = GateTerraform(
        "local",
        {
            "endpoint": local_aws.endpoint,
            "name_prefix": "release-check",
            "approvers": ["arn:aws:iam::123456789012:user/alice"],
        },
        quiet=True,
        root=checkout,
    )
    deployment.check()
    deployment.init()
    deployment.apply()
    try:
        assert deployment.planned_changes() == {}  # no drift after apply

        bump(checkout, "receive_result", "0.2.1")
        output = package(checkout)
        assert re.search(r"^start_approval\s+\S+\s+unchanged", output, re.M), output
        assert re.search(r"^receive_result\s+0\.2\.1\s+built", output, re.M), output

        # receive_result's code runs three functions (delivery, sweep, closing): all three
        # move to the new version together, and nothing else changes.
        changes = deployment.planned_changes()
        functions = "module.approval_gate.module.functions"
        assert changes == {
            f'{functions}["{function}"].aws_lambda_{kind}.this': ["update"]
            for function in ("receive_result", "sweep_approvals", "close_approvals")
            for kind in ("function", "alias")
        }
    finally:
        deployment.destroy()
