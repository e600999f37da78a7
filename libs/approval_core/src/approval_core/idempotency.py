"""Powertools idempotency on the approval records table."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.serialization.dataclass import (
    DataclassSerializer,
)

from approval_core.records import KEY_ATTRIBUTE, TTL_ATTRIBUTE

if TYPE_CHECKING:  # type checking only: the Lambda zips do not ship the stubs
    from mypy_boto3_dynamodb import DynamoDBClient

Parameters = ParamSpec("Parameters")
Result = TypeVar("Result")


def idempotency_store(
    table_name: str, client: DynamoDBClient | None = None
) -> DynamoDBPersistenceLayer:
    """Powertools' persistence layer on the records table (its keys never collide with
    the approval records')."""
    return DynamoDBPersistenceLayer(
        table_name=table_name,
        key_attr=KEY_ATTRIBUTE,
        expiry_attr=TTL_ATTRIBUTE,
        boto3_client=client,
    )


def idempotent(
    function: Callable[Parameters, Result],
    *,
    argument: str,
    result_type: type[Result],
    table_name: str,
    client: DynamoDBClient,
    config: IdempotencyConfig,
    key_prefix: str,
) -> Callable[Parameters, Result]:
    """`function` answered once per distinct `argument` (a dataclass, passed by keyword);
    repeats get the stored `result_type` back. `key_prefix` names the idempotency records
    (Powertools' default is the function's name): functions that share it share them."""
    # Powertools types its decorator Any: it keeps the function's signature.
    decorate: Callable[[Callable[Parameters, Result]], Callable[Parameters, Result]]
    decorate = idempotent_function(
        data_keyword_argument=argument,
        key_prefix=key_prefix,
        persistence_store=idempotency_store(table_name, client),
        config=config,
        output_serializer=DataclassSerializer(model=result_type),
    )
    return decorate(function)
