"""Collecting files as they go in a zip, {name in the zip: (bytes, mode)}: the service's own
package and its libraries, and the checks on them."""

from __future__ import annotations

from pathlib import Path

from .errors import BuildError
from .services import Service

# Native code would tie a zip to one platform; the contract is pure Python only.
COMPILED_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")


def collect_tree(folder: Path, prefix: str, skip_top: frozenset[str] = frozenset()) -> dict:
    """Files under folder, named as in the zip; no byte code, modes reduced to 0644/0755."""
    if not folder.is_dir():
        raise BuildError(f"{folder} does not exist")
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if relative.parts[0] in skip_top or "__pycache__" in relative.parts:
            continue
        if path.is_dir() or path.suffix in (".pyc", ".pyo"):
            continue
        mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
        files[f"{prefix}{relative.as_posix()}"] = (path.read_bytes(), mode)
    return files


def merge(into: dict, files: dict, origin: str) -> None:
    clashes = sorted(into.keys() & files.keys())
    if clashes:
        raise BuildError(f"{origin} ships files that are already in the zip: {clashes[:5]}")
    into.update(files)


def collect_sources(service: Service) -> dict:
    """The service's own package and its shared libraries, as they go in the zip."""
    files = collect_tree(service.service_dir / "src" / service.name, f"{service.name}/")
    for lib in service.libs:
        lib_files = collect_tree(service.root / "libs" / lib / "src" / lib, f"{lib}/")
        merge(files, lib_files, f"libs/{lib}")
    return files


def check_pure(files: dict, origin: str) -> None:
    compiled = [name for name in files if name.endswith(COMPILED_SUFFIXES)]
    if compiled:
        raise BuildError(f"compiled files from {origin} (pure Python only): {compiled[:5]}")


def check_handlers(service: Service, files: dict) -> None:
    """Each function's handler module is in the sources (its attribute is not checked: that
    would mean importing the service)."""
    for function, handler in service.functions.items():
        module = handler.rpartition(".")[0].replace(".", "/")
        if f"{module}.py" not in files and f"{module}/__init__.py" not in files:
            raise BuildError(
                f"function {function}: handler {handler}: no {module}.py in the sources"
            )
