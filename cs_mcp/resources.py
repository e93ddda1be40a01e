"""MCP resources: a content type's compact schema, the environments, a release and its items.

`contentstack://content-types/{uid}`, `contentstack://environments` and
`contentstack://releases/{uid}` answer JSON. Reads use the server's shared client and stack
metadata, and the caller's role must hold the matching read scope, as for the tools: a resource
is no way around the guard, and a role lists only the resources it may read. Failures are
`ResourceError`s in plain words.

MCPServer hands a Context only to template resources; `RequestBinding` makes the lifespan
state and the caller visible to every resource read and completion, static ones included.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from mcp.server import MCPServer, ServerRequestContext
from mcp.server.context import CallNext, HandlerResult
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp_types import ListResourcesResult, ListResourceTemplatesResult

from cs_mcp.client import ContentstackError, NotFoundError
from cs_mcp.config import Capability
from cs_mcp.guard import Principal
from cs_mcp.toolkit.context import AppState, principal_in
from cs_mcp.toolkit.shape import clean, clean_text
from cs_mcp.toolkit.stored_schemas import declared_tools
from cs_mcp.views import MIME_TYPE as VIEW_MIME
from cs_mcp.views import RESOURCE_META as VIEW_META
from cs_mcp.views import VIEWS, View, view_html

CONTENT_TYPE_URI = "contentstack://content-types/{uid}"
ENVIRONMENTS_URI = "contentstack://environments"
RELEASE_URI = "contentstack://releases/{uid}"
JSON_MIME = "application/json"
# A release resource carries at most this many items; the rest are read with get_release.
RELEASE_ITEMS_LIMIT = 100

CONTENT_TYPE_SCOPE = "cm.content-type:read"
ENVIRONMENTS_SCOPE = "cm.environments.management:read"
RELEASE_SCOPE = "cm.release:read"
# Each resource (or template) and the scope a role needs to see and read it.
RESOURCE_SCOPES = {
    CONTENT_TYPE_URI: CONTENT_TYPE_SCOPE,
    ENVIRONMENTS_URI: ENVIRONMENTS_SCOPE,
    RELEASE_URI: RELEASE_SCOPE,
}


@dataclass(frozen=True)
class BoundRequest:
    """The shared state and the caller of the request being handled (None: unauthenticated HTTP)."""

    state: AppState
    principal: Principal | None


_bound: ContextVar[BoundRequest | None] = ContextVar("cs_mcp_bound_request", default=None)

# The requests whose handlers read the binding, and the listings filtered per role.
BOUND_METHODS = frozenset({"resources/read", "completion/complete"})
LISTING_METHODS = frozenset({"resources/list", "resources/templates/list"})


@cache
def view_scopes() -> dict[str, frozenset[str]]:
    """Each view and the scopes of the tools that name it: a role is listed a view when it may
    use one of those tools."""
    found: dict[str, set[str]] = {}
    for spec in declared_tools():
        if spec.ui:
            found.setdefault(spec.ui, set()).update(spec.scopes)
    return {uri: frozenset(needed) for uri, needed in found.items()}


def _visible(uri: str, scopes: frozenset[str]) -> bool:
    view = view_scopes().get(uri)
    if view is not None:
        return not view.isdisjoint(scopes)
    needed = RESOURCE_SCOPES.get(uri)
    return needed is None or needed in scopes


def filter_listing(result: HandlerResult, scopes: frozenset[str]) -> HandlerResult:
    """A resource listing without the resources these scopes may not read."""
    if isinstance(result, ListResourcesResult):
        result.resources = [r for r in result.resources if _visible(str(r.uri), scopes)]
    elif isinstance(result, ListResourceTemplatesResult):
        result.resource_templates = [t for t in result.resource_templates if _visible(t.uri_template, scopes)]
    elif isinstance(result, dict):
        # The runner may hand back the serialized form.
        listing = result
        for key, field in (("resources", "uri"), ("resourceTemplates", "uriTemplate")):
            entries = listing.get(key)
            if isinstance(entries, list):
                listing[key] = [
                    e
                    for e in cast(list[Any], entries)
                    if not isinstance(e, dict) or _visible(str(cast(dict[str, Any], e).get(field)), scopes)
                ]
    return result


class RequestBinding:
    """Server middleware: binds the lifespan state and the caller for resource reads and
    completions, and filters resource listings by the caller's scopes."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        state: Any = ctx.lifespan_context
        if not isinstance(state, AppState):
            return await call_next(ctx)
        if ctx.method in LISTING_METHODS:
            principal = principal_in(ctx.request, state.stdio_principal)
            scopes = state.guard.role_of(principal).scopes if principal is not None else frozenset[str]()
            return filter_listing(await call_next(ctx), scopes)
        if ctx.method not in BOUND_METHODS:
            return await call_next(ctx)
        token = _bound.set(BoundRequest(state, principal_in(ctx.request, state.stdio_principal)))
        try:
            return await call_next(ctx)
        finally:
            _bound.reset(token)


def install_request_binding(server: MCPServer[Any]) -> None:
    """Adds `RequestBinding` to the server's middleware once."""
    middleware: list[Any] = server.middleware
    if not any(isinstance(m, RequestBinding) for m in middleware):
        middleware.append(RequestBinding())


def bound_request() -> BoundRequest | None:
    """The binding of the request being handled, if any."""
    return _bound.get()


