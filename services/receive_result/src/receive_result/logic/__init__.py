"""What each deployed function does, one module per function (named like it), apart from
Lambda and from how AWS is reached (the adapters)."""
