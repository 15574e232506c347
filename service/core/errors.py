"""Domain errors; each transport maps them to its own status codes.

InvalidArgument -> gRPC INVALID_ARGUMENT, HTTP 422 (names the field)
NotFound        -> gRPC NOT_FOUND,        HTTP 404
NotReady        -> gRPC UNAVAILABLE,      HTTP 503
"""


class ServiceError(Exception):
    """Base of the errors a caller can act on."""


class InvalidArgument(ServiceError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class NotFound(ServiceError):
    pass


class NotReady(ServiceError):
    pass
