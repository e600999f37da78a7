"""Service condition keys of a request, for the policies that test them.

DynamoDB's fine-grained access control (docs/aws-behaviour.md#dynamodb-fine-grained-access):
``dynamodb:Attributes`` lists the top-level attribute names a request touches (its
ProjectionExpression or AttributesToGet, the names it binds in ExpressionAttributeNames, and
its Key's), and ``dynamodb:Select`` its Select: given, SPECIFIC_ATTRIBUTES with a projection,
else what DynamoDB returns by default (ALL_ATTRIBUTES from a table, ALL_PROJECTED_ATTRIBUTES
from an index). A read without a projection is thus refused by a policy that allows only
SPECIFIC_ATTRIBUTES, as on AWS.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_READS = frozenset({"dynamodb:getitem", "dynamodb:query", "dynamodb:scan"})
_NAME = re.compile(r"^\s*(#?[A-Za-z0-9_\-]+)")


def condition_keys(action: str, params: Mapping[str, Any]) -> dict[str, list[str]]:
    """Lower-case condition key -> values, for ``action`` (``service:Action``)."""
    if action.lower() not in _READS:
        return {}
    names = params.get("ExpressionAttributeNames") or {}
    attributes = set(names.values())
    attributes.update(params.get("AttributesToGet") or [])
    attributes.update((params.get("Key") or {}).keys())
    projection = params.get("ProjectionExpression")
    for path in (projection or "").split(","):
        found = _NAME.match(path)
        if found:
            name = found.group(1)
            attributes.add(names.get(name, name) if name.startswith("#") else name)
    if params.get("Select"):
        select = str(params["Select"])
    elif projection or params.get("AttributesToGet"):
        select = "SPECIFIC_ATTRIBUTES"
    else:
        select = "ALL_PROJECTED_ATTRIBUTES" if params.get("IndexName") else "ALL_ATTRIBUTES"
    keys = {"dynamodb:select": [select]}
    if attributes:
        keys["dynamodb:attributes"] = sorted(attributes)
    return keys
