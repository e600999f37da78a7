"""The static checks `make lint` runs on terraform/, plus the modules' own `terraform test`."""

from __future__ import annotations

import json
import re

import pytest

from tests.functional.terraform.helpers import EXAMPLES, MODULES, REPO, TERRAFORM_DIR, run_checkov

pytestmark = pytest.mark.terraform


def test_terraform_files_are_formatted(terraform):
    result = terraform.run(
        REPO,
        "fmt",
        "-check",
        "-recursive",
        "-diff",
        "-no-color",
        "terraform",
        "tests/functional/terraform",
        check=False,
    )
    assert result.returncode == 0, (
        f"files not in `terraform fmt` style (run `terraform fmt -recursive`):\n{result.stdout}"
        f"{result.stderr}"
    )


def where(diagnostic: dict) -> str:
    span = diagnostic.get("range", {})
    return f"{span.get('filename', '?')}:{span.get('start', {}).get('line', '?')}"


@pytest.mark.parametrize("folder", [*EXAMPLES, *MODULES])
def test_configuration_is_valid(terraform, folder):
    path = TERRAFORM_DIR / folder
    terraform.init(path)
    result = terraform.run(path, "validate", "-json", "-no-color", check=False)
    report = json.loads(result.stdout)
    problems = [
        f"{where(d)}: {d['summary']}: {d.get('detail', '')}"
        for d in report.get("diagnostics", [])
        if d["severity"] == "error"
    ]
    assert report["valid"] and result.returncode == 0, "\n".join(problems) or result.stderr


@pytest.mark.parametrize("module", MODULES)
def test_module_tests_pass(terraform, module):
    path = TERRAFORM_DIR / module
    assert list((path / "tests").glob("*.tftest.hcl")), f"{module} has no terraform tests"
    terraform.init(path)
    result = terraform.run(path, "test", "-no-color", check=False)
    assert result.returncode == 0, (
        f"terraform test in {module} failed:\n{result.stdout}{result.stderr}"
    )
    ran = re.search(r"(\d+) passed, 0 failed", result.stdout)
    assert ran and int(ran[1]) > 0, f"terraform test in {module} ran no test:\n{result.stdout}"


def test_checkov_finds_nothing(require):
    reports = require(run_checkov)
    terraform_report = next(r for r in reports if r["check_type"] == "terraform")
    summary = terraform_report["summary"]
    assert summary["resource_count"] > 0 and summary["passed"] > 0, summary

    problems = []
    for report in reports:
        if report["summary"].get("parsing_errors"):
            problems.append(
                f"{report['check_type']}: parsing errors {report['results']['parsing_errors']}"
            )
        for check in report["results"]["failed_checks"]:
            line = check["file_line_range"][0]
            problems.append(
                f"{check['check_id']} {check['check_name']}: {check['resource']} "
                f"({check['file_path']}:{line}) {check.get('guideline') or ''}"
            )
        # Skips only inline (#checkov:skip=CHECK:reason), each with its reason.
        for check in report["results"]["skipped_checks"]:
            reason = (check.get("check_result") or {}).get("suppress_comment") or ""
            if not reason.strip() or reason.strip() == "No comment provided":
                problems.append(
                    f"{check['check_id']} skipped without a reason: {check['resource']}"
                )
    assert not problems, "checkov:\n" + "\n".join(problems)
