"""Each service and library carries one version: its pyproject, its package's __version__
and its changelog agree, so a release is a single, visible bump."""

import importlib
import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMPONENTS = [
    (REPO / "services/start_approval", "start_approval"),
    (REPO / "services/receive_result", "receive_result"),
    (REPO / "libs/approval_core", "approval_core"),
]


@pytest.mark.parametrize(("folder", "package"), COMPONENTS, ids=[c[1] for c in COMPONENTS])
def test_pyproject_package_and_changelog_agree_on_the_version(folder, package):
    version = tomllib.loads((folder / "pyproject.toml").read_text())["project"]["version"]
    assert importlib.import_module(package).__version__ == version
    changelog = (folder / "CHANGELOG.md").read_text()
    assert re.search(rf"^## {re.escape(version)}\b", changelog, re.MULTILINE), (
        f"{folder.name}/CHANGELOG.md has no '## {version}' section"
    )


@pytest.mark.parametrize(
    "folder", [c[0] for c in COMPONENTS[:2]], ids=["start_approval", "receive_result"]
)
def test_a_service_pins_the_shared_library_at_its_current_version(folder):
    core = tomllib.loads((REPO / "libs/approval_core/pyproject.toml").read_text())["project"]
    dependencies = tomllib.loads((folder / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"approval-core=={core['version']}" in dependencies
