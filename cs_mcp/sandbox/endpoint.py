"""The plumbing every endpoint of the sandbox shares: Contentstack's error answers
(`RequestRefused` and its named constructors), request bodies (`RequestBody`, `parse_body`,
`json_object`), the checks of names, times and pages that several endpoints make, and the
routes (`routes_behind`, `cma_routes`), which put each handler behind its API's guard and turn
a `RequestRefused` into its answer.

A handler raises a refusal where Contentstack answers an error and returns its documented body
otherwise. Every module builds its routes from a table of `(path, method, handler)` rows: the
CMA modules (`cma.py`, `assets.py`, `content_types.py`, `publishing.py`, `releases.py`,
`stack_admin.py`) with `cma_routes`, the CDA, Analytics, Automate and the sandbox's controls
with `routes_behind` and their own guard.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from cs_mcp.sandbox import store, strict_json
from cs_mcp.sandbox.auth import check_cma
from cs_mcp.sandbox.query import QUERY_ERROR_CODE, QUERY_ERROR_STATUS, QueryError
from cs_mcp.sandbox.state import SandboxState, error_response

# Error codes of the answers below. 141 and 118 are Contentstack's "not found" codes; 119 is the
# code of a refused write with per-field `errors`; 400, the sandbox's code for a request refused
# for its form, where the documentation gives none.
NOT_FOUND_CODE = 141
CONTENT_TYPE_NOT_FOUND_CODE = 118
INVALID_DATA_CODE = 119
BAD_REQUEST_CODE = 400
MAX_PAGE_LIMIT = 100


class RequestRefused(Exception):
    """A request answered with Contentstack's error body instead of going on; raised inside
    handlers, built by the constructors below (or directly for an answer only one endpoint gives)."""

    def __init__(self, status: int, error_code: int, error_message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(error_message)
        self.status = status
        self.error_code = error_code
        self.error_message = error_message
        self.errors = errors

    def response(self) -> JSONResponse:
        return error_response(self.status, self.error_code, self.error_message, self.errors)


def invalid(message: str, errors: dict[str, list[str]], *, code: int = INVALID_DATA_CODE) -> RequestRefused:
    """A 422 refusal of a write or of invalid data, naming the fields at fault (error_code 119
    unless the API answers its own `code` for this refusal)."""
    return RequestRefused(422, code, message, errors)


def not_found(what: str = "object", *, field: str = "uid", status: int = 422) -> RequestRefused:
    """A "doesn't exist" refusal in Contentstack's shape (`errors.uid: ["is not valid."]`, or
    under the `field` that named it): 422 as the CMA and the CDA answer, `status=404` for
    Automate."""
    return RequestRefused(status, NOT_FOUND_CODE, f"The requested {what} doesn't exist.", {field: ["is not valid."]})


def content_type_not_found(uid: str, *, field: str = "uid") -> RequestRefused:
    """Contentstack's 422 (error_code 118) to a request naming a content type the stack does not
    have, the fault under `field`."""
    return RequestRefused(
        422,
        CONTENT_TYPE_NOT_FOUND_CODE,
        f"The Content Type '{uid}' was not found. Please try again.",
        {field: ["is not valid."]},
    )


def bad_request(
    message: str, errors: dict[str, list[str]] | None = None, *, code: int = BAD_REQUEST_CODE
) -> RequestRefused:
    """A 400 refusal of a request's form (a parameter, a header, a body that is not an object),
    error_code 400 unless the API answers its own `code`."""
    return RequestRefused(400, code, message, errors)


def bad_query(exc: QueryError) -> RequestRefused:
    """The refusal of an invalid `query` or list parameter, naming the parameter at fault."""
    return RequestRefused(
        QUERY_ERROR_STATUS, QUERY_ERROR_CODE, f"Invalid query: {exc.message}", {exc.field: [exc.message]}
    )


class RequestBody(BaseModel):
    """A request body: fields beyond the modelled ones are kept, not refused, as Contentstack
    passes over what it does not read."""

    model_config = ConfigDict(extra="allow")


ModelT = TypeVar("ModelT", bound=BaseModel)


async def parse_body(request: Request, model: type[ModelT]) -> ModelT:
    """The request's JSON body as `model`.

    Raises RequestRefused: 400 when the body is not JSON, 422 naming the fields that do not fit.
    """
    try:
        raw = strict_json.loads(await request.body())
    except ValueError as exc:
        raise bad_request("The request body is not valid JSON.", code=INVALID_DATA_CODE) from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise invalid("The request body is not valid. Please enter valid data.", field_errors(exc)) from exc


def field_errors(exc: ValidationError) -> dict[str, list[str]]:
    """The problems of a body that does not fit its model, one message list per dotted field
    (`body` for the body as a whole)."""
    errors: dict[str, list[str]] = {}
    for problem in exc.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "body"
        errors.setdefault(field, []).append(str(problem["msg"]))
    return errors


async def json_value(request: Request) -> object:
    """The request body's JSON value, or None when the body is empty or not JSON."""
    try:
        return strict_json.loads(await request.body())
    except ValueError:
        return None


async def json_object(request: Request, key: str | None = None) -> dict[str, Any] | None:
    """The body's JSON object, or the object under `key` in it; None when there is no such
    object. For the endpoints that answer such a body with a refusal of their own rather than
    `parse_body`'s."""
    found = await json_value(request)
    if key is not None and isinstance(found, dict):
        found = cast(dict[str, Any], found).get(key)
    return cast(dict[str, Any], found) if isinstance(found, dict) else None


