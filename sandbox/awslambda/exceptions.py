"""Lambda's errors the sandbox raises, serialized by moto as the Lambda API's."""

from __future__ import annotations

import json

from moto.core.exceptions import JsonRESTError


class TooManyRequestsException(JsonRESTError):
    code = 429

    def __init__(self, message: str, reason: str) -> None:
        super().__init__("TooManyRequestsException", message)
        self.description = json.dumps(
            {"__type": "TooManyRequestsException", "message": message, "Reason": reason}
        )


class InvalidRequestContentException(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InvalidRequestContentException", message)


class SandboxUnsupported(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InvalidParameterValueException", message)
