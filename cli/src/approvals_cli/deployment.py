"""Where the gate is: its names and ARNs, from Terraform outputs, a config file or the
environment.

Sources, first found wins; then each `APPROVALS_*` variable overrides its one value:
1. `--config FILE` (`APPROVALS_CONFIG`): JSON, either `terraform output -json` as it is
   (`{"name": {"value": ...}}`) or flat (`{"approvals_table_name": "...", ...}`);
2. `--terraform-dir DIR` (`APPROVALS_TERRAFORM_DIR`): `terraform output -json` run there,
   with `--terraform-state FILE` (`APPROVALS_TERRAFORM_STATE`) when the state is elsewhere;
   `--terraform-state FILE` alone reads the outputs from that local state file;
3. `$XDG_CONFIG_HOME/approvals/config.json` (`~/.config/approvals/config.json`), if present.
The keys are the approval_gate module's output names; a command asks only for the ones it
uses and names exactly those that are missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from approvals_cli.errors import CliError, ExitCode


@dataclass(frozen=True)
class Setting:
    output: str  # the approval_gate module's output
    env: str  # the environment variable that sets it alone
    what: str


SETTINGS = {
    s.output: s
    for s in (
        Setting("approvals_table_name", "APPROVALS_TABLE_NAME", "the approval records table"),
        Setting("document_name", "APPROVALS_DOCUMENT_NAME", "the SSM Automation document"),
        Setting("state_machine_arn", "APPROVALS_STATE_MACHINE_ARN", "the gate's state machine"),
        Setting(
            "dead_letter_queue_url", "APPROVALS_DEAD_LETTER_QUEUE_URL", "the dead-letter queue"
        ),
        Setting(
            "receive_result_alias_arn",
            "APPROVALS_RECEIVE_RESULT_ALIAS_ARN",
            "receive_result's alias (redrive of SSM events)",
        ),
        Setting(
            "close_approvals_alias_arn",
            "APPROVALS_CLOSE_APPROVALS_ALIAS_ARN",
            "close_approvals' alias (redrive of Step Functions events)",
        ),
        Setting("sweep_function_name", "APPROVALS_SWEEP_FUNCTION_NAME", "the sweep function"),
        Setting(
            "start_approval_function_name",
            "APPROVALS_START_APPROVAL_FUNCTION_NAME",
            "the start_approval function",
        ),
        Setting(
            "receive_result_function_name",
            "APPROVALS_RECEIVE_RESULT_FUNCTION_NAME",
            "the receive_result function",
        ),
        Setting(
            "close_approvals_function_name",
            "APPROVALS_CLOSE_APPROVALS_FUNCTION_NAME",
            "the close_approvals function",
        ),
        Setting("event_rule_name", "APPROVALS_EVENT_RULE_NAME", "the rule of SSM's result events"),
        Setting("sweep_rule_name", "APPROVALS_SWEEP_RULE_NAME", "the sweep's schedule"),
        Setting(
            "workflow_ended_rule_name",
            "APPROVALS_WORKFLOW_ENDED_RULE_NAME",
            "the rule of ended workflows",
        ),
        Setting("dead_letter_alarm_name", "APPROVALS_DEAD_LETTER_ALARM_NAME", "an alarm"),
        Setting(
            "failed_notifications_alarm_name",
            "APPROVALS_FAILED_NOTIFICATIONS_ALARM_NAME",
            "an alarm",
        ),
        Setting("approvals_queued_alarm_name", "APPROVALS_APPROVALS_QUEUED_ALARM_NAME", "an alarm"),
    )
}


@dataclass(frozen=True)
class Sources:
    """What the user pointed at (options, else their environment variables)."""

    config: Path | None = None
    terraform_dir: Path | None = None
    terraform_state: Path | None = None

    @classmethod
    def from_options(
        cls, config: str | None, terraform_dir: str | None, terraform_state: str | None
    ) -> Sources:
        def path(value: str | None, env: str) -> Path | None:
            chosen = value or os.environ.get(env, "").strip()
            return Path(chosen).expanduser() if chosen else None

        return cls(
            path(config, "APPROVALS_CONFIG"),
            path(terraform_dir, "APPROVALS_TERRAFORM_DIR"),
            path(terraform_state, "APPROVALS_TERRAFORM_STATE"),
        )


@dataclass(frozen=True)
class Deployment:
    values: Mapping[str, str]
    origin: str  # where the values came from, for messages
    extra: Mapping[str, Any] = field(default_factory=dict)

    def require(self, *outputs: str) -> list[str]:
        """The values of `outputs`, or a CliError naming each one missing and how to set it."""
        missing = [name for name in outputs if not self.values.get(name)]
        if missing:
            lines = [
                f"  {name} ({SETTINGS[name].what}): or set {SETTINGS[name].env}" for name in missing
            ]
            raise CliError(
                f"the deployment ({self.origin}) does not give:\n" + "\n".join(lines),
                ExitCode.CONFIGURATION,
            )
        return [self.values[name] for name in outputs]

    def get(self, output: str) -> str | None:
        return self.values.get(output) or None

    @property
    def region(self) -> str | None:
        """The Region the gate is deployed in, from one of its ARNs or its queue's URL."""
        for name in ("state_machine_arn", "receive_result_alias_arn", "close_approvals_alias_arn"):
            arn = self.values.get(name, "")
            if arn.startswith("arn:") and len(arn.split(":")) > 3:
                return arn.split(":")[3]
        region = self.extra.get("region")
        return str(region) if region else None


