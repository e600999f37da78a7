"""What each zip is made from, so a service whose inputs have not changed is not rebuilt.

The fingerprint of each built zip is kept beside the zips, not in them, so a change to the
build's code alone that gives the same zip leaves its sha256 alone.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .interpreter import Interpreter
from .services import Service
from .target import RUNTIME
from .zips import file_sha256, write_atomically

FINGERPRINTS_DIR = ".fingerprints"
# The build's own code: build/package.py and this package (a change to it may change the zips).
BUILD_DIR = Path(__file__).resolve().parent.parent


def build_code() -> list[Path]:
    return sorted([BUILD_DIR / "package.py", *Path(__file__).resolve().parent.glob("*.py")])


def fingerprint(
    service: Service,
    sources: dict,
    architecture: str,
    epoch: int,
    interpreter: Interpreter | None,
) -> str:
    """Hash of everything a zip is made from; paths are repo-relative, so checkouts agree.

    The bytecode compiler counts by its version (another interpreter rebuilds), not its path.
    """
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    for path in build_code():
        add(f"script {path.relative_to(BUILD_DIR).as_posix()}", path.read_bytes())
    add("target", f"{RUNTIME} {architecture} {epoch}".encode())
    add("bytecode", interpreter.identity.encode() if interpreter else b"none")
    add("pyproject", (service.service_dir / "pyproject.toml").read_bytes())
    add("lock", service.lock.read_bytes() if service.lock.is_file() else b"")
    for name in sorted(sources):
        data, mode = sources[name]
        add(f"{name} {mode:o}", data)
    return digest.hexdigest()


def state_path(dist: Path, service: Service) -> Path:
    return dist / FINGERPRINTS_DIR / f"{service.name}.json"


def is_up_to_date(dist: Path, service: Service, inputs: str) -> bool:
    """The service's zip in dist was built from these inputs and is still what was built."""
    zip_path, state_file = dist / service.zip_name, state_path(dist, service)
    if not (zip_path.is_file() and state_file.is_file()):
        return False
    state = json.loads(state_file.read_text(encoding="utf-8"))
    return state.get("inputs") == inputs and state.get("sha256") == file_sha256(zip_path).hex()


def record(
    dist: Path, service: Service, inputs: str, sha256: str, interpreter: Interpreter | None
) -> None:
    """Remember what the zip just written to dist was built from."""
    state_file = state_path(dist, service)
    state_file.parent.mkdir(exist_ok=True)
    state = {
        "zip": service.zip_name,
        "inputs": inputs,
        "sha256": sha256,
        "bytecode": interpreter.identity if interpreter else None,
    }
    write_atomically(
        state_file,
        lambda temp: temp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8"),
    )
