"""The plumbing every sandbox endpoint shares: raised refusals become answers, guards go first."""

from __future__ import annotations

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount

from cs_mcp.sandbox import endpoint
from cs_mcp.sandbox.endpoint import Endpoint, Guard, RouteRow

pytestmark = pytest.mark.anyio


def let_through(request: Request) -> Response | None:
    return None


def client(guard: Guard, table: list[RouteRow]) -> httpx2.AsyncClient:
    app = Starlette(routes=[Mount("/api", routes=endpoint.routes_behind(guard, table))])
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://sandbox/api")


def refusing(refusal: endpoint.RequestRefused) -> Endpoint:
    async def handler(request: Request) -> Response:
        raise refusal

    return handler


@pytest.mark.parametrize(
    ("refusal", "status", "code", "errors"),
    [
        (
            endpoint.invalid("bad", {"title": ["is required."]}),
            422,
            endpoint.INVALID_DATA_CODE,
            {"title": ["is required."]},
        ),
        (endpoint.not_found(field="name"), 422, endpoint.NOT_FOUND_CODE, {"name": ["is not valid."]}),
        (
            endpoint.not_found("project", field="project_uid", status=404),
            404,
            endpoint.NOT_FOUND_CODE,
            {"project_uid": ["is not valid."]},
        ),
        (
            endpoint.content_type_not_found("blog"),
            422,
            endpoint.CONTENT_TYPE_NOT_FOUND_CODE,
            {"uid": ["is not valid."]},
        ),
        (endpoint.bad_request("no header"), 400, endpoint.BAD_REQUEST_CODE, None),
    ],
)
async def test_a_refusal_a_handler_raises_is_answered_with_its_status_code_and_errors(
    refusal: endpoint.RequestRefused, status: int, code: int, errors: dict[str, list[str]] | None
) -> None:
    async with client(let_through, [("/thing", "GET", refusing(refusal))]) as http:
        answer = await http.get("/thing")
    assert answer.status_code == status
    body = answer.json()
    assert (body["error_code"], body.get("errors")) == (code, errors)
    assert body["error_message"] == refusal.error_message


async def test_a_guards_answer_is_sent_and_the_handler_never_runs() -> None:
    ran: list[str] = []

    async def handler(request: Request) -> Response:
        ran.append(request.url.path)
        return JSONResponse({})

    def deny(request: Request) -> Response | None:
        return JSONResponse({"error_code": 105}, status_code=401)

    async with client(deny, [("/thing", "POST", handler)]) as http:
        answer = await http.post("/thing")
    assert (answer.status_code, answer.json()["error_code"]) == (401, 105)
    assert ran == []


async def test_each_row_of_a_table_answers_only_its_method() -> None:
    async def ok(request: Request) -> Response:
        return JSONResponse({"method": request.method})

    async with client(let_through, [("/thing", "GET", ok), ("/thing", "DELETE", ok)]) as http:
        assert (await http.get("/thing")).json() == {"method": "GET"}
        assert (await http.delete("/thing")).json() == {"method": "DELETE"}
        assert (await http.put("/thing")).status_code == 405


@pytest.mark.parametrize(
    ("content", "key", "expected"),
    [
        (b'{"entry": {"title": "x"}}', "entry", {"title": "x"}),
        (b'{"entry": {"title": "x"}}', None, {"entry": {"title": "x"}}),
        (b'{"entry": 1}', "entry", None),
        (b"[1]", None, None),
        (b"{not json", None, None),
        (b"", "entry", None),
        (b"\xff\xfe", None, None),
        (b'{"entry": {"n": NaN}}', "entry", None),
        (b'{"entry": {"title": "\\ud800"}}', "entry", None),
    ],
)
async def test_json_object_is_the_bodys_object_or_none_when_there_is_none(
    content: bytes, key: str | None, expected: dict[str, object] | None
) -> None:
    async def echo(request: Request) -> Response:
        return JSONResponse({"found": await endpoint.json_object(request, key)})

    async with client(let_through, [("/thing", "POST", echo)]) as http:
        answer = await http.post("/thing", content=content)
    assert answer.json() == {"found": expected}


# What JSON cannot carry (RFC 8259: no NaN or infinities; strings of Unicode characters, so no
# lone surrogate) and what Python's reader takes anyway.
UNCARRIABLE = [
    b'{"entry": {"n": NaN}}',
    b'{"entry": {"n": -Infinity}}',
    b'{"entry": {"n": 1e999}}',
    b'{"entry": {"title": "\\ud800"}}',
    b'{"entry": {"title": "\\udc00 low first"}}',
    b'{"entry": ' + b"[" * 5000 + b"]" * 5000 + b"}",
]


@pytest.mark.parametrize("content", UNCARRIABLE)
async def test_a_body_json_cannot_carry_is_refused_as_not_json(content: bytes) -> None:
    async def parsed(request: Request) -> Response:
        return JSONResponse({"entry": (await endpoint.parse_body(request, endpoint.RequestBody)).model_dump()})

    async with client(let_through, [("/thing", "POST", parsed)]) as http:
        answer = await http.post("/thing", content=content)
    assert answer.status_code == 400
    assert answer.json()["error_code"] == endpoint.INVALID_DATA_CODE


async def test_a_surrogate_pair_is_read_as_the_one_character_it_writes() -> None:
    async def title(request: Request) -> Response:
        return JSONResponse({"title": await endpoint.json_object(request, "entry")})

    async with client(let_through, [("/thing", "POST", title)]) as http:
        answer = await http.post("/thing", content=b'{"entry": {"title": "\\ud83d\\ude00"}}')
    assert answer.json() == {"title": {"title": "\U0001f600"}}
