"""Errors that make the delivery fail, so EventBridge/Lambda retry it or send it to the
dead-letter queue, where an operator sees it."""


class MalformedEvent(Exception):
    """The event is not an SSM automation step status-change event; the message says what
    is wrong with it."""


class UnexpectedEvent(Exception):
    """A well-formed event this function must not handle (another document, another
    action): the EventBridge rule's pattern is wrong."""


class ConfigurationError(Exception):
    """The function's environment is incomplete."""
