"""The errors the Contentstack client raises.

The tree::

    ContentstackError                 anything that went wrong talking to Contentstack
    ├── APIStatusError                Contentstack answered with an error status
    │   ├── AuthenticationError       401, or 412 (API key invalid)
    │   ├── PermissionDeniedError     403, or error_code 316
    │   ├── NotFoundError             404, 422 with error_code 141, the CDA's "UID is not valid"
    │   ├── InvalidRequestError       400, 409 and other 4xx: the request was refused as invalid
    │   ├── RateLimitedError          429, still after the retries
    │   └── ServerError               5xx, still after the retries
    ├── TransportError                no usable answer came back
    │   ├── RequestTimeoutError       a read timed out before anything was written, or a read-only call
    │   ├── ConnectionFailedError     the connection could not be made or was lost, nothing written
    │   └── OutcomeUnknownError       a write was sent but its answer was lost: it may have happened
    ├── MalformedResponseError        the answer was not the JSON Contentstack documents
    ├── UnsafePathError               a path segment was not a plain name (nothing sent)
    └── PermitRequiredError           a write reached the client without the guard's permit

Every error carries `status`, `error_code`, `error_message`, `errors` and `request_id` (None
where they do not apply) and `str(error)` is a plain sentence a person can act on, on one line:
control characters and terminal escapes in it are written as escapes. No error carries a
credential: the client never puts one in a message.
"""

from __future__ import annotations

from typing import Any

from cs_mcp.client._regions import Api
from cs_mcp.safe_text import one_line

__all__ = [
    "APIStatusError",
    "AuthenticationError",
    "ConnectionFailedError",
    "ContentstackError",
    "InvalidRequestError",
    "MalformedResponseError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "PermitRequiredError",
    "RateLimitedError",
    "RequestTimeoutError",
    "ServerError",
    "TransportError",
    "UnsafePathError",
]


class ContentstackError(Exception):
    """Base of every client error."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: int | None = None,
        error_message: str | None = None,
        errors: dict[str, Any] | None = None,
        request_id: str | None = None,
        api: str | None = None,
    ) -> None:
        # Messages quote Contentstack and the caller's arguments: control characters, line
        # breaks and terminal escapes in them are shown as escapes, never passed on.
        message = one_line(message)
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_code = error_code
        self.error_message = one_line(error_message) if error_message is not None else None
        self.errors = errors or {}
        self.request_id = request_id
        self.api = api

    def __str__(self) -> str:
        return self.message


class APIStatusError(ContentstackError):
    """Contentstack answered with an error status and (usually) its documented error body."""


class AuthenticationError(APIStatusError):
    """Raised on 401 (error_code 105: token invalid or expired) and 412 (API key invalid)."""


class PermissionDeniedError(APIStatusError):
    """Raised on 403, or error_code 316: the credentials work but may not do this."""


class NotFoundError(APIStatusError):
    """Raised on 404, on 422 with error_code 141, and on the CDA's 422 "UID is not valid"
    (the entry is missing, or not published in that environment and locale)."""


class InvalidRequestError(APIStatusError):
    """Raised on 400, 409 and 422 that are not "not found": the request was refused as invalid.
    `errors` holds Contentstack's per-field messages."""


class RateLimitedError(APIStatusError):
    """Raised on 429 once the retries are spent."""


class ServerError(APIStatusError):
    """Raised on 5xx once the retries are spent (and at once for a write that reached Contentstack)."""


class TransportError(ContentstackError):
    """No usable answer came back."""


class RequestTimeoutError(TransportError):
    """Raised when a request timed out and nothing can have been written."""


class ConnectionFailedError(TransportError):
    """Raised when the connection could not be made, or was lost, and nothing can have been written."""


class OutcomeUnknownError(TransportError):
    """Raised when a write was sent but its answer was lost (timeout or dropped connection after
    sending). The write may or may not have happened; it is never retried blindly."""


class MalformedResponseError(ContentstackError):
    """Raised when an answer is not JSON, is truncated, or does not have the documented shape."""


class UnsafePathError(ContentstackError):
    """Raised, before anything is sent, when a value that goes into a request path (a uid, a
    content type, a locale) holds `/`, `%`, `?`, `#`, `\\`, whitespace or a control character:
    such a value could address another resource than the one the guard checked."""


class PermitRequiredError(ContentstackError):
    """Raised, before anything is sent, when a write carries no valid permit from the guard.
    It means a bug in a tool, never something a user did."""


def status_error(api: Api, status: int, error_code: int | None) -> tuple[type[APIStatusError], str]:
    """The error an answer's status and `error_code` mean (the tree above), and in plain words."""
    if status == 401 or error_code == 105:
        return AuthenticationError, "the token is invalid or expired; check the configured token"
    if status == 412 or error_code == 109:
        return AuthenticationError, "the API key is invalid; check CONTENTSTACK_API_KEY"
    if status == 403 or error_code == 316:
        return PermissionDeniedError, "these credentials may not do this (no permission)"
    if status == 404:
        return NotFoundError, "not found"
    if status == 422 and api is Api.CDA:
        # The CDA answers 422 "UID is not valid" both for a missing entry and for one that
        # was never published there (CDA reference, "Errors").
        return NotFoundError, "not found or not published in this environment and locale"
    if status == 422 and error_code in (118, 141):
        return NotFoundError, "not found"
    if status == 429:
        return RateLimitedError, "Contentstack's rate limit was reached and the retries did not get through"
    if status >= 500:
        return ServerError, "Contentstack had an internal error"
    if 400 <= status < 500:
        return InvalidRequestError, "Contentstack refused the request as invalid"
    return APIStatusError, "Contentstack answered with an unexpected status"
