"""Fixtures of the static checks: terraform with the repository's environment."""

from __future__ import annotations

import pytest

from scripts.terraform_env import TerraformEnvError, setup
from tests.functional.terraform.helpers import Terraform, ToolMissing


@pytest.fixture(scope="session")
def terraform() -> Terraform:
    """One set-up per session; each folder is initialized once (Terraform.init)."""
    try:
        return Terraform(setup())
    except TerraformEnvError as error:
        problem = str(error)
    pytest.fail(f"Terraform cannot run, so the static checks cannot:\n{problem}", pytrace=False)


@pytest.fixture
def require():
    """Calls a helper that finds a linter; a missing one fails the test with the fix."""

    def call(find, *args):
        try:
            return find(*args)
        except ToolMissing as error:
            missing = str(error)
        pytest.fail(missing, pytrace=False)

    return call
