"""docs/contracts.md's table of deployed functions is what the code deploys: each service's
pyproject declares the same functions and handlers, the approval_gate Terraform module deploys
each with that handler and invokes it from that rule, and each handler exists, in a module of
its own, beside its logic. Files are read as text: nothing is imported, nothing runs."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path
from typing import NamedTuple

import pytest

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = REPO / "docs" / "contracts.md"
MODULE = REPO / "terraform" / "modules" / "approval_gate"
SERVICES = REPO / "services"
NO_RULE = "none"


class Function(NamedTuple):
    service: str
    handler: str
    rule: str  # a Terraform address (aws_cloudwatch_event_rule.<name>), or NO_RULE


def documented() -> dict[str, Function]:
    """The rows of the table under "## Deployed functions"."""
    section = CONTRACTS.read_text().split("\n## Deployed functions\n", 1)[1].split("\n## ", 1)[0]
    rows = [
        [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("|") and not line.startswith("| ---")
    ]
    header, *body = rows
    column = {name: header.index(name) for name in ("function", "service", "handler")}
    rule = header.index("EventBridge rule")
    return {
        row[column["function"]]: Function(
            row[column["service"]], row[column["handler"]], row[rule] or NO_RULE
        )
        for row in body
    }


def declared() -> dict[str, dict[str, str]]:
    """Each service's [tool.approval-gate.functions]."""
    return {
        pyproject.parent.name: tomllib.loads(pyproject.read_text())["tool"]["approval-gate"][
            "functions"
        ]
        for pyproject in sorted(SERVICES.glob("*/pyproject.toml"))
    }


def terraform_text() -> str:
    """Every .tf file of the module (however it is split), without its comment lines."""
    lines = []
    for path in sorted(MODULE.glob("*.tf")):
        lines += [line for line in path.read_text().splitlines() if not _is_comment(line)]
    return "\n".join(lines)


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith(("#", "//"))


def blocks(text: str, opening: str) -> list[tuple[re.Match[str], str]]:
    """Each match of `opening` (a pattern ending in `{`) with the body up to its closing brace."""
    found = []
    for match in re.finditer(opening, text, re.MULTILINE):
        depth, end = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        found.append((match, text[match.end() : end - 1]))
    return found


HANDLER = re.compile(r'^\s*handler\s*=\s*(?:"([^"]*)"|(null))\s*$', re.MULTILINE)
SERVICE = re.compile(r'^\s*service(?:_name)?\s*=\s*"(\w+)"\s*$', re.MULTILINE)


def deployed() -> dict[str, tuple[str, str | None]]:
    """{function: (service, handler or None)} of the module: each block (a `module "<name>"`
    call or a `<name> = {...}` entry of a map) that sets one service and one literal handler
    (None: null, the service's default handler from the build manifest)."""
    functions = {}
    for match, body in blocks(terraform_text(), r'(?:^module\s+"(\w+)"|^\s*(\w+)\s*=)\s*\{'):
        handlers, services = HANDLER.findall(body), SERVICE.findall(body)
        if len(handlers) == 1 and len(services) == 1:
            literal, null = handlers[0]
            functions[match[1] or match[2]] = (services[0], None if null else literal)
    return functions


def rule_targets() -> dict[str, list[str]]:
    """{rule address: [function each of its targets invokes]}."""
    targets: dict[str, list[str]] = {}
    text = terraform_text()
    for _, body in blocks(text, r'^resource\s+"aws_cloudwatch_event_target"\s+"\w+"\s*\{'):
        rule = re.search(r"^\s*rule\s*=\s*(aws_cloudwatch_event_rule\.\w+)\.name", body, re.M)
        function = re.search(
            r'^\s*arn\s*=\s*module\.(?:functions\["(\w+)"\]|(\w+))\.alias_arn', body, re.M
        )
        assert rule and function, f"an event target that invokes no function alias: {body}"
        targets.setdefault(rule[1], []).append(function[1] or function[2])
    for rule in re.findall(r'^resource\s+"aws_cloudwatch_event_rule"\s+"(\w+)"', text, re.M):
        targets.setdefault(f"aws_cloudwatch_event_rule.{rule}", [])
    return targets


def module_file(handler: str) -> Path:
    """Where a handler's module lives: services/<service>/src/<module path>.py."""
    module = handler.rpartition(".")[0]
    return SERVICES / module.split(".")[0] / "src" / (module.replace(".", "/") + ".py")


def defines(path: Path, kind: type[ast.AST], name: str) -> bool:
    tree = ast.parse(path.read_text())
    return any(isinstance(node, kind) and node.name == name for node in tree.body)


DOCUMENTED = documented()


def test_the_table_lists_the_four_functions():
    assert sorted(DOCUMENTED) == [
        "close_approvals",
        "receive_result",
        "start_approval",
        "sweep_approvals",
    ]


def test_each_service_declares_the_functions_of_the_table():
    table = {}
    for function, row in DOCUMENTED.items():
        table.setdefault(row.service, {})[function] = row.handler
    assert declared() == table


def test_terraform_deploys_each_function_with_its_handler():
    defaults = {service: functions[service] for service, functions in declared().items()}
    deployed_functions = deployed()
    assert sorted(deployed_functions) == sorted(DOCUMENTED), "functions in the module's .tf"
    wrong = []
    for function, (service, handler) in sorted(deployed_functions.items()):
        row = DOCUMENTED[function]
        # null deploys the manifest's `handler`: that of the function named like the service.
        if (service, handler or defaults[service]) != (row.service, row.handler):
            shown = handler or f"null (the manifest's {defaults[service]})"
            wrong.append(f"{function}: service {service}, handler {shown}; wanted {row}")
    assert not wrong, "terraform/modules/approval_gate deploys, unlike docs/contracts.md:\n" + (
        "\n".join(wrong)
    )


def test_each_rule_invokes_the_function_the_table_names():
    targets = rule_targets()
    for function, row in DOCUMENTED.items():
        invoked_by = sorted(rule for rule, functions in targets.items() if function in functions)
        assert invoked_by == ([] if row.rule == NO_RULE else [row.rule]), function


@pytest.mark.parametrize("function", sorted(DOCUMENTED))
def test_each_handler_and_its_logic_exist(function):
    row = DOCUMENTED[function]
    module, _, attribute = row.handler.rpartition(".")
    assert module == f"{row.service}.handlers.{function}", "one handler module per function"
    assert module_file(row.handler).is_file(), row.handler
    assert defines(module_file(row.handler), ast.FunctionDef, attribute), row.handler
    logic = SERVICES / row.service / "src" / row.service / "logic" / f"{function}.py"
    camel_case = "".join(word.capitalize() for word in function.split("_"))
    assert defines(logic, ast.ClassDef, camel_case), f"{logic} defines no {camel_case}"


def test_every_handler_module_is_a_documented_function():
    modules = sorted(
        f"{path.parent.parent.name}.handlers.{path.stem}"
        for path in SERVICES.glob("*/src/*/handlers/*.py")
        if path.name != "__init__.py"
    )
    assert modules == sorted(row.handler.rpartition(".")[0] for row in DOCUMENTED.values())
