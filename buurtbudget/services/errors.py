"""Errors raised by services; the web layer turns them into 4xx responses with the message."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: ``message`` is a user-facing (already translated or lazy) text."""

    status_code = 400

    def __init__(self, message: str = "", *, field: str | None = None):
        super().__init__(str(message))
        self.message = message
        # The form field the message belongs to, when there is one.
        self.field = field


class ValidationFailed(ServiceError):
    status_code = 400


class PermissionDenied(ServiceError):
    status_code = 403


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    status_code = 409
