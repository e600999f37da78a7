"""SSM Automation errors, named as the error shapes of botocore's ``ssm`` model.

moto serializes a ServiceException in the protocol of the service, so boto3 raises a
ClientError whose ``Error.Code`` is the class's ``code``.
"""

from moto.core.exceptions import ServiceException


class AutomationError(ServiceException):
    def __init__(self, message: str) -> None:
        super().__init__(self.code, message)


class AutomationDefinitionNotFound(AutomationError):
    code = "AutomationDefinitionNotFoundException"


class AutomationDefinitionVersionNotFound(AutomationError):
    code = "AutomationDefinitionVersionNotFoundException"


class AutomationExecutionLimitExceeded(AutomationError):
    code = "AutomationExecutionLimitExceededException"


class AutomationExecutionNotFound(AutomationError):
    code = "AutomationExecutionNotFoundException"


class AutomationStepNotFound(AutomationError):
    code = "AutomationStepNotFoundException"


class IdempotentParameterMismatch(AutomationError):
    code = "IdempotentParameterMismatch"


class InvalidAutomationExecutionParameters(AutomationError):
    code = "InvalidAutomationExecutionParametersException"


class InvalidAutomationSignal(AutomationError):
    code = "InvalidAutomationSignalException"


class InvalidAutomationStatusUpdate(AutomationError):
    code = "InvalidAutomationStatusUpdateException"


class InvalidFilterKey(AutomationError):
    code = "InvalidFilterKey"


class InvalidFilterValue(AutomationError):
    code = "InvalidFilterValue"


class InvalidNextToken(AutomationError):
    code = "InvalidNextToken"


class ValidationException(AutomationError):
    code = "ValidationException"
