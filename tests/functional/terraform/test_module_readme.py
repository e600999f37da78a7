"""Each module's README documents every input and output, in tables that
scripts/module_readme.py generates from the module (`make lint` runs its --check)."""

from __future__ import annotations

import re

import pytest

from scripts.module_readme import main as module_readme
from tests.functional.terraform.helpers import MODULES, TERRAFORM_DIR

pytestmark = pytest.mark.terraform


def declared(module: str, kind: str, file_name: str) -> set[str]:
    text = (TERRAFORM_DIR / module / file_name).read_text()
    return set(re.findall(rf'^{kind} "([A-Za-z0-9_]+)"', text, re.MULTILINE))


def table_names(module: str, section: str) -> set[str]:
    """The first-column names (`name`) of the table under `## <section>`."""
    text = (TERRAFORM_DIR / module / "README.md").read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Za-z0-9_]+)` \|", body, re.MULTILINE))


@pytest.mark.parametrize("module", MODULES)
def test_every_variable_is_in_the_inputs_table(module):
    variables = declared(module, "variable", "variables.tf")
    assert variables, "no variable found in variables.tf"
    listed = table_names(module, "Inputs")
    assert variables - listed == set(), "missing from README Inputs"
    assert listed - variables == set(), "README Inputs lists variables that do not exist"


@pytest.mark.parametrize("module", MODULES)
def test_every_output_is_in_the_outputs_table(module):
    outputs = declared(module, "output", "outputs.tf")
    assert outputs, "no output found in outputs.tf"
    listed = table_names(module, "Outputs")
    assert outputs - listed == set(), "missing from README Outputs"
    assert listed - outputs == set(), "README Outputs lists outputs that do not exist"


def test_the_tables_are_as_generated(capsys):
    folders = [str(TERRAFORM_DIR / module) for module in MODULES]
    assert module_readme(["--check", *folders]) == 0, capsys.readouterr().err
