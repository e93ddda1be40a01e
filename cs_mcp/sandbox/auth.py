"""Credential checks of the sandbox's CMA and CDA, answering as Contentstack does when they fail.

Each check answers None when the request may go on, or the error response to send. The rules
(the "Authentication" and "Errors" sections of the CMA and CDA references), with the choices
the documentation leaves open written down:

- CMA: header `api_key` must be the stack's key, else 412 error_code 109. Then one of
  `authorization: <management token>`, `authorization: Bearer <token>` (the sandbox has no
  OAuth server, so the bearer token it accepts is the user's authtoken) or `authtoken`; missing
  or wrong -> 401 error_code 105. A `branch` header other than the stack's one branch -> 422
  error_code 141 (the branch, like any unknown uid, "doesn't exist").
- CDA: `api_key` and `access_token` (a delivery token). A delivery token belongs to one
  environment: an unknown token, or a token of another environment than the one asked for,
  answers 412 error_code 109, the answer Contentstack gives for a bad key/token pair.

Analytics and Automate (organization APIs) answer a bad user token or organization in their
own ways, so their checks live with them: `analytics.check_auth` and `automate.authenticate`.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse

from cs_mcp.sandbox.state import SandboxState, error_response

# The uid the sandbox records as `created_by`, `updated_by` and the publishing `user`.
SANDBOX_USER_UID = "blt8a7b6c5d4e3f2a1b"
# A management token acts as itself, not as a user; Contentstack records its own uid then.
MANAGEMENT_TOKEN_UID = "blt1c2d3e4f5a6b7c8d"  # noqa: S105 - a uid that names the token, not the token


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _invalid_api_key() -> JSONResponse:
    return error_response(412, 109, "Api key is invalid.", {"api_key": ["is not valid."]})


def _not_logged_in(field: str) -> JSONResponse:
    return error_response(401, 105, "You're not allowed in here unless you're logged in.", {field: ["is not valid."]})


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization")
    if value is not None and value.lower().startswith("bearer "):
        return value[7:].strip()
    return None


def check_cma(request: Request, state: SandboxState) -> JSONResponse | None:
    """Checks the CMA headers; None when they are good, else the error to answer."""
    creds = state.credentials
    if not _same(request.headers.get("api_key"), creds.api_key):
        return _invalid_api_key()
    authorization = request.headers.get("authorization")
    bearer = _bearer(request)
    if bearer is not None:
        if not _same(bearer, creds.authtoken):
            return _not_logged_in("authorization")
    elif authorization is not None:
        if not _same(authorization, creds.management_token):
            return _not_logged_in("authorization")
    elif not _same(request.headers.get("authtoken"), creds.authtoken):
        return _not_logged_in("authtoken")
    branch = request.headers.get("branch")
    if branch is not None and branch != creds.branch:
        return error_response(422, 141, "The requested branch doesn't exist.", {"branch": ["is not valid."]})
    return None


def acting_user(request: Request) -> str:
    """The uid a CMA write is recorded under: the management token's or the user's."""
    authorization = request.headers.get("authorization")
    if authorization is not None and _bearer(request) is None:
        return MANAGEMENT_TOKEN_UID
    return SANDBOX_USER_UID


def check_cda(request: Request, state: SandboxState, environment: str | None) -> JSONResponse | None:
    """Checks the CDA headers for a request about `environment` (None when the request names none).

    None when they are good, else the error to answer (412 error_code 109 for any bad key or token).
    """
    creds = state.credentials
    if not _same(request.headers.get("api_key"), creds.api_key):
        return _invalid_api_key()
    token = request.headers.get("access_token")
    token_environment = next((env for env, tok in creds.delivery_tokens.items() if _same(token, tok)), None)
    if token_environment is None:
        return error_response(412, 109, "Access token is invalid.", {"access_token": ["is not valid."]})
    if environment is not None and environment != token_environment:
        return error_response(
            412,
            109,
            "The delivery token does not belong to the requested environment.",
            {"access_token": [f"is not valid for environment '{environment}'."]},
        )
    return None
