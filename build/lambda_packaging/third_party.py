"""The locked third-party packages: installed for the Lambda runtime (never the host), the
excluded parts left out, pip's traces of the install removed."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

from .errors import BuildError
from .services import Service
from .sources import collect_tree
from .target import RUNTIME_VERSION

# What pip records about the act of installing (who, on request, from where), not the package.
INSTALL_RECORDS = {"INSTALLER", "REQUESTED", "direct_url.json"}
# Console scripts: their shebang names the build machine's interpreter, and Lambda never runs
# them.
SKIPPED_TOP_LEVEL = frozenset({"bin"})


def install_locked(service: Service, target: Path) -> dict:
    """The locked third-party packages, installed for the Lambda runtime, never the host."""
    if not service.lock.is_file():
        raise BuildError(f"{service.lock} does not exist")
    python_version = RUNTIME_VERSION
    command = [
        sys.executable, "-m", "pip", "install", "--no-deps", "--only-binary=:all:",
        "--python-version", python_version, "--implementation", "py", "--abi", "none",
        "--platform", "any", "--target", str(target), "--no-compile",
        "--disable-pip-version-check", "--no-input", "--quiet", "-r", str(service.lock),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
        detail = "; ".join(errors) or result.stderr.strip()[-2000:] or "no output"
        raise BuildError(f"pip could not install {service.lock.name}: {detail}")
    return collect_tree(target, "", skip_top=SKIPPED_TOP_LEVEL)


def leave_out(files: dict, service: Service) -> None:
    """Drop the folders `exclude` names; one that matches nothing is a stale setting."""
    for folder in service.exclude:
        prefix = folder.strip("/") + "/"
        matched = [name for name in files if name.startswith(prefix)]
        if not matched:
            raise BuildError(
                f"[tool.approval-gate].exclude names {folder!r}, which no locked package "
                "installs: remove it from pyproject.toml"
            )
        for name in matched:
            del files[name]


def normalise_dist_info(files: dict) -> None:
    """Drop pip's install records and list in each RECORD only the files that ship."""
    for name in [n for n in files if is_dist_info(n) and n.rpartition("/")[2] in INSTALL_RECORDS]:
        del files[name]
    for name in [n for n in files if is_dist_info(n) and n.endswith("/RECORD")]:
        data, mode = files[name]
        rows = csv.reader(io.StringIO(data.decode("utf-8")))
        kept = sorted(row for row in rows if row and row[0] in files)
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(kept)
        files[name] = (out.getvalue().encode("utf-8"), mode)


def is_dist_info(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and parts[0].endswith(".dist-info")
