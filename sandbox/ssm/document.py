"""Automation documents: lookup in moto's SSM backend, parameter checks, ``{{ }}`` values."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from moto.ssm.models import SimpleSystemManagerBackend

from sandbox.ssm.exceptions import (
    AutomationDefinitionNotFound,
    AutomationDefinitionVersionNotFound,
    InvalidAutomationExecutionParameters,
)

MAX_PARAMETER_VALUE_CHARS = 512  # botocore model: AutomationParameterValue
SINGLE_VALUE_TYPES = ("String", "Integer", "Boolean", "StringMap")
PARAMETER_TYPES = (*SINGLE_VALUE_TYPES, "StringList", "MapList")
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_:.\-]+)\s*\}\}")


@dataclass(frozen=True)
class AutomationDocument:
    name: str
    version: str
    parameters: dict[str, dict[str, Any]]
    main_steps: list[dict[str, Any]]
    outputs: list[str]
    assume_role: str


def load_document(
    backend: SimpleSystemManagerBackend, name: str, version: str | None
) -> AutomationDocument:
    documents = backend._documents.get(name)
    if documents is None:
        raise AutomationDefinitionNotFound(f"Document {name} does not exist.")
    if version in (None, "", "$DEFAULT"):
        document = documents.get_default_version()
    elif version == "$LATEST":
        document = documents.get_latest_version()
    else:
        document = documents.find_by_version(version)
    if document is None:
        raise AutomationDefinitionVersionNotFound(
            f"Version {version} of document {name} does not exist."
        )
    if document.document_type != "Automation":
        raise AutomationDefinitionNotFound(
            f"Document {name} is of type {document.document_type}, not Automation."
        )
    content = document.content_json or {}
    return AutomationDocument(
        name=name,
        version=document.document_version,
        parameters=dict(content.get("parameters") or {}),
        main_steps=list(content.get("mainSteps") or []),
        outputs=list(content.get("outputs") or []),
        assume_role=str(content.get("assumeRole") or ""),
    )


def resolve_parameters(
    document: AutomationDocument, given: dict[str, list[str]] | None
) -> dict[str, list[str]]:
    """The execution's parameters (given values plus defaults), or an error naming the problem."""
    given = given or {}
    unknown = sorted(set(given) - set(document.parameters))
    if unknown:
        raise InvalidAutomationExecutionParameters(
            f"Parameters {unknown} are not defined in document {document.name} "
            f"(it declares {sorted(document.parameters)})."
        )
    resolved: dict[str, list[str]] = {}
    for name, spec in document.parameters.items():
        param_type = spec.get("type", "String")
        if param_type not in PARAMETER_TYPES:
            raise InvalidAutomationExecutionParameters(
                f"Parameter {name} of document {document.name} has unsupported type {param_type}."
            )
        if name in given:
            values = [str(value) for value in given[name]]
        elif "default" in spec:
            values = _default_values(param_type, spec["default"])
        else:
            raise InvalidAutomationExecutionParameters(
                f"Parameter {name} is required by document {document.name} and was not given."
            )
        _check_values(name, param_type, spec, values, explicit=name in given)
        resolved[name] = values
    return resolved


def _default_values(param_type: str, default: Any) -> list[str]:
    if param_type == "StringList":
        return [str(item) for item in default]
    if param_type == "MapList":
        return [json.dumps(item) for item in default]
    if param_type == "StringMap":
        return [json.dumps(default)]
    if param_type == "Boolean":
        return [str(default).lower()]
    return [str(default)]


def _check_values(
    name: str, param_type: str, spec: dict[str, Any], values: list[str], explicit: bool
) -> None:
    def fail(reason: str) -> None:
        raise InvalidAutomationExecutionParameters(f"Parameter {name} ({param_type}): {reason}")

    if param_type in SINGLE_VALUE_TYPES and len(values) != 1:
        fail(f"takes exactly one value, got {len(values)}.")
    if param_type == "StringList" and explicit and not values:
        fail("needs at least one value.")
    for value in values:
        if explicit and len(value) > MAX_PARAMETER_VALUE_CHARS:
            fail(
                f"a value of {len(value)} characters is over the limit of "
                f"{MAX_PARAMETER_VALUE_CHARS} characters per automation parameter value."
            )
        if param_type == "Integer" and not re.fullmatch(r"-?\d+", value.strip()):
            fail(f"{value!r} is not an integer.")
        if param_type == "Boolean" and value.lower() not in ("true", "false"):
            fail(f"{value!r} is not true or false.")
        if param_type in ("MapList", "StringMap") and not _is_json_object(value):
            fail(f"{value!r} is not a JSON object.")
        pattern = spec.get("allowedPattern")
        if pattern is not None and explicit and not re.search(pattern, value):
            fail(f"{value!r} does not match allowedPattern {pattern}.")
        allowed = spec.get("allowedValues")
        if allowed is not None and value not in [str(item) for item in allowed]:
            fail(f"{value!r} is not one of the allowedValues {allowed}.")
    _check_sizes(fail, spec, values)


def _check_sizes(fail: Any, spec: dict[str, Any], values: list[str]) -> None:
    if "minItems" in spec and len(values) < int(spec["minItems"]):
        fail(f"needs at least {spec['minItems']} values.")
    if "maxItems" in spec and len(values) > int(spec["maxItems"]):
        fail(f"takes at most {spec['maxItems']} values.")
    for value in values:
        if "minChars" in spec and len(value) < int(spec["minChars"]):
            fail(f"{value!r} is shorter than {spec['minChars']} characters.")
        if "maxChars" in spec and len(value) > int(spec["maxChars"]):
            fail(f"a value is longer than {spec['maxChars']} characters.")


def _is_json_object(value: str) -> bool:
    try:
        return isinstance(json.loads(value), dict)
    except ValueError:
        return False


def typed_parameters(
    document: AutomationDocument, parameters: dict[str, list[str]]
) -> dict[str, Any]:
    """Parameter values as the document's steps see them (lists, ints, booleans, maps)."""
    typed: dict[str, Any] = {}
    for name, values in parameters.items():
        param_type = document.parameters[name].get("type", "String")
        if param_type == "StringList":
            typed[name] = list(values)
        elif param_type == "MapList":
            typed[name] = [json.loads(value) for value in values]
        elif param_type == "StringMap":
            typed[name] = json.loads(values[0])
        elif param_type == "Integer":
            typed[name] = int(values[0])
        elif param_type == "Boolean":
            typed[name] = values[0].lower() == "true"
        else:
            typed[name] = values[0]
    return typed


def interpolate(value: Any, variables: dict[str, Any]) -> Any:
    """Replace ``{{ Name }}`` / ``{{Name}}`` in a step input.

    A value that is exactly one placeholder takes the variable's type (a StringList stays a
    list, an Integer an int); a placeholder inside a longer string is replaced by text.
    Unknown names are left as written.
    """
    if isinstance(value, dict):
        return {key: interpolate(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, variables) for item in value]
    if not isinstance(value, str):
        return value
    whole = PLACEHOLDER.fullmatch(value.strip())
    if whole and whole.group(1) in variables:
        return variables[whole.group(1)]

    def as_text(match: re.Match[str]) -> str:
        if match.group(1) not in variables:
            return match.group(0)
        found = variables[match.group(1)]
        if isinstance(found, list):
            return ",".join(str(item) for item in found)
        if isinstance(found, bool):
            return str(found).lower()
        return str(found)

    return PLACEHOLDER.sub(as_text, value)
