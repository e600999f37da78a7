"""Run Terraform and the linters the way `make lint` does, for tests/functional/terraform.

Terraform runs with the environment of scripts/terraform_env.py (provider mirror or registry,
plugin cache and CLI configuration under .tfcli/), so everything it writes stays inside the
repository and gitignored. checkov comes from .venv-tools/ and asl-validator from
node_modules/, both installed by `make install`.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from scripts.terraform_env import Setup

REPO = Path(__file__).resolve().parents[3]
TERRAFORM_DIR = REPO / "terraform"
MODULES = ("modules/approval_gate", "modules/lambda_service")
EXAMPLES = ("examples/aws", "examples/local")
STATE_MACHINE_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "state_machine"

TOOLS_VENV = REPO / ".venv-tools"
CHECKOV = TOOLS_VENV / "bin" / "checkov"
ASL_VALIDATOR = REPO / "node_modules" / ".bin" / "asl-validator"

TIMEOUT = 600  # seconds, for one command


class ToolMissing(RuntimeError):
    """A linter is not installed; the message says how to install it."""


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return "\n".join(part for part in (result.stdout, result.stderr) if part.strip())


class Terraform:
    """The terraform binary with the repository's environment; `init` once per folder."""

    def __init__(self, found: Setup):
        self.found = found
        self.env = {**os.environ, **found.env}
        self._initialized: set[Path] = set()

    def run(
        self, folder: Path, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """`terraform -chdir=<folder> <args>`; on failure (with check) the output says why."""
        cmd = [self.found.terraform, f"-chdir={folder}", *args]
        result = subprocess.run(
            cmd,
            cwd=REPO,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        if check and result.returncode != 0:
            shown = " ".join([Path(cmd[0]).name, *cmd[1:]])
            raise AssertionError(f"`{shown}` exited {result.returncode}:\n{_output(result)}")
        return result

    def init(self, folder: Path) -> None:
        """`terraform init -backend=false`, once per folder and test session."""
        if folder not in self._initialized:
            self.run(folder, "init", "-backend=false", "-input=false", "-no-color")
            self._initialized.add(folder)

    def render_state_machine(self) -> dict[str, Any]:
        """The gate's state machine definition, rendered by Terraform from the template."""
        result = self.run(
            STATE_MACHINE_FIXTURE,
            "console",
            stdin="base64encode(jsonencode(local.definition))\n",
        )
        return json.loads(base64.b64decode(result.stdout.strip().strip('"')))


def checkov() -> Path:
    if not CHECKOV.exists():
        raise ToolMissing(
            f"checkov is not installed ({CHECKOV.relative_to(REPO)} is missing): run "
            "`make install` (it creates .venv-tools/ from requirements-tools.txt)."
        )
    return CHECKOV


def run_checkov() -> list[dict[str, Any]]:
    """checkov over terraform/ as `make lint` runs it; its JSON report, one per framework."""
    result = subprocess.run(
        [
            str(checkov()),
            "--directory",
            "terraform",
            "--framework",
            "terraform",
            "secrets",
            "--skip-download",
            "--output",
            "json",
        ],
        cwd=REPO,
        env={**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "LOG_LEVEL": "ERROR"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    # Exit 1 means failed checks, which the report lists; anything else is a crash.
    if result.returncode not in (0, 1):
        raise AssertionError(f"checkov exited {result.returncode}:\n{_output(result)}")
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise AssertionError(
            f"checkov printed no JSON report ({error}):\n{_output(result)}"
        ) from None
    return report if isinstance(report, list) else [report]


def asl_validator() -> Path:
    if shutil.which("node") is None:
        raise ToolMissing(
            "Node.js is not installed, so asl-validator (the state machine linter) cannot run: "
            "install Node.js 18 or newer with npm (e.g. `apt-get install nodejs npm`), then "
            "run `make install`."
        )
    if not ASL_VALIDATOR.exists():
        raise ToolMissing(
            f"asl-validator is not installed ({ASL_VALIDATOR.relative_to(REPO)} is missing): "
            "run `make install` (it runs `npm ci` with package-lock.json; needs npm)."
        )
    return ASL_VALIDATOR


def validate_asl(definition: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """asl-validator on a definition; exit code 0 when it is valid."""
    return subprocess.run(
        [str(asl_validator()), "--json-definition", json.dumps(definition)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
