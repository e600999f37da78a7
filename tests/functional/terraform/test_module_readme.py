"""The approval_gate module's README documents every input and output, in its tables."""

from __future__ import annotations

import re

import pytest

from tests.functional.terraform.helpers import TERRAFORM_DIR

pytestmark = pytest.mark.terraform

MODULE = TERRAFORM_DIR / "modules" / "approval_gate"


def declared(kind: str, file_name: str) -> set[str]:
    text = (MODULE / file_name).read_text()
    return set(re.findall(rf'^{kind} "([A-Za-z0-9_]+)"', text, re.MULTILINE))


def table_names(section: str) -> set[str]:
    """The first-column names (`name`) of the table under `## <section>`."""
    text = (MODULE / "README.md").read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Za-z0-9_]+)` \|", body, re.MULTILINE))


def test_every_variable_is_in_the_inputs_table():
    variables = declared("variable", "variables.tf")
    assert variables, "no variable found in variables.tf"
    listed = table_names("Inputs")
    assert variables - listed == set(), "missing from README Inputs"
    assert listed - variables == set(), "README Inputs lists variables that do not exist"


def test_every_output_is_in_the_outputs_table():
    outputs = declared("output", "outputs.tf")
    assert outputs, "no output found in outputs.tf"
    listed = table_names("Outputs")
    assert outputs - listed == set(), "missing from README Outputs"
    assert listed - outputs == set(), "README Outputs lists outputs that do not exist"
