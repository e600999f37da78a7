"""A service as its pyproject.toml declares it: version, functions, libraries, exclusions."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import BuildError

# A Lambda handler: a dotted module path, then the function (module.function).
HANDLER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")


@dataclass(frozen=True)
class Service:
    name: str
    version: str
    # The functions deployed from this zip: {function name: handler (module.attribute)}.
    functions: dict[str, str]
    libs: tuple[str, ...]
    root: Path  # the repository root
    # Folders of the third-party packages left out of the zip: parts the service never
    # imports (for example Powertools' event handlers), kept out for size.
    exclude: tuple[str, ...] = ()

    @property
    def handler(self) -> str:
        """The handler of the function named like the service (the manifest's `handler`)."""
        return self.functions[self.name]

    @property
    def zip_name(self) -> str:
        return f"{self.name}-{self.version}.zip"

    @property
    def service_dir(self) -> Path:
        return self.root / "services" / self.name

    @property
    def lock(self) -> Path:
        return self.service_dir / "requirements.lock"


def load_service(root: Path, name: str) -> Service:
    pyproject = root / "services" / name / "pyproject.toml"
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        gate = data["tool"]["approval-gate"]
        return Service(
            name=name,
            version=data["project"]["version"],
            functions=read_functions(gate["functions"], name, pyproject),
            libs=tuple(gate.get("libs", [])),
            root=root,
            exclude=tuple(gate.get("exclude", [])),
        )
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise BuildError(f"cannot read {pyproject}: {error}") from error
    except KeyError as error:
        raise BuildError(f"{pyproject} lacks {error}") from error


def read_functions(table: object, name: str, pyproject: Path) -> dict[str, str]:
    """[tool.approval-gate.functions]: function name -> handler, one of them named like the
    service."""
    where = f"{pyproject} [tool.approval-gate.functions]"
    if not isinstance(table, dict) or not table:
        raise BuildError(f'{where}: declare each function as <function> = "<handler>"')
    for function, handler in table.items():
        if not isinstance(handler, str) or not HANDLER.fullmatch(handler):
            raise BuildError(
                f"{where}: {function} = {handler!r} is not a handler (module.function, such "
                f"as {name}.handlers.{function}.lambda_handler)"
            )
    if name not in table:
        raise BuildError(f"{where}: no function named like the service ({name})")
    return dict(sorted(table.items()))


def discover_services(root: Path) -> list[str]:
    return sorted(p.parent.name for p in (root / "services").glob("*/pyproject.toml"))
