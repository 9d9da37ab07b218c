"""The errors a business rule raises; every interface turns them into its own answer."""


class DomainError(Exception):
    """A rule said no. `field` tells every interface (form, API, CLI) where."""

    status_code = 422

    def __init__(self, *, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class PermissionDenied(DomainError):
    status_code = 403


class TooLarge(DomainError):
    status_code = 413
