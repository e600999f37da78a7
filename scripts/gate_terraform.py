"""Plan, deploy and destroy the approval gate with Terraform, through python-terraform.

    python -m scripts.gate_terraform plan    [--example aws|local] [--endpoint URL] [-var k=v]
    python -m scripts.gate_terraform deploy  [...]
    python -m scripts.gate_terraform destroy [...]

(`make plan`, `make deploy`, `make destroy` call it; `make demo` and the integration
tests use `GateTerraform` directly.) Before Terraform runs, it checks what it needs and
says what to do when something is missing: terraform itself and the AWS provider
(scripts/terraform_env.py), the build manifest (`make package`), and AWS credentials for
a real account.

python-terraform 0.10.1 predates Terraform 0.15: it would pass the folder as a positional
argument and `destroy -force`, both gone. Here the folder is the working directory, apply
and destroy get `-auto-approve`, and `-force` is never sent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from python_terraform import IsFlagged, IsNotFlagged, Terraform

from scripts.terraform_env import TerraformEnvError, setup

REPO = Path(__file__).resolve().parents[1]
MANIFEST = REPO / "dist" / "manifest.json"


class GateError(RuntimeError):
    """A step cannot run; the message says why and what to do."""


class GateTerraform:
    """One example root module (`aws` or `local`) and its variables."""

    def __init__(
        self,
        example: str = "aws",
        variables: dict[str, Any] | None = None,
        quiet: bool = False,
        root: Path = REPO,
        state: Path | None = None,
    ):
        self.root = root
        # A state file of its own (the demo's, a test's) leaves the example's default
        # state, a user's own deployment, alone.
        self.state = state
        self.folder = root / "terraform" / "examples" / example
        self.manifest = root / "dist" / "manifest.json"
        if not (self.folder / "main.tf").exists():
            raise GateError(f"no Terraform example named {example!r} in {self.folder.parent}")
        self.example = example
        self.variables = dict(variables or {})
        self.quiet = quiet  # keep Terraform's output unless a command fails
        self._terraform: Terraform | None = None

    # Checks, each with the fix
    def check(self) -> None:
        if not self.manifest.exists():
            raise GateError(
                f"{self.manifest.relative_to(self.root)} is missing: run `make package` first."
            )
        if self.example == "aws":
            self._check_credentials()
        try:
            found = setup()
        except TerraformEnvError as error:
            raise GateError(f"Terraform cannot run:\n{error}") from None
        os.environ.update(found.env)  # python-terraform passes os.environ to terraform
        self._terraform = Terraform(
            working_dir=str(self.folder),
            terraform_bin_path=found.terraform,
            variables=self.variables,
            state=str(self.state) if self.state else None,
        )

    @staticmethod
    def _check_credentials() -> None:
        import boto3

        session = boto3.Session()
        if session.get_credentials() is None:
            raise GateError(
                "no AWS credentials: configure them (aws configure, AWS_PROFILE, or "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or use the local AWS: `make demo`."
            )
        if not session.region_name:
            raise GateError("no AWS Region: set AWS_REGION (or AWS_DEFAULT_REGION).")

    # Terraform commands
    def init(self) -> None:
        # Straight to cmd: python-terraform's init() would add -state, which init refuses.
        self._run("cmd", "init", input=False, no_color=IsFlagged)

    def plan(self) -> bool:
        """Prints the plan; True when it has changes."""
        code = self._run("plan", detailed_exitcode=IsFlagged, input=False, accept=(0, 2))
        return code == 2

    def planned_changes(self) -> dict[str, list[str]]:
        """Resource address -> actions, for every resource the plan would change."""
        self._run("plan", input=False, out="release.tfplan", accept=(0, 2))
        assert self._terraform is not None
        code, out, err = self._terraform.cmd("show", "release.tfplan", json=IsFlagged)
        (self.folder / "release.tfplan").unlink(missing_ok=True)
        if code != 0:
            raise GateError(f"terraform show failed: {err}")
        return {
            change["address"]: change["change"]["actions"]
            for change in json.loads(out).get("resource_changes", [])
            if change["change"]["actions"] != ["no-op"]
        }

    def apply(self) -> None:
        self._run("apply", skip_plan=True, input=False)

    def destroy(self) -> None:
        self._run("destroy", force=IsNotFlagged, auto_approve=IsFlagged, input=False)

    def outputs(self) -> dict[str, Any]:
        assert self._terraform is not None
        state = {"state": str(self.state)} if self.state else {}
        values = self._terraform.output(capture_output=True, **state) or {}
        return {name: value["value"] for name, value in values.items()}

    def _run(self, command: str, *args: str, accept: tuple[int, ...] = (0,), **options: Any) -> int:
        if self._terraform is None:
            self.check()
        assert self._terraform is not None
        method = getattr(self._terraform, command)
        code, out, err = method(*args, capture_output=self.quiet, **options)
        if code not in accept:
            tail = "\n".join(f"{out or ''}\n{err or ''}".strip().splitlines()[-40:])
            detail = f"\n{tail}" if self.quiet else ""
            folder = self.folder.relative_to(self.root)
            name = args[0] if command == "cmd" else command
            raise GateError(f"terraform {name} in {folder} failed{detail}")
        return code


def _parse_variables(pairs: list[str]) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if not name or not _:
            raise GateError(f"-var {pair!r}: write it as name=value (JSON for lists).")
        try:
            variables[name] = json.loads(value)
        except ValueError:
            variables[name] = value
    return variables


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["plan", "deploy", "destroy"])
    parser.add_argument("--example", choices=["aws", "local"], default="aws")
    parser.add_argument("--endpoint", help="the local AWS endpoint (example local)")
    parser.add_argument("-var", dest="variables", action="append", default=[], metavar="K=V")
    args = parser.parse_args(argv)
    try:
        variables = _parse_variables(args.variables)
        if args.endpoint:
            variables["endpoint"] = args.endpoint
        gate = GateTerraform(args.example, variables)
        gate.check()
        gate.init()
        if args.command == "plan":
            gate.plan()
        elif args.command == "deploy":
            gate.apply()
            print(json.dumps(gate.outputs().get("state_machine_input_example"), indent=2))
        else:
            gate.destroy()
    except GateError as error:
        print(f"{args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
