"""How a tool is declared: its toolset, the scopes that list it, and its four annotations.

Each toolset module declares its tools through one `ToolsetDeclarations` (`declarations.py`:
`@declare.read`, `@declare.write`, `@declare.delete`), which calls `tool` and `write_tool`
here; `server.py` registers what the registry holds. A write tool's function
takes a `WriteCall` (bound to its declaration) instead of the context, and so can only write
through the pipeline in `write.py`. Scopes are checked when the module is imported. Every
tool is wrapped so that an expected failure of Contentstack reaches the model as a
`ToolError` in plain words, never as "Error executing tool".
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Concatenate, NotRequired, ParamSpec, TypedDict, TypeVar, Unpack, cast

from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import BaseModel, ValidationError

from cs_mcp.client import Api, ContentstackError
from cs_mcp.config import CAPABILITY_HINTS, Capability, Settings
from cs_mcp.guard.scopes import Scope, scope_set
from cs_mcp.toolkit.context import ToolContext
from cs_mcp.toolkit.shape import DEFAULT_BUDGET_TOKENS, ReadAnswer, carrying_measures, measured_size, shorten_to_fit
from cs_mcp.toolkit.write import ConfirmationToken, DryRun, ElicitationRequired, WriteCall


@dataclass(frozen=True)
class Toolset:
    """A group of tools an operator turns on or off together (`--toolsets`, `CS_MCP_TOOLSETS`).

    A new toolset is one record here plus the module that declares its tools."""

    name: str
    description: str
    # The modules whose declarations (`@declare.read/write/delete`) make it up, a tool it serves
    # from another toolset (`also_in`) included: serving it imports these and no others. Their
    # order here is the order of their tools in a listing.
    modules: tuple[str, ...]
    needs: Capability  # without these credentials its tools are not served
    api: Api  # the API its tools call: `cs-mcp doctor` calls it live when that API answers
    default: bool = True  # served unless the operator chooses; opt-in toolsets are False


# name -> toolset, in catalog order.
TOOLSETS: dict[str, Toolset] = {
    t.name: t
    for t in (
        Toolset(
            "stack",
            "the stack's environments, locales, content types and your permissions",
            ("cs_mcp.tools.stack",),
            Capability.CMA,
            Api.CMA,
        ),
        Toolset(
            "entries",
            "find, read, create, update and delete entries; find assets",
            ("cs_mcp.tools.entries", "cs_mcp.tools.assets"),  # query_assets is declared with assets
            Capability.CMA,
            Api.CMA,
        ),
        Toolset(
            "publishing",
            "publish and unpublish entries and assets; the publish queue",
            ("cs_mcp.tools.publishing",),
            Capability.CMA,
            Api.CMA,
        ),
        Toolset(
            "releases",
            "bundle entries and assets into releases and deploy them",
            ("cs_mcp.tools.releases",),
            Capability.CMA,
            Api.CMA,
        ),
        Toolset(
            "analytics",
            "the organization's usage analytics",
            ("cs_mcp.tools.analytics",),
            Capability.ORGANIZATION,
            Api.ANALYTICS,
        ),
        Toolset(
            "automations",
            "Automate projects, automations, executions and audit logs",
            ("cs_mcp.tools.automations",),
            Capability.ORGANIZATION,
            Api.AUTOMATE,
        ),
        Toolset(
            "assets",
            "read, upload, replace, update and delete assets; asset folders; where an asset is used",
            ("cs_mcp.tools.assets",),
            Capability.CMA,
            Api.CMA,
            default=False,
        ),
        Toolset(
            "content_types",
            "create, change and delete content types",
            ("cs_mcp.tools.content_types",),
            Capability.CMA,
            Api.CMA,
            default=False,
        ),
        Toolset(
            "stack_admin",
            "environments, languages, labels and webhooks; delivery token and role reads (admin roles)",
            ("cs_mcp.tools.stack_admin",),
            Capability.CMA,
            Api.CMA,
            default=False,
        ),
        Toolset(
            "entries_extra",
            "an entry's references and languages; localize and unlocalize entries",
            ("cs_mcp.tools.entries_extra",),
            Capability.CMA,
            Api.CMA,
            default=False,
        ),
        Toolset(
            "automate_admin",
            "Automate projects' settings, variables and connected accounts; single audit-log entries",
            ("cs_mcp.tools.automate_admin",),
            Capability.ORGANIZATION,
            Api.AUTOMATE,
            default=False,
        ),
    )
}

DEFAULT_TOOLSETS: tuple[str, ...] = tuple(name for name, t in TOOLSETS.items() if t.default)

# A read answer's share of the response budget; the rest is for the content notice and framing.
ANSWER_BUDGET = DEFAULT_BUDGET_TOKENS - 200

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the server registers it."""

    name: str
    toolset: str
    fn: Callable[..., Awaitable[Any]]
    title: str
    description: str
    scopes: frozenset[str]  # the tool is listed for a principal holding any of these
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool
    read_back: str | None = None  # write tools: what to read to learn what a write did
    ui: str | None = None  # the `ui://` view (MCP Apps) that shows the tool's result
    labelled: bool = False  # its answer is a `ReadAnswer`: the server labels it as content
    secret_arguments: tuple[str, ...] = ()  # write tools: arguments never recorded (`[redacted]`)
    # Toolsets that serve the tool too: a tool moved to a new toolset stays where users had it.
    also_in: tuple[str, ...] = ()
    # A stored declaration (`stored_schemas.declared_tools`): the module that declares the tool,
    # imported at its first call, and `fn` only reaches the function through it (`resolved`).
    # None: `fn` is the tool's own.
    deferred_from: str | None = None

    @property
    def toolsets(self) -> tuple[str, ...]:
        """Every toolset that serves the tool, its own first."""
        return (self.toolset, *self.also_in)

    @property
    def meta(self) -> dict[str, Any] | None:
        """The tool's `_meta`: the MCP Apps view, if it has one."""
        return {"ui": {"resourceUri": self.ui}} if self.ui else None

    @property
    def annotations(self) -> ToolAnnotations:
        """The hints that differ from the MCP specification's defaults (readOnlyHint false,
        destructiveHint true, idempotentHint false, openWorldHint true): an omitted hint means
        its default, and every hint listed costs every turn. destructiveHint and idempotentHint
        mean something for writes only. The tool's own `title` names it, so no title here."""
        write = not self.read_only
        return ToolAnnotations(
            read_only_hint=True if self.read_only else None,
            destructive_hint=False if write and not self.destructive else None,
            idempotent_hint=True if write and self.idempotent else None,
            open_world_hint=False if not self.open_world else None,
        )


