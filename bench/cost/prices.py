"""Prices (us-east-1) read on AWS's pricing pages, and DynamoDB's request units.

Only prices read on an AWS page are here; DynamoDB on-demand, SNS, CloudWatch Logs and SSM
Automation have none: no AWS page giving them could be read offline, so the bench prints
their units and "price not verified offline"."""

from __future__ import annotations

import math
from typing import NamedTuple

READ_ON = "read 2026-11-30"
UNVERIFIED = "price not verified offline"


class Price(NamedTuple):
    dollars: float  # per unit
    unit: str
    source: str


PRICES = {
    "lambda_requests": Price(0.20 / 1e6, "request", "https://aws.amazon.com/lambda/pricing/"),
    "lambda_gb_seconds": Price(
        0.0000166667, "GB-second (x86)", "https://aws.amazon.com/lambda/pricing/"
    ),
    "state_transitions": Price(
        0.025 / 1000,
        "state transition (Standard)",
        "https://aws.amazon.com/step-functions/pricing/",
    ),
    "xray_traces": Price(5.00 / 1e6, "trace recorded", "https://aws.amazon.com/xray/pricing/"),
}
# What on-demand request units are (no price): https://aws.amazon.com/dynamodb/pricing/on-demand/
UNITS_SOURCE = "https://aws.amazon.com/dynamodb/pricing/on-demand/"

WRITES = {"PutItem": 1, "UpdateItem": 1, "DeleteItem": 1, "TransactWriteItems": 2}
READS = {"GetItem": 1, "Query": 1, "Scan": 1, "TransactGetItems": 2}


def request_units(action: str, consistent: bool, item_bytes: int) -> tuple[float, float]:
    """(write request units, read request units) of one call on an item of `item_bytes`:
    a write 1 WRU per KB started, a read 1 RRU per 4 KB started strongly consistent, half
    eventually consistent. A Query or Scan is priced as returning one item."""
    if action in WRITES:
        return WRITES[action] * max(1, math.ceil(item_bytes / 1024)), 0.0
    if action in READS:
        units = READS[action] * max(1, math.ceil(item_bytes / 4096))
        return 0.0, float(units if consistent or READS[action] == 2 else units / 2)
    return 0.0, 0.0


def dollars(key: str, amount: float) -> float:
    return amount * PRICES[key].dollars
