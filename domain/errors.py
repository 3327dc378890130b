"""One hierarchy of domain errors; the API maps each family to an HTTP status."""


class DomainError(Exception):
    """A command was refused. `code` is stable and machine-readable."""

    code = "domain_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    """The command clashes with the current state (retrying it unchanged will not help)."""

    code = "conflict"


class RuleViolation(DomainError):
    """The command breaks a business rule."""

    code = "rule_violation"


class Unauthenticated(DomainError):
    """Credentials were missing or wrong. Says nothing about which part was wrong."""

    code = "unauthenticated"


class Forbidden(DomainError):
    """The caller is known but may not do this."""

    code = "forbidden"


class Malformed(DomainError):
    """The request names something that cannot exist (answered 400)."""

    code = "malformed"


class TooManyAttempts(DomainError):
    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after_s: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after_s = retry_after_s


class Busy(DomainError):
    """The server is at capacity for this kind of work; retrying later will help."""

    code = "server_busy"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
