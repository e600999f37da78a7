"""Whether upgrading a deployment of the gate to the current Terraform module replaces or
destroys anything: it must not (in-place updates are allowed, and listed).

    python -m scripts.upgrade_plan --from-ref HEAD~1      # the commit before the change

1. exports terraform/ as it was at --from-ref (git archive) into .sandbox/upgrade-plan/
   (gitignored), beside a copy of the working tree's terraform/ and of dist/;
2. starts the local AWS in this process and applies the old terraform/examples/local;
3. plans the current terraform/examples/local against that same state
   (`terraform plan -detailed-exitcode`, `terraform show -json`);
4. prints what the plan moves, creates, updates in place and replaces or destroys, and exits
   1 if it replaces or destroys anything (or forgets it: `removed` blocks), 0 otherwise.

Needs the build (dist/manifest.json: `make package`); both sides deploy the same zips, so the
plan shows the module's changes only.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.server import LocalAws
from scripts.gate_terraform import GateError, GateTerraform
from scripts.terraform_env import Setup, TerraformEnvError, setup

REPO = Path(__file__).resolve().parents[1]
WORK_DIR = REPO / ".sandbox" / "upgrade-plan"
EXAMPLE = "local"
# What a copy of terraform/ leaves out: what Terraform writes (as tests/e2e/test_release.py).
NOT_COPIED = shutil.ignore_patterns(".terraform", "*.tfstate*", ".terraform.lock.hcl", "*.tfplan")
# Actions that lose a deployed object: replace (delete + create, either order), destroy, and
# forget (dropped from the state, left unmanaged).
LOSING_ACTIONS = frozenset({"delete", "forget"})


class UpgradeError(RuntimeError):
    """The check cannot run; the message says why."""


@dataclass(frozen=True)
class Change:
    address: str
    actions: tuple[str, ...]
    previous_address: str | None = None
    reason: str | None = None  # Terraform's action_reason, e.g. replace_because_cannot_update
    attributes: tuple[str, ...] = ()  # what an in-place update changes


@dataclass
class Verdict:
    moved: list[Change] = field(default_factory=list)
    created: list[Change] = field(default_factory=list)
    updated: list[Change] = field(default_factory=list)
    lost: list[Change] = field(default_factory=list)  # replaced, destroyed or forgotten

    @property
    def ok(self) -> bool:
        return not self.lost


def _unknown(flags: Any) -> bool:
    """Whether after_unknown marks the value, or a part of it, as known only after apply."""
    if isinstance(flags, dict):
        return any(_unknown(flag) for flag in flags.values())
    if isinstance(flags, list):
        return any(_unknown(flag) for flag in flags)
    return flags is True


def changed_attributes(change: dict[str, Any]) -> tuple[str, ...]:
    """Top-level attributes whose value differs, or is known only after apply."""
    before = change.get("before") or {}
    after = change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    names = {name for name, flags in unknown.items() if _unknown(flags)}
    names |= {name for name in after if name not in names and before.get(name) != after[name]}
    return tuple(sorted(names))


def judge(plan: dict[str, Any]) -> Verdict:
    """Sorts the managed resources of a `terraform show -json` plan by what happens to them."""
    verdict = Verdict()
    for resource in plan.get("resource_changes", []):
        if resource.get("mode") != "managed":
            continue  # data sources are read, never deployed
        change = resource["change"]
        found = Change(
            address=resource["address"],
            actions=tuple(change["actions"]),
            previous_address=resource.get("previous_address"),
            reason=resource.get("action_reason"),
            attributes=changed_attributes(change) if change["actions"] == ["update"] else (),
        )
        if LOSING_ACTIONS & set(found.actions):
            verdict.lost.append(found)
        elif "create" in found.actions:
            verdict.created.append(found)
        elif "update" in found.actions:
            verdict.updated.append(found)
        if found.previous_address and found not in verdict.lost:
            verdict.moved.append(found)
    return verdict


def summary(verdict: Verdict, from_ref: str) -> str:
    lines = [f"Upgrade of terraform/examples/{EXAMPLE} from {from_ref} to the working tree:"]
    lines.append(f"  moved ({len(verdict.moved)}):")
    lines += [f"    {c.previous_address} -> {c.address}" for c in verdict.moved]
    lines.append(f"  created ({len(verdict.created)}):")
    lines += [f"    {c.address}" for c in verdict.created]
    lines.append(f"  updated in place ({len(verdict.updated)}):")
    lines += [f"    {c.address}: {', '.join(c.attributes) or '?'}" for c in verdict.updated]
    lines.append(f"  replaced, destroyed or forgotten ({len(verdict.lost)}):")
    for c in verdict.lost:
        why = f" ({c.reason})" if c.reason else ""
        lines.append(f"    {c.address}: {' then '.join(c.actions)}{why}")
    lines.append(
        "Verdict: OK, nothing is replaced or destroyed."
        if verdict.ok
        else "Verdict: FAILED, the upgrade would replace or destroy deployed resources."
    )
    return "\n".join(lines)


# The two sides: terraform/ at the ref and in the working tree, each with the same build.
def export_ref(ref: str, target: Path) -> None:
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref, "terraform"],
        cwd=REPO,
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        message = archive.stderr.decode(errors="replace").strip()
        raise UpgradeError(f"git archive {ref} terraform failed: {message}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")


def prepare(ref: str) -> tuple[Path, Path]:
    """The old and the new side under WORK_DIR, each a root that GateTerraform accepts."""
    manifest = REPO / "dist" / "manifest.json"
    if not manifest.exists():
        raise UpgradeError("dist/manifest.json is missing: run `make package` first.")
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    old, new = WORK_DIR / "from", WORK_DIR / "to"
    export_ref(ref, old)
    shutil.copytree(REPO / "terraform", new / "terraform", ignore=NOT_COPIED)
    for side in (old, new):
        shutil.copytree(REPO / "dist", side / "dist")
    return old, new


def terraform(
    found: Setup, folder: Path, *args: str, accept: tuple[int, ...] = (0,)
) -> subprocess.CompletedProcess[str]:
    """`terraform -chdir=<folder> <args>` with the repository's environment."""
    result = subprocess.run(
        [found.terraform, f"-chdir={folder}", *args],
        env={**os.environ, **found.env},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode not in accept:
        tail = "\n".join(f"{result.stdout}\n{result.stderr}".strip().splitlines()[-40:])
        raise UpgradeError(f"terraform {args[0]} in {folder} exited {result.returncode}:\n{tail}")
    return result


def run(ref: str) -> Verdict:
    try:
        found = setup()
    except TerraformEnvError as error:
        raise UpgradeError(f"Terraform cannot run:\n{error}") from None
    old, new = prepare(ref)
    state = WORK_DIR / "terraform.tfstate"
    plan_file = WORK_DIR / "upgrade.tfplan"
    with LocalAws(port=0) as aws:
        variables = {"endpoint": aws.endpoint}
        print(f"Applying terraform/examples/{EXAMPLE} at {ref} to the local AWS ({aws.endpoint})")
        before = GateTerraform(EXAMPLE, variables, quiet=True, root=old, state=state)
        before.check()
        before.init()
        before.apply()
        print(f"Planning terraform/examples/{EXAMPLE} of the working tree on the same state")
        after = GateTerraform(EXAMPLE, variables, quiet=True, root=new, state=state)
        after.check()
        after.init()
        folder = new / "terraform" / "examples" / EXAMPLE
        planned = terraform(
            found,
            folder,
            "plan",
            "-input=false",
            "-no-color",
            "-detailed-exitcode",
            f"-state={state}",
            f"-var=endpoint={aws.endpoint}",
            f"-out={plan_file}",
            accept=(0, 2),
        )
        print(
            f"terraform plan -detailed-exitcode exited {planned.returncode}"
            f" ({'changes, moves included' if planned.returncode == 2 else 'no changes'})"
        )
        plan = json.loads(terraform(found, folder, "show", "-json", str(plan_file)).stdout)
    return judge(plan)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--from-ref",
        required=True,
        help="git ref of the module an existing deployment runs (e.g. HEAD~1, a tag)",
    )
    parser.add_argument(
        "--keep", action="store_true", help=f"keep {WORK_DIR.relative_to(REPO)} for a look"
    )
    args = parser.parse_args(argv)
    try:
        verdict = run(args.from_ref)
    except (UpgradeError, GateError) as error:
        print(f"upgrade plan: {error}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(WORK_DIR, ignore_errors=True)
    print(summary(verdict, args.from_ref))
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
