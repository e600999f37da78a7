"""One local AWS per test session, and the gate deployed into it once, by Terraform."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sandbox.server import LocalAws
from scripts.gate_terraform import MANIFEST, REPO
from scripts.local_gate import LocalGate
from scripts.terraform_env import TerraformEnvError, setup

pytestmark = pytest.mark.terraform


@pytest.fixture(scope="session")
def local_aws():
    try:
        setup()
    except TerraformEnvError as error:
        pytest.skip(f"Terraform cannot run here, integration tests skipped:\n{error}")
    with LocalAws(port=0) as aws:
        yield aws


@pytest.fixture(scope="session")
def gate(local_aws):
    if not MANIFEST.exists():
        subprocess.run([sys.executable, str(REPO / "build" / "package.py")], check=True)
    deployed = LocalGate(local_aws)
    deployed.deploy()
    try:
        yield deployed
    finally:
        deployed.destroy()
