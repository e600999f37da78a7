"""DynamoDB: global secondary indexes that lag, as AWS allows (``consistency``, with the
``gsi_lag_seconds`` variant of ``settings``)."""

from sandbox.dynamodb.consistency import install

__all__ = ["install"]