def _caller(scope: str) -> AppState:
    """The shared state, once the caller is known to hold `scope`.

    Raises:
        ResourceError: outside a bound request, an unauthenticated caller, a missing scope, or
            no stack credentials.
    """
    bound = _bound.get()
    if bound is None:
        raise ResourceError("resources are read through the MCP server only")
    if bound.principal is None:
        raise ResourceError("this HTTP request is not authenticated; send Authorization: Bearer <token>")
    role = bound.state.guard.role_of(bound.principal)
    if scope not in role.scopes:
        raise ResourceError(
            f"denied by the guard: role {role.name!r} may not read this resource (it needs {scope}). "
            "Call describe_stack to see your permissions."
        )
    if Capability.CMA not in bound.state.settings.capabilities():
        raise ResourceError("no stack credentials: set CONTENTSTACK_API_KEY and CONTENTSTACK_MANAGEMENT_TOKEN")
    return bound.state


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=1)


async def _guarded(read: Callable[[], Awaitable[str]]) -> str:
    """Runs a read, turning client failures into plain ResourceErrors (never a traceback)."""
    try:
        return await read()
    except ContentstackError as exc:
        raise ResourceError(f"Contentstack refused or did not answer: {exc}") from None


async def read_content_type(uid: str) -> str:
    """The compact schema of one content type, as JSON.

    Raises:
        ResourceNotFoundError: no such content type (the message lists those that exist).
        ResourceError: the guard refuses, or Contentstack fails.
    """
    # The stack toolset's module, imported at the first read rather than when the server starts.
    from cs_mcp.tools.stack import ContentTypeSchema, compact_field

    state = _caller(CONTENT_TYPE_SCOPE)

    async def read() -> str:
        try:
            ct = await state.meta.content_type(uid)
        except NotFoundError:
            raise ResourceNotFoundError(str(await state.meta.content_type_missing(uid))) from None
        schema = ContentTypeSchema(
            uid=ct.uid,
            title=clean_text(ct.title),
            description=clean_text(ct.description) if ct.description else None,
            fields=[compact_field(f) for f in ct.schema_],
        )
        return _json(schema.model_dump(mode="json", exclude_none=True))

    return await _guarded(read)


async def read_environments() -> str:
    """The stack's environments (name, uid, URLs per locale), as JSON.

    Raises:
        ResourceError: the guard refuses, or Contentstack fails.
    """
    state = _caller(ENVIRONMENTS_SCOPE)

    async def read() -> str:
        environments = await state.meta.environments()
        return _json(
            {
                "environments": [
                    clean({"name": e.name, "uid": e.uid, "urls": e.urls} if e.urls else {"name": e.name, "uid": e.uid})
                    for e in environments
                ]
            }
        )

    return await _guarded(read)


async def read_release(uid: str) -> str:
    """One release with its first RELEASE_ITEMS_LIMIT items, as JSON.

    Raises:
        ResourceNotFoundError: no such release.
        ResourceError: the guard refuses, or Contentstack fails.
    """
    state = _caller(RELEASE_SCOPE)

    async def read() -> str:
        try:
            release = await state.client.releases.get_release(uid)
            page = await state.client.releases.items(uid, limit=RELEASE_ITEMS_LIMIT)
        except NotFoundError:
            raise ResourceNotFoundError(
                f"release {uid!r} does not exist; list_releases lists the releases there are"
            ) from None
        items = [
            {
                k: v
                for k, v in {
                    "type": "asset" if item.is_asset else "entry",
                    "content_type": None if item.is_asset else item.content_type_uid,
                    "uid": item.uid,
                    "version": item.version,
                    "locale": item.locale,
                    "action": item.action,
                    "title": item.title,
                }.items()
                if v is not None
            }
            for item in page.items
        ]
        total = page.total if page.total is not None else release.items_count
        answer: dict[str, Any] = {
            "uid": release.uid,
            "name": release.name,
            "description": release.description,
            "locked": release.locked,
            "items_total": total,
            "items": items,
        }
        if total is not None and total > len(items):
            answer["truncated"] = True
            answer["note"] = f"{len(items)} of {total} items; call get_release with items_cursor for the rest"
        return _json(clean(answer))

    return await _guarded(read)


def _view_reader(view: View) -> Callable[[], Awaitable[str]]:
    async def read_view() -> str:
        # A view is code without data: it holds nothing of the stack, so no scope guards it.
        return view_html(view.file)

    return read_view


def register_views(server: MCPServer[Any]) -> None:
    """Adds the MCP Apps views (`ui://cs-mcp/...`) the tools name in `_meta.ui.resourceUri`."""
    for view in VIEWS:
        server.resource(
            view.uri,
            name=view.name,
            title=view.title,
            description=view.description,
            mime_type=VIEW_MIME,
            meta=VIEW_META,
        )(_view_reader(view))


def register_resources(server: MCPServer[Any]) -> None:
    """Adds the three resources and the views to `server`, and the binding they read the request through."""
    install_request_binding(server)
    register_views(server)
    server.resource(
        CONTENT_TYPE_URI,
        name="content-type",
        title="Content type schema",
        description="The compact schema of one content type: each field's uid, type, whether it is required "
        "or multiple, reference targets, and the nested fields of groups and modular blocks.",
        mime_type=JSON_MIME,
    )(read_content_type)
    server.resource(
        ENVIRONMENTS_URI,
        name="environments",
        title="Environments",
        description="The stack's publishing environments.",
        mime_type=JSON_MIME,
    )(read_environments)
    server.resource(
        RELEASE_URI,
        name="release",
        title="Release",
        description=f"One release: name, description, locked, and its first {RELEASE_ITEMS_LIMIT} items "
        "(content type, uid, version, locale, action).",
        mime_type=JSON_MIME,
    )(read_release)