def default_config_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME", "").strip() or str(Path.home() / ".config")
    return Path(base) / "approvals" / "config.json"


HOW_TO_POINT = (
    "point approvals at the gate: --terraform-dir DIR (the Terraform configuration that "
    "deployed the approval_gate module; with --terraform-state FILE if its state is elsewhere), "
    "--config FILE (JSON: `terraform output -json > FILE`), or the APPROVALS_* variables "
    "(APPROVALS_TABLE_NAME, APPROVALS_DOCUMENT_NAME, ...; `approvals --help`)"
)


def find(sources: Sources, environ: Mapping[str, str] | None = None) -> Deployment:
    """The deployment the sources and the environment describe (values may be missing:
    `Deployment.require` says which)."""
    environ = os.environ if environ is None else environ
    if sources.config:
        values, origin = _read_config(sources.config), f"config file {sources.config}"
    elif sources.terraform_dir:
        values = _terraform_output(sources.terraform_dir, sources.terraform_state)
        origin = f"terraform outputs of {sources.terraform_dir}"
    elif sources.terraform_state:
        values = _state_outputs(sources.terraform_state)
        origin = f"terraform state {sources.terraform_state}"
    elif default_config_file().is_file():
        values, origin = _read_config(default_config_file()), f"config file {default_config_file()}"
    else:
        values, origin = {}, "no config file, no Terraform directory"
    overridden = {
        s.output: environ[s.env].strip()
        for s in SETTINGS.values()
        if environ.get(s.env, "").strip()
    }
    if overridden:
        origin += " + APPROVALS_* variables"
    elif not values:
        raise CliError(f"no deployment found ({origin}): {HOW_TO_POINT}", ExitCode.CONFIGURATION)
    merged = {**_strings(values), **overridden}
    return Deployment(merged, origin, extra={"region": values.get("region")})


def _strings(values: Mapping[str, Any]) -> dict[str, str]:
    return {name: value for name, value in values.items() if isinstance(value, str)}


def _unwrap(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """`terraform output -json` and a state file wrap each value: {"value": ..., "type": ...}."""
    return {
        name: value["value"] if isinstance(value, dict) and "value" in value else value
        for name, value in outputs.items()
    }


def _read_config(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text())
    except FileNotFoundError:
        raise CliError(
            f"config file {path} does not exist: {HOW_TO_POINT}", ExitCode.CONFIGURATION
        ) from None
    except (OSError, ValueError) as error:
        raise CliError(
            f"config file {path} is not readable JSON ({error}): write it with "
            '`terraform output -json > FILE`, or as {"approvals_table_name": "...", ...}',
            ExitCode.CONFIGURATION,
        ) from None
    if not isinstance(loaded, dict):
        raise CliError(f"config file {path} must hold a JSON object", ExitCode.CONFIGURATION)
    return _unwrap(loaded)


def _state_outputs(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise CliError(
            f"terraform state {path} is not readable ({error})", ExitCode.CONFIGURATION
        ) from None
    outputs = state.get("outputs") if isinstance(state, dict) else None
    if not outputs:
        raise CliError(
            f"terraform state {path} has no outputs: the gate is not deployed there "
            "(terraform apply)",
            ExitCode.CONFIGURATION,
        )
    return _unwrap(outputs)


def _terraform_output(directory: Path, state: Path | None) -> dict[str, Any]:
    if not directory.is_dir():
        raise CliError(
            f"terraform directory {directory} does not exist: {HOW_TO_POINT}",
            ExitCode.CONFIGURATION,
        )
    terraform = os.environ.get("TERRAFORM_BIN") or shutil.which("terraform")
    if not terraform:
        raise CliError(
            "terraform is not on PATH (needed to read the outputs of --terraform-dir): install "
            "it, set TERRAFORM_BIN, or give --config FILE / --terraform-state FILE",
            ExitCode.CONFIGURATION,
        )
    command = [terraform, f"-chdir={directory}", "output", "-json", "-no-color"]
    if state:
        command.append(f"-state={state.resolve()}")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CliError(
            f"`terraform output` failed in {directory}: {done.stderr.strip()[:500]}",
            ExitCode.CONFIGURATION,
        )
    outputs = json.loads(done.stdout or "{}")
    if not outputs:
        raise CliError(
            f"terraform has no outputs in {directory}: the gate is not deployed from there "
            "(terraform apply), or its state is elsewhere (--terraform-state FILE)",
            ExitCode.CONFIGURATION,
        )
    return _unwrap(outputs)