_REGISTRY: dict[str, ToolSpec] = {}


def tool(
    *,
    toolset: str,
    scopes: Iterable[Scope],
    title: str,
    idempotent: bool,
    open_world: bool = True,
    ui: str | None = None,
    also_in: tuple[str, ...] = (),
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Declares a read tool (a write tool is declared with `write_tool`). The function's
    docstring is its description; its name is the tool's name; `ui` names the `ui://` view a
    host that renders MCP Apps shows its result in; `also_in` names toolsets that serve it
    besides its own (where it was before it moved).

    Raises:
        ValueError: an unknown toolset or scope, a missing docstring, a name declared twice.
    """
    listed = scope_set(scopes)

    def decorate(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        _register(
            _declare(
                fn,
                _plain_errors(_within_budget(fn)),
                toolset=toolset,
                scopes=listed,
                title=title,
                read_only=True,
                destructive=False,
                idempotent=idempotent,
                open_world=open_world,
                ui=ui,
                also_in=also_in,
            )
        )
        return fn

    return decorate


class WriteToolArgs(TypedDict):
    """How a write tool is declared (the arguments of `write_tool`)."""

    toolset: str
    scopes: Iterable[Scope]
    title: str
    idempotent: bool
    read_back: str
    destructive: NotRequired[bool]
    open_world: NotRequired[bool]
    ui: NotRequired[str]
    secret_arguments: NotRequired[tuple[str, ...]]


def write_tool(
    **declaration: Unpack[WriteToolArgs],
) -> Callable[[Callable[Concatenate[WriteCall, P], Awaitable[R]]], Callable[Concatenate[WriteCall, P], Awaitable[R]]]:
    """Declares a write tool. Its function takes a `WriteCall` first (the pipeline bound to
    this declaration: a principal holding any of `scopes` sees the tool, and a call needs all
    of them unless it says which with `call.require`), then its own arguments; the tool takes
    `dry_run` and `confirmation_token` after them, which the pipeline reads and the function
    never sees (`WRITE_PARAMETERS`). `read_back` says what to read to learn what a write
    did, for the answer when its outcome is unknown; `ui`, as for `tool`, the view that shows
    its result or its confirmation preview; `secret_arguments` the arguments whose values are
    secrets (never in the audit log, a confirmation's binding or an error message).

    Raises:
        ValueError: as `tool`, the function does not take the call first, or it declares
            `dry_run` or `confirmation_token` itself.
    """

    def decorate(
        fn: Callable[Concatenate[WriteCall, P], Awaitable[R]],
    ) -> Callable[Concatenate[WriteCall, P], Awaitable[R]]:
        _register(write_spec(fn, **declaration))
        return fn

    return decorate


# The arguments every write tool takes after its own, for the pipeline (`WriteCall` reads them).
WRITE_PARAMETERS = (
    inspect.Parameter("dry_run", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=False, annotation=DryRun),
    inspect.Parameter(
        "confirmation_token", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=ConfirmationToken
    ),
)
_PIPELINE_ARGUMENTS = frozenset(p.name for p in WRITE_PARAMETERS)


def write_spec(
    fn: Callable[..., Awaitable[Any]], *, name: str | None = None, **declaration: Unpack[WriteToolArgs]
) -> ToolSpec:
    """The declaration of a write tool, not registered (what `write_tool` registers).

    Raises:
        ValueError: as `write_tool`.
    """
    signature = inspect.signature(fn, eval_str=True)
    parameters = list(signature.parameters.values())
    if not parameters or parameters[0].annotation is not WriteCall:
        raise ValueError(f"write tool {fn.__name__} must take `call: WriteCall` first")
    if own := sorted(_PIPELINE_ARGUMENTS & signature.parameters.keys()):
        raise ValueError(f"write tool {fn.__name__} declares {own}: write_tool adds them, for the pipeline")
    listed = scope_set(declaration["scopes"])
    holder: list[ToolSpec] = []

    async def entry(ctx: ToolContext, **arguments: Any) -> Any:
        call = WriteCall(holder[0], ctx, arguments)
        own = {k: v for k, v in arguments.items() if k not in _PIPELINE_ARGUMENTS}
        return await call.serve(lambda: fn(call, **own))

    # What the server reads to build the input schema: the tool's own arguments, with the
    # context in the place of the call, then the pipeline's.
    context = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=ToolContext)
    visible = [context, *parameters[1:], *WRITE_PARAMETERS]
    entry.__signature__ = signature.replace(parameters=visible)  # type: ignore[attr-defined]  # read by inspect
    entry.__annotations__ = {p.name: p.annotation for p in visible} | {"return": signature.return_annotation}
    entry.__name__ = entry.__qualname__ = fn.__name__
    entry.__doc__ = fn.__doc__
    entry.__module__ = fn.__module__
    spec = _declare(
        fn,
        _plain_errors(entry),
        toolset=declaration["toolset"],
        scopes=listed,
        title=declaration["title"],
        read_only=False,
        destructive=declaration.get("destructive", False),
        idempotent=declaration["idempotent"],
        open_world=declaration.get("open_world", True),
        read_back=declaration["read_back"],
        ui=declaration.get("ui"),
        name=name,
    )
    secrets = declaration.get("secret_arguments", ())
    unknown = [a for a in secrets if a not in signature.parameters]
    if unknown:
        raise ValueError(f"write tool {fn.__name__} declares unknown secret arguments {unknown}")
    spec = replace(spec, secret_arguments=tuple(secrets))
    holder.append(spec)
    return spec


def _declare(
    fn: Callable[..., Awaitable[Any]],
    served: Callable[..., Awaitable[Any]],
    *,
    toolset: str,
    scopes: frozenset[Scope],
    title: str,
    read_only: bool,
    destructive: bool,
    idempotent: bool,
    open_world: bool,
    read_back: str | None = None,
    ui: str | None = None,
    name: str | None = None,
    also_in: tuple[str, ...] = (),
) -> ToolSpec:
    for named in (toolset, *also_in):
        if named not in TOOLSETS:
            raise ValueError(f"unknown toolset {named!r}")
    if not scopes:
        raise ValueError(f"tool {fn.__name__} names no scope")
    # A docstring's wrapped lines are one paragraph: listed with spaces, not "\n" escapes.
    doc = re.sub(r"(?<!\n)\n(?!\n)", " ", inspect.cleandoc(fn.__doc__ or ""))
    if not doc:
        raise ValueError(f"tool {fn.__name__} needs a docstring: it is the description the model reads")
    # That stack text is content, never instructions, the server's instructions say once and
    # every read answer says again (content_notice); repeating it in each description cost
    # every turn of every session.
    # Only a read can be labelled: a write skips evaluating its annotations a second time.
    answer = inspect.signature(fn, eval_str=True).return_annotation if read_only else None
    return ToolSpec(
        name=name or fn.__name__,
        toolset=toolset,
        fn=served,
        title=title,
        description=doc,
        scopes=frozenset(scopes),
        read_only=read_only,
        destructive=destructive,
        idempotent=idempotent,
        open_world=open_world,
        read_back=read_back,
        ui=ui,
        labelled=read_only and isinstance(answer, type) and issubclass(answer, ReadAnswer),
        also_in=also_in,
    )


def _register(spec: ToolSpec) -> None:
    if spec.name in _REGISTRY:
        raise ValueError(f"tool {spec.name} is declared twice")
    _REGISTRY[spec.name] = spec


def _within_budget(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """A read tool whose answer never exceeds the response budget: the tools that page or
    read entries fit their answers themselves; any other answer over the budget (a content
    type of thousands of fields, an automation whose steps hold long texts) has its longest
    strings cut, each cut saying how much it left out, and says `truncated` when it can."""

    @functools.wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with carrying_measures():
            answer = await fn(*args, **kwargs)
            if not isinstance(answer, BaseModel):
                return answer
            # A page measured while it was fitted is not encoded again: its measure bounds the answer's.
            bound = measured_size(answer)
        if bound is not None and bound // 4 <= ANSWER_BUDGET:
            return answer
        if len(answer.model_dump_json()) // 4 <= ANSWER_BUDGET:
            return answer
        fitted = shorten_to_fit(answer, ANSWER_BUDGET)
        if "truncated" in type(fitted).model_fields:
            fitted = fitted.model_copy(update={"truncated": True})
        return cast(R, fitted)

    return run


def _plain_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except ElicitationRequired as exc:
            # From protocol 2026-07-28 the human's confirmation is asked through the result itself.
            return cast(R, exc.result)
        except ContentstackError as exc:
            # The client's messages are plain and scrubbed of secrets already.
            raise ToolError(str(exc)) from exc
        except ValidationError as exc:
            # Arguments were validated before the call, so this is an answer of Contentstack
            # that does not have the documented shape. Field paths only: values may be content.
            where = ", ".join(sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})[:5])
            raise ToolError(
                f"Contentstack answered in a shape cs-mcp does not understand (at {where or 'the top level'}); "
                "try again, and report it if it persists"
            ) from exc

    return run


def resolved(spec: ToolSpec) -> ToolSpec:
    """The tool's declaration with its own function: `spec` itself, or for a stored declaration
    the one its module registers when imported (here, at the tool's first use).

    Raises:
        LookupError: the module declares no such tool (the stored declarations are out of date).
    """
    if spec.deferred_from is None:
        return spec
    return _declared_in(spec.name, spec.deferred_from)


def _declared_in(name: str, module: str) -> ToolSpec:
    """The tool `name` as `module` declares it, importing the module the first time.

    Raises:
        LookupError: the module declares no such tool (the stored declarations are out of date).
    """
    found = _REGISTRY.get(name)  # registered: its module is imported already
    if found is None:
        importlib.import_module(module)
        found = _REGISTRY.get(name)
    if found is None:
        raise LookupError(f"{module} declares no tool {name}: the stored declarations are out of date")
    return found


# What a stored declaration keeps of a `ToolSpec`: everything but the function, which it names
# by its module instead.
_DECLARED = (
    "name",
    "toolset",
    "also_in",
    "title",
    "description",
    "scopes",
    "read_only",
    "destructive",
    "idempotent",
    "open_world",
    "read_back",
    "ui",
    "labelled",
    "secret_arguments",
)


def declaration(spec: ToolSpec) -> dict[str, Any]:
    """The JSON form of a declared tool (`stored_declaration` reads it back), its function named
    by the module that declares it."""
    declared: dict[str, Any] = {key: getattr(spec, key) for key in _DECLARED}
    declared["scopes"] = sorted(spec.scopes)
    declared["also_in"] = list(spec.also_in)
    declared["secret_arguments"] = list(spec.secret_arguments)
    declared["module"] = resolved(spec).fn.__module__
    return declared


def stored_declaration(declared: dict[str, Any]) -> ToolSpec:
    """The tool a stored `declaration` describes, its module not imported: its `fn` imports the
    module at its first call, and `resolved` gives the declaration with the tool's own function."""
    name = str(declared["name"])
    module = str(declared["module"])
    fields = {key: declared[key] for key in _DECLARED}
    fields["scopes"] = frozenset(declared["scopes"])
    fields["also_in"] = tuple(declared["also_in"])
    fields["secret_arguments"] = tuple(declared["secret_arguments"])
    return ToolSpec(fn=_deferred(name, module), deferred_from=module, **fields)


def _deferred(name: str, module: str) -> Callable[..., Awaitable[Any]]:
    async def deferred(*args: Any, **kwargs: Any) -> Any:
        return await _declared_in(name, module).fn(*args, **kwargs)

    deferred.__name__ = deferred.__qualname__ = name
    deferred.__module__ = module
    return deferred


def registered_tools(toolsets: Iterable[str] | None = None) -> list[ToolSpec]:
    """The declared tools, in a stable order (toolset, module, then declaration): every one, or only
    those `toolsets` serve, after importing those toolsets' modules and no others."""
    chosen = None if toolsets is None else list(toolsets)
    load_toolsets(chosen)
    return served_tools(_REGISTRY.values(), chosen)


def served_tools(specs: Iterable[ToolSpec], toolsets: Iterable[str] | None = None) -> list[ToolSpec]:
    """Those of `specs` that `toolsets` serve (all of them when None), by toolset, then by the
    place of their module in the toolset's `modules`, in the order given within one module."""
    order = {name: i for i, name in enumerate(TOOLSETS)}
    chosen = set(TOOLSETS if toolsets is None else toolsets)
    served = [spec for spec in specs if chosen.intersection(spec.toolsets)]

    def place(spec: ToolSpec) -> tuple[int, int]:
        # A tool moved to a new toolset keeps its place among the tools of the one it came from.
        first = min(spec.toolsets, key=order.__getitem__)
        modules = TOOLSETS[first].modules
        module = spec.fn.__module__
        # By module, not by registration: the registry fills in the order modules were first
        # imported, which a server of other toolsets earlier in the process decides.
        return order[first], modules.index(module) if module in modules else len(modules)

    return sorted(served, key=place)


def load_toolsets(toolsets: Iterable[str] | None = None) -> None:
    """Imports the modules of `toolsets` (else of every toolset), which declares their tools."""
    for name in TOOLSETS if toolsets is None else toolsets:
        for module in TOOLSETS[name].modules:
            importlib.import_module(module)


def toolset_availability(settings: Settings) -> dict[str, str | None]:
    """Each toolset: None when the credentials it needs are configured, else what to set."""
    held = settings.capabilities()
    return {t.name: None if t.needs in held else CAPABILITY_HINTS[t.needs] for t in TOOLSETS.values()}
