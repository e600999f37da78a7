"""Errors that make the delivery fail, so EventBridge/Lambda retry it or send it to the
dead-letter queue, where an operator sees it. (An incomplete environment raises
approval_core.environment.ConfigurationError.)"""


class MalformedEvent(Exception):
    """The event is not an SSM automation step status-change event; the message says what
    is wrong with it."""


class UnexpectedEvent(Exception):
    """A well-formed event this function must not handle (another document, another
    action): the EventBridge rule's pattern is wrong."""


class StepNotTerminalYet(Exception):
    """The event says the approval step ended, but SSM's reads do not show it yet (an event
    may arrive before the reads are consistent:
    docs/aws-behaviour.md#undocumented-read-after-event). Retryable: Lambda retries the
    asynchronous invocation, then the event waits in the dead-letter queue for a redrive
    (docs/aws-behaviour.md#lambda-async-invocation); the sweep delivers the decision
    meanwhile anyway."""
