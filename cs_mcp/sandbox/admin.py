"""The sandbox's own controls at `/_sandbox`: its clock, its faults and request statistics.

No credentials are needed, but only loopback clients are served (403 otherwise): these routes
change how the sandbox behaves and exist for tests and demos on the same machine.

- `GET /_sandbox/clock` answers the sandbox time; `POST /_sandbox/clock {"advance_seconds": n}`
  moves it forward, then runs every `state.on_tick` callback so that what was scheduled for
  that time (publishing, release deploys) happens before the answer.
- `GET /_sandbox/faults` answers the fault configuration; `POST` replaces the fields it names.
- `GET /_sandbox/files/{name}?size=N` answers a file of N bytes (default 64) whose media type
  follows the name: something for `upload_asset`'s `url` to fetch in tests and demos.
- `GET /_sandbox/stats` answers request counts per API and method, the number of writes, and per
  organization and limit key the 429s sent (`rate_limited`) and the busiest window (`peak_per_second`).
"""

from __future__ import annotations

import mimetypes
from collections import Counter
from dataclasses import asdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from cs_mcp.sandbox import store
from cs_mcp.sandbox.endpoint import ModelT, RequestRefused, field_errors, json_value, routes_behind
from cs_mcp.sandbox.state import SandboxState, error_response

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
DEFAULT_FILE_BYTES = 64
MAX_FILE_BYTES = 64 * 1024 * 1024


class ClockAdvance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    advance_seconds: float = Field(ge=0, le=10 * 365 * 24 * 3600)


class FaultUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    latency_ms: int | None = Field(default=None, ge=0, le=60_000)
    error_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    error_status: int | None = Field(default=None, ge=500, le=599)
    storm_429: int | None = Field(default=None, ge=0)
    drop_connections: int | None = Field(default=None, ge=0)
    malformed_bodies: int | None = Field(default=None, ge=0)


def _loopback_only(request: Request) -> Response | None:
    """None for a loopback client; the 403 that refuses any other."""
    host = request.client.host if request.client is not None else None
    if host not in LOOPBACK_HOSTS:
        return error_response(403, 403, "The sandbox controls answer only loopback clients.")
    return None


async def _body(request: Request, model: type[ModelT]) -> ModelT:
    """The request's body as `model`.

    Raises RequestRefused: a 422 naming the fields at fault, a body that is not JSON included
    (read as null, which no model accepts).
    """
    try:
        return model.model_validate(await json_value(request))
    except ValidationError as exc:
        raise RequestRefused(422, 422, "The request body is not valid.", field_errors(exc)) from exc


def routes(state: SandboxState) -> list[BaseRoute]:
    """The control routes, relative to `/_sandbox`."""

    def clock_body() -> dict[str, Any]:
        return {"now": store.iso(state.clock.now())}

    async def get_clock(request: Request) -> Response:
        return JSONResponse(clock_body())

    async def advance_clock(request: Request) -> Response:
        advance = await _body(request, ClockAdvance)
        state.clock.advance(advance.advance_seconds)
        for callback in list(state.on_tick):
            callback()
        return JSONResponse(clock_body())

    async def get_faults(request: Request) -> Response:
        return JSONResponse(asdict(state.config.faults))

    async def set_faults(request: Request) -> Response:
        update = await _body(request, FaultUpdate)
        for name, value in update.model_dump(exclude_none=True).items():
            setattr(state.config.faults, name, value)
        return JSONResponse(asdict(state.config.faults))

    async def get_stats(request: Request) -> Response:
        log = list(state.request_log)
        per_api: dict[str, dict[str, int]] = {}
        for (api, method), count in sorted(Counter((api, method) for api, method, _path in log).items()):
            per_api.setdefault(api, {})[method] = count
        writes = sum(1 for _api, method, _path in log if method not in ("GET", "HEAD"))
        org = state.credentials.organization_uid
        return JSONResponse(
            {
                "requests": per_api,
                "total": len(log),
                "writes": writes,
                "rate_limited": {org: dict(sorted(state.rate_limited.items()))},
                "peak_per_second": {org: dict(sorted(state.peak_per_second.items()))},
            }
        )

    async def get_file(request: Request) -> Response:
        name = request.path_params["name"]
        size_text = request.query_params.get("size", str(DEFAULT_FILE_BYTES))
        size = int(size_text) if size_text.isdigit() else DEFAULT_FILE_BYTES
        pattern = f"sandbox file {name}\n".encode()
        content = (pattern * (size // len(pattern) + 1))[: min(size, MAX_FILE_BYTES)]
        return Response(content, media_type=mimetypes.guess_type(name)[0] or "application/octet-stream")

    return routes_behind(
        _loopback_only,
        [
            ("/files/{name}", "GET", get_file),
            ("/clock", "GET", get_clock),
            ("/clock", "POST", advance_clock),
            ("/faults", "GET", get_faults),
            ("/faults", "POST", set_faults),
            ("/stats", "GET", get_stats),
        ],
    )
