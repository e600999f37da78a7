#!/usr/bin/env python3
"""Environment for running Terraform on this repository.

Everything Terraform writes stays inside the repository (and is gitignored): the CLI
configuration ``.tfcli/terraformrc``, the plugin cache ``.tfcli/plugin-cache``, and the
``.terraform/`` folders and lock files of each root module.

Providers come from a local filesystem mirror when there is one (a folder holding
``registry.terraform.io/hashicorp/<name>/<version>/<os_arch>/``), else from the public
registry, as for any user with network access. The mirror is looked for in this order:

1. the environment variable ``TF_PROVIDER_MIRROR`` (the folder above ``registry.terraform.io``);
2. well-known plugin folders (``~/.terraform.d/plugins``, ``/usr/share/terraform/plugins``, ...);
3. a bounded search of the file system (depth 5) for ``*/registry.terraform.io/hashicorp/aws``.

Usage as a module::

    from scripts.terraform_env import terraform_env
    subprocess.run(["terraform", "init"], env=terraform_env(), check=True)

Usage as a command::

    eval "$(python scripts/terraform_env.py --print)"   # export lines for a shell
    python scripts/terraform_env.py --check             # say what is found or missing
    python scripts/terraform_env.py -- -chdir=terraform/examples/local init -backend=false

No path of the machine is written into a committed file: the CLI configuration that names
the mirror lives under ``.tfcli/`` (gitignored).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TFCLI_DIR = REPO_ROOT / ".tfcli"
CLI_CONFIG = TFCLI_DIR / "terraformrc"
PLUGIN_CACHE = TFCLI_DIR / "plugin-cache"

REGISTRY_HOST = "registry.terraform.io"
PROVIDER_NAMESPACE = f"{REGISTRY_HOST}/hashicorp"
REQUIRED_PROVIDER = "aws"
MIRROR_ENV = "TF_PROVIDER_MIRROR"
TERRAFORM_ENV = "TERRAFORM_BIN"

# Terraform's own implied local mirror folders (Linux and macOS), searched before the walk.
_WELL_KNOWN = (
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "~/Library/Application Support/io.terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
)
# Never descended into by the search (virtual or huge, and never a mirror).
_SKIP_DIRS = frozenset({"/proc", "/sys", "/dev", "/run", "/tmp", "/var/lib/docker", "/snap"})
_SEARCH_DEPTH = 5  # as `find / -maxdepth 5 -path '*registry.terraform.io/hashicorp/aws'`


class TerraformEnvError(RuntimeError):
    """Something Terraform needs is missing; the message says what and how to fix it."""


@dataclass
class Setup:
    """What was found: the terraform binary, the provider source and the files written."""

    terraform: str
    terraform_version: str
    mirror: Path | None
    cli_config: Path
    plugin_cache: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def provider_source(self) -> str:
        return f"filesystem mirror {self.mirror}" if self.mirror else f"registry {REGISTRY_HOST}"


def is_mirror(path: Path, provider: str = REQUIRED_PROVIDER) -> bool:
    """True when ``path`` holds ``registry.terraform.io/hashicorp/<provider>/<version>/...``."""
    provider_dir = path / PROVIDER_NAMESPACE / provider
    try:
        return provider_dir.is_dir() and any(p.is_dir() for p in provider_dir.iterdir())
    except OSError:
        return False


def _walk_for_mirror(root: Path, depth: int) -> Path | None:
    """Breadth-first search for ``.../registry.terraform.io/hashicorp/aws`` under ``root``.

    ``depth`` counts path components below ``root`` of the ``aws`` folder itself, like
    ``find -maxdepth``. Returns the mirror root (the folder above ``registry.terraform.io``).
    """
    level = [root]
    # The aws folder is 3 levels below the mirror root, so the root is at most depth - 3.
    for _ in range(max(depth - 3, 0) + 1):
        next_level: list[Path] = []
        for folder in level:
            if is_mirror(folder):
                return folder
            try:
                children = sorted(folder.iterdir())
            except OSError:
                continue
            for child in children:
                if str(child) in _SKIP_DIRS or child.name.startswith("."):
                    continue
                try:
                    if child.is_dir() and not child.is_symlink():
                        next_level.append(child)
                except OSError:
                    continue
        level = next_level
    return None


def find_mirror(search: bool = True) -> Path | None:
    """The provider mirror root, or None when there is none (then the registry is used).

    ``TF_PROVIDER_MIRROR`` wins; if it is set but holds no ``hashicorp/aws`` provider,
    that is an error rather than a silent fall-back (someone meant to use it).
    """
    configured = os.environ.get(MIRROR_ENV, "").strip()
    if configured:
        path = Path(configured).expanduser().resolve()
        if path.name == REGISTRY_HOST:  # accept the registry folder itself too
            path = path.parent
        if not is_mirror(path):
            raise TerraformEnvError(
                f"{MIRROR_ENV}={configured} holds no provider "
                f"{PROVIDER_NAMESPACE}/{REQUIRED_PROVIDER}/<version>/<os_arch>/: point it at "
                f"the folder above '{REGISTRY_HOST}', or unset it to use the registry."
            )
        return path
    for candidate in _WELL_KNOWN:
        path = Path(candidate).expanduser()
        if is_mirror(path):
            return path.resolve()
    if search:
        found = _walk_for_mirror(Path("/"), _SEARCH_DEPTH)
        if found is not None:
            return found.resolve()
    return None


def find_terraform() -> tuple[str, str]:
    """Path and version of the terraform binary (``TERRAFORM_BIN`` or ``PATH``)."""
    binary = os.environ.get(TERRAFORM_ENV, "").strip() or shutil.which("terraform")
    if not binary or not Path(binary).exists():
        where = f"{TERRAFORM_ENV}={binary}" if os.environ.get(TERRAFORM_ENV) else "PATH"
        raise TerraformEnvError(
            f"terraform is not installed (not found via {where}). Install Terraform >= 1.5 "
            f"(https://developer.hashicorp.com/terraform/install) or set {TERRAFORM_ENV} to "
            "its path."
        )
    try:
        out = subprocess.run(
            [binary, "version", "-json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env={**os.environ, "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": os.devnull},
        )
        version = json.loads(out.stdout).get("terraform_version", "unknown")
    except (OSError, subprocess.SubprocessError, json.JSONDecodeError) as exc:
        raise TerraformEnvError(f"{binary} does not run as terraform: {exc}") from exc
    return binary, version


def registry_reachable(timeout: float = 3.0) -> bool:
    """True when a TCP connection to the public Terraform registry succeeds."""
    try:
        with socket.create_connection((REGISTRY_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def cli_config_text(mirror: Path | None) -> str:
    """The CLI configuration: the mirror for hashicorp providers, the registry for others."""
    header = "# Written by scripts/terraform_env.py; machine-specific, not committed.\n"
    if mirror is None:
        return header + "provider_installation {\n  direct {}\n}\n"
    return header + (
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {json.dumps(str(mirror))}\n"
        f'    include = ["{PROVIDER_NAMESPACE}/*"]\n'
        "  }\n"
        "  direct {\n"
        f'    exclude = ["{PROVIDER_NAMESPACE}/*"]\n'
        "  }\n"
        "}\n"
    )


def setup(check_registry: bool = True, search: bool = True) -> Setup:
    """Find terraform and the providers, write ``.tfcli/terraformrc``, return the set-up.

    Raises TerraformEnvError naming everything that is missing.
    """
    problems: list[str] = []
    terraform = version = ""
    try:
        terraform, version = find_terraform()
    except TerraformEnvError as exc:
        problems.append(str(exc))
    mirror: Path | None = None
    try:
        mirror = find_mirror(search=search)
    except TerraformEnvError as exc:
        problems.append(str(exc))
    else:
        if mirror is None and check_registry and not registry_reachable():
            problems.append(
                f"no provider mirror found and {REGISTRY_HOST} cannot be reached: set "
                f"{MIRROR_ENV} to a folder holding {PROVIDER_NAMESPACE}/{REQUIRED_PROVIDER}/"
                "<version>/<os_arch>/ (see `terraform providers mirror`), or allow HTTPS to "
                f"{REGISTRY_HOST}."
            )
    if problems:
        raise TerraformEnvError("\n".join(f"- {p}" for p in problems))

    PLUGIN_CACHE.mkdir(parents=True, exist_ok=True)
    text = cli_config_text(mirror)
    if not CLI_CONFIG.exists() or CLI_CONFIG.read_text() != text:
        CLI_CONFIG.write_text(text)
    env = {
        "TF_CLI_CONFIG_FILE": str(CLI_CONFIG),
        "TF_PLUGIN_CACHE_DIR": str(PLUGIN_CACHE),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
    }
    return Setup(terraform, version, mirror, CLI_CONFIG, PLUGIN_CACHE, env)


def terraform_env(base: dict[str, str] | None = None, **kwargs: bool) -> dict[str, str]:
    """A full environment (``base`` or ``os.environ`` plus the Terraform settings)."""
    return {**(os.environ if base is None else base), **setup(**kwargs).env}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Set up and print the environment to run Terraform on this repository.",
        epilog="Arguments after `--` run terraform with that environment.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--print", action="store_true", help="print `export` lines for a shell")
    mode.add_argument("--json", action="store_true", help="print the variables as JSON")
    mode.add_argument("--check", action="store_true", help="say what was found (default)")
    parser.add_argument("terraform_args", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    try:
        found = setup()
    except TerraformEnvError as exc:
        print(f"terraform_env: cannot run Terraform:\n{exc}", file=sys.stderr)
        return 2

    if args.terraform_args:
        cmd = [found.terraform, *args.terraform_args]
        return subprocess.run(cmd, env={**os.environ, **found.env}, check=False).returncode
    if args.print:
        for key, value in found.env.items():
            print(f"export {key}={shlex.quote(value)}")
    elif args.json:
        print(json.dumps(found.env, indent=2))
    else:
        print(f"terraform:       {found.terraform} (v{found.terraform_version})")
        print(f"providers from:  {found.provider_source}")
        print(f"CLI config:      {found.cli_config}")
        print(f"plugin cache:    {found.plugin_cache}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
