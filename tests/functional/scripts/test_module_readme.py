"""scripts/module_readme.py: a module's Inputs and Outputs tables come from its variables and
outputs, between the markers; --check names a stale README and the command that fixes it."""

from __future__ import annotations

import pytest

from scripts.module_readme import BEGIN, END, main

VARIABLES = """
variable "name_prefix" {
  description = "Prefix of every name | even with a pipe."
  type        = string
  default     = "gate"
}

variable "approvers" {
  description = <<-EOT
    Who decides:
    1 to 10 principals.
  EOT
  type        = list(object({ name = string, weight = optional(number, 1) }))
}

variable "tags" {
  type    = map(string)
  default = {}
}

variable "kms_key_arn" {
  description = "An existing key, or null."
  type        = string
  default     = null
}
"""

OUTPUTS = """
output "state_machine_arn" {
  description = "ARN of the \\"approval\\" state machine."
  value       = "arn"
}
"""

PROSE_BEFORE = "# a module\n\nWritten by hand.\n\n"
PROSE_AFTER = "\n\n## Tests\n\nAlso by hand.\n"


@pytest.fixture
def module(tmp_path):
    (tmp_path / "variables.tf").write_text(VARIABLES)
    (tmp_path / "outputs.tf").write_text(OUTPUTS)
    (tmp_path / "README.md").write_text(f"{PROSE_BEFORE}{BEGIN}\n{END}{PROSE_AFTER}")
    return tmp_path


def test_the_tables_are_written_between_the_markers(module):
    assert main([str(module)]) == 0

    readme = (module / "README.md").read_text()
    assert readme.startswith(PROSE_BEFORE + BEGIN)
    assert readme.endswith(END + PROSE_AFTER)
    rows = [line for line in readme.splitlines() if line.startswith("| `")]
    assert rows == [
        '| `name_prefix` | Prefix of every name \\| even with a pipe. | `string` | `"gate"` | no |',
        "| `approvers` | Who decides:<br>1 to 10 principals. "
        "| `list(object({name = string, weight = optional(number, 1)}))` | n/a | yes |",
        "| `tags` |  | `map(string)` | `{}` | no |",
        "| `kms_key_arn` | An existing key, or null. | `string` | `null` | no |",
        '| `state_machine_arn` | ARN of the "approval" state machine. |',
    ]
    assert main(["--check", str(module)]) == 0


def test_a_stale_readme_is_named_with_the_command_that_fixes_it(module, capsys):
    assert main([str(module)]) == 0
    (module / "variables.tf").write_text(
        VARIABLES + 'variable "extra" {\n  description = "New."\n  type = bool\n}\n'
    )
    before = (module / "README.md").read_text()

    assert main(["--check", str(module)]) == 1

    err = capsys.readouterr().err
    assert f"{module / 'README.md'} is stale" in err
    assert "+| `extra` | New. | `bool` | n/a | yes |" in err
    assert f"Regenerate the tables: python scripts/module_readme.py {module}" in err
    assert (module / "README.md").read_text() == before  # --check changes nothing


def test_a_readme_without_markers_is_refused(module, capsys):
    (module / "README.md").write_text("# a module\n\n## Inputs\n")

    assert main(["--check", str(module)]) == 1

    assert f"needs the marker {BEGIN} once and, after it, {END} once" in capsys.readouterr().err


def test_a_folder_without_terraform_is_refused(tmp_path, capsys):
    assert main(["--check", str(tmp_path)]) == 1

    assert "is not a Terraform module folder" in capsys.readouterr().err
