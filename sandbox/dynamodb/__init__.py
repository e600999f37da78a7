"""DynamoDB: item writes that are atomic (``atomic_writes``), and global secondary indexes
that lag, as AWS allows (``consistency``, with the ``gsi_lag_seconds`` variant of
``settings``)."""

from sandbox.dynamodb import atomic_writes, consistency


def install() -> None:
    """Hook moto's DynamoDB (idempotent)."""
    atomic_writes.install()
    consistency.install()


__all__ = ["install"]
