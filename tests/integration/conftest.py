"""The gate deployed once per test session, by Terraform, into the local AWS."""

from __future__ import annotations

import pytest

from sandbox.server import LocalAws
from scripts.gate_terraform import MANIFEST
from scripts.local_gate import LocalGate
from scripts.terraform_env import TerraformEnvError, setup

pytestmark = pytest.mark.terraform


@pytest.fixture(scope="session")
def gate():
    try:
        setup()
    except TerraformEnvError as error:
        pytest.skip(f"Terraform cannot run here, integration tests skipped:\n{error}")
    if not MANIFEST.exists():
        import subprocess
        import sys

        subprocess.run([sys.executable, "build/package.py"], check=True)
    with LocalAws(port=0) as aws:
        deployed = LocalGate(aws)
        deployed.deploy()
        try:
            yield deployed
        finally:
            deployed.destroy()
