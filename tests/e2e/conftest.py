"""A local AWS per test module, and the gate deployed into it once, by Terraform.

Module scope, not session: moto's state is process-wide, so one LocalAws runs at a time
and the sandbox's own tests start theirs after these end."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sandbox.server import LocalAws
from scripts.gate_terraform import MANIFEST, REPO
from scripts.local_gate import LocalGate
from scripts.terraform_env import TerraformEnvError, setup
from tests.support.client_workflow import CLIENT_STATE_MACHINE_ARN

pytestmark = pytest.mark.terraform


@pytest.fixture(scope="module")
def local_aws():
    try:
        setup()
    except TerraformEnvError as error:
        pytest.fail(f"Terraform cannot run here (the integration tests need it):\n{error}")
    with LocalAws(port=0) as aws:
        # At SSM's API rates (the local AWS's defaults): the gate paces its own calls.
        yield aws


@pytest.fixture(scope="module")
def gate(local_aws, tmp_path_factory):
    if not MANIFEST.exists():
        subprocess.run([sys.executable, str(REPO / "build" / "package.py")], check=True)
    deployed = LocalGate(
        local_aws,
        state=tmp_path_factory.mktemp("gate") / "terraform.tfstate",
        variables={"client_state_machine_arns": [CLIENT_STATE_MACHINE_ARN]},
    )
    deployed.deploy()
    try:
        yield deployed
    finally:
        deployed.destroy()
