"""dist/manifest.json: one entry per service's zip, for the target it was built for."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from .interpreter import Interpreter
from .services import Service
from .target import RUNTIME
from .zips import file_sha256, write_atomically

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"


def manifest_entry(
    service: Service, zip_path: Path, architecture: str, interpreter: Interpreter | None
) -> dict:
    digest = file_sha256(zip_path)
    return {
        "version": service.version,
        "zip": zip_path.name,
        "handler": service.handler,
        "functions": service.functions,
        "sha256": digest.hex(),
        "source_code_hash": base64.b64encode(digest).decode("ascii"),
        "size": zip_path.stat().st_size,
        "runtime": RUNTIME,
        "architecture": architecture,
        "bytecode": interpreter.cache_tag if interpreter else None,
    }


def load_manifest(path: Path, architecture: str) -> dict:
    """The existing entries that still describe this target; others would mislead."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    kept = {}
    for name, entry in manifest.get("services", {}).items():
        if entry.get("runtime") == RUNTIME and entry.get("architecture") == architecture:
            # Zips built before the manifest said so carry no bytecode.
            kept[name] = {**entry, "bytecode": entry.get("bytecode")}
        else:
            print(f"{name}: dropping its manifest entry, built for another target")
    return kept


def write_manifest(path: Path, entries: dict, architecture: str) -> None:
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "runtime": RUNTIME,
        "architecture": architecture,
        "services": dict(sorted(entries.items())),
    }
    text = json.dumps(manifest, indent=2) + "\n"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_atomically(path, lambda temp: temp.write_text(text, encoding="utf-8"))