# Shared checks


def now_iso(state: SandboxState) -> str:
    return store.iso(state.clock.now())


def parse_scheduled_at(state: SandboxState, value: str | None) -> str | None:
    """`scheduled_at` normalised to Contentstack's time format, or None for "now".

    Raises RequestRefused (422, `errors.scheduled_at`) when it is not an ISO-8601 time with a zone
    or is not in the future of the sandbox clock.
    """
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise invalid("The scheduled time is not valid.", {"scheduled_at": ["is not a valid ISO-8601 time."]}) from exc
    if moment.tzinfo is None:
        raise invalid("The scheduled time is not valid.", {"scheduled_at": ["needs a time zone, e.g. a trailing Z."]})
    if moment <= state.clock.now():
        raise invalid("The scheduled time is not valid.", {"scheduled_at": ["should be a future date."]})
    return store.iso(moment)


def resolve_environments(conn: sqlite3.Connection, given: Sequence[str], *, maximum: int | None = None) -> list[str]:
    """Environment names for `given` names or uids, in order and without repeats.

    Raises RequestRefused (422, `errors.environments`) when none is given, one does not exist, or
    there are more than `maximum`.
    """
    if not given:
        raise invalid("Please select at least one environment.", {"environments": ["can't be blank."]})
    # The limit is checked first: a request over it is refused whatever it names.
    distinct = len(dict.fromkeys(given))
    if maximum is not None and distinct > maximum:
        raise invalid(
            f"A request may name at most {maximum} environments.",
            {"environments": [f"at most {maximum} allowed, {distinct} given."]},
        )
    names: list[str] = []
    unknown: list[str] = []
    for value in given:
        name = store.environment_name_of(conn, value)
        if name is None:
            unknown.append(value)
        elif name not in names:
            names.append(name)
    if unknown:
        raise invalid(
            "Some environments do not exist.",
            {"environments": [f"'{value}' is not a valid environment." for value in unknown]},
        )
    return names


def resolve_locales(conn: sqlite3.Connection, given: Sequence[str], *, maximum: int | None = None) -> list[str]:
    """The locale codes `given` (the master locale when empty), without repeats.

    Raises RequestRefused (422, `errors.locales`) when a code does not exist or there are more than `maximum`.
    """
    if not given:
        return [store.master_locale(conn)]
    known = set(store.locale_codes(conn))
    codes: list[str] = []
    for code in given:
        if code not in codes:
            codes.append(code)
    if maximum is not None and len(codes) > maximum:
        raise invalid(
            f"A request may name at most {maximum} locales.",
            {"locales": [f"at most {maximum} allowed, {len(codes)} given."]},
        )
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise invalid(
            "Some locales do not exist.", {"locales": [f"'{code}' is not a valid locale." for code in unknown]}
        )
    return codes


def environment_uids(conn: sqlite3.Connection, names: Sequence[str]) -> list[str]:
    return [store.environment_uid(conn, name) or name for name in names]


def page_params(request: Request) -> tuple[int, int, bool]:
    """`skip`, `limit` (default and maximum 100) and `include_count` of a list request.

    Raises RequestRefused (422) for values that are not whole numbers in range.
    """
    params = request.query_params
    try:
        skip = int(params.get("skip", "0"))
        limit = int(params.get("limit", str(MAX_PAGE_LIMIT)))
    except ValueError as exc:
        raise invalid("skip and limit must be whole numbers.", {"limit": ["is not a number."]}) from exc
    if skip < 0 or limit < 1 or limit > MAX_PAGE_LIMIT:
        raise invalid(
            f"skip must be 0 or more and limit between 1 and {MAX_PAGE_LIMIT}.",
            {"limit": [f"must be between 1 and {MAX_PAGE_LIMIT}."]},
        )
    return skip, limit, flag(request, "include_count")


def flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() in ("true", "1")


Endpoint = Callable[[Request], Awaitable[Response]]
# Runs before a handler: None lets the request through, a response refuses it (an API's
# credentials check).
Guard = Callable[[Request], Response | None]
# A row of a module's route table: path, method, handler.
RouteRow = tuple[str, str, Endpoint]


def guarded(guard: Guard, handler: Endpoint) -> Endpoint:
    """`handler` behind `guard`, a RequestRefused it raises turned into its error answer."""

    async def endpoint(request: Request) -> Response:
        denied = guard(request)
        if denied is not None:
            return denied
        try:
            return await handler(request)
        except RequestRefused as refusal:
            return refusal.response()

    return endpoint


def routes_behind(guard: Guard, table: Iterable[RouteRow]) -> list[BaseRoute]:
    """A route for each (path, method, handler) of `table`, the handler behind `guard`."""
    return [Route(path, guarded(guard, handler), methods=[method]) for path, method, handler in table]


def cma_guard(state: SandboxState) -> Guard:
    """The CMA's auth check, then the sandbox's `on_tick` callbacks (so scheduled actions that
    are due have fired before the handler reads)."""

    def guard(request: Request) -> Response | None:
        denied = check_cma(request, state)
        if denied is None:
            for tick in list(state.on_tick):
                tick()
        return denied

    return guard


def cma_routes(state: SandboxState, table: Iterable[RouteRow]) -> list[BaseRoute]:
    """A route for each (path, method, handler) of `table`, the handler behind `cma_guard`."""
    return routes_behind(cma_guard(state), table)
