"""Which toolsets a server offers: the operator's choice, and the discovery tools of dynamic mode.

`--toolsets` (or `CS_MCP_TOOLSETS`) is a comma-separated list of toolset names, `all` for every
one, and `dynamic` to start with the discovery tools only (`list_toolsets`, `enable_toolset`):
an agent then enables what it needs and pays, in tokens, only for the tools it uses. Unset, the
default toolsets are served. Tools of a toolset that is not offered are neither listed nor
callable.

Replicas behind one load balancer share what `enable_toolset` enabled through a `ToolsetStore`
(Redis, with `CS_MCP_REDIS_URL`): every request first adds what the others enabled, so a
toolset enabled through one replica is listed and callable through all. Without a store the
process keeps its own, as a single server always did.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol

from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import Tool
from pydantic import Field

from cs_mcp.guard.scopes import ALL_SCOPES
from cs_mcp.toolkit.context import ToolContext, app_state, principal_of
from cs_mcp.toolkit.models import ToolModel
from cs_mcp.toolkit.registry import DEFAULT_TOOLSETS, TOOLSETS, ToolSpec
from cs_mcp.toolkit.schema import compact_schema

ALL = "all"
DYNAMIC = "dynamic"
# The toolset the discovery tools belong to; never chosen, served exactly in dynamic mode.
DISCOVERY = "discovery"


logger = logging.getLogger("cs_mcp.toolsets")


class ToolsetStore(Protocol):
    """Where replicas keep the toolsets enabled in dynamic mode."""

    async def load(self) -> set[str]:
        """Every toolset enabled so far, by any replica.

        Raises:
            the store's own error: it cannot be reached.
        """
        ...

    async def add(self, toolset: str) -> None:
        """Records `toolset` as enabled.

        Raises:
            the store's own error: it cannot be reached.
        """
        ...


class UnknownToolsetError(ValueError):
    """A toolset name that is none of the known ones (the message names them)."""


@dataclass(frozen=True)
class Selection:
    """The operator's choice: the toolsets offered from the start, and whether the discovery
    tools may enable more."""

    enabled: frozenset[str]
    dynamic: bool = False


def known_choices() -> str:
    """The words `--toolsets` accepts, for help and error text."""
    return ", ".join([*TOOLSETS, ALL, DYNAMIC])


def select_toolsets(choice: str | Iterable[str] | None) -> Selection:
    """The selection a `--toolsets` value (a comma-separated string, or its names) stands for;
    None or empty: the default toolsets.

    Raises:
        UnknownToolsetError: a name that is not a toolset, `all` or `dynamic` (the message
            lists the known ones).
    """
    raw = choice.split(",") if isinstance(choice, str) else list(choice or [])
    names = [name.strip() for name in raw if name.strip()]
    if not names:
        return Selection(frozenset(DEFAULT_TOOLSETS))
    unknown = [name for name in names if name not in TOOLSETS and name not in (ALL, DYNAMIC)]
    if unknown:
        raise UnknownToolsetError(
            f"unknown toolset {', '.join(repr(n) for n in unknown)}; choose among: {known_choices()}"
        )
    enabled = set(TOOLSETS) if ALL in names else {name for name in names if name in TOOLSETS}
    return Selection(frozenset(enabled), dynamic=DYNAMIC in names)


def served_as(spec: ToolSpec, enabled: Iterable[str]) -> str:
    """The toolset a tool is shown under when `enabled` are chosen: its own if chosen, else the
    first other chosen one that serves it (`query_assets` under `entries` by default)."""
    chosen = set(enabled)
    return next((name for name in spec.toolsets if name in chosen), spec.toolset)


@dataclass
class OfferedToolsets:
    """The toolsets a server offers now. In dynamic mode `enable_toolset` adds to them while
    the server runs; the server is one per stdio process, so over stdio this is the session's."""

    selection: Selection
    enabled: set[str] = field(default_factory=lambda: set[str]())
    store: ToolsetStore | None = None

    def __post_init__(self) -> None:
        self.enabled = set(self.selection.enabled)

    async def refresh(self) -> None:
        """Adds the toolsets other replicas enabled (dynamic mode with a store); a store that
        cannot be reached leaves what this process knows."""
        if self.store is None or not self.selection.dynamic:
            return
        try:
            self.enabled |= await self.store.load()
        except Exception as exc:  # the store's client raises its own error types
            logger.warning("the shared toolsets cannot be read (%s): serving this replica's", type(exc).__name__)

    async def enable(self, toolset: str) -> bool:
        """Enables `toolset` here and in the store; True when it was not enabled before."""
        added = toolset not in self.enabled
        self.enabled.add(toolset)
        if self.store is not None:
            try:
                await self.store.add(toolset)
            except Exception as exc:  # the store's client raises its own error types
                logger.warning(
                    "the shared toolsets cannot be written (%s): %s is enabled on this replica only",
                    type(exc).__name__,
                    toolset,
                )
        return added

    def registers(self, spec: ToolSpec) -> bool:
        """Whether the server registers the tool at all: every toolset in dynamic mode (so it
        can be enabled later), else the chosen ones and `describe_stack`, where an agent starts."""
        return self.selection.dynamic or self._serves(spec) or spec.name == "describe_stack"

    def _serves(self, spec: ToolSpec) -> bool:
        return any(toolset in self.enabled for toolset in spec.toolsets)

    def offers(self, spec: ToolSpec) -> bool:
        """Whether the tool is listed and callable now."""
        if spec.toolset == DISCOVERY or not self.selection.dynamic:
            return True
        return self._serves(spec)


def listed_form(tool: Tool) -> Tool:
    """The tool as `tools/list` sends it (schemas compacted)."""
    return tool.model_copy(
        update={
            "input_schema": compact_schema(tool.input_schema),
            "output_schema": compact_schema(tool.output_schema, output=True) if tool.output_schema else None,
        }
    )


def tool_tokens(tool: Tool) -> int:
    """What listing the tool (as the server holds it) costs a model, in estimated tokens."""
    return listed_tokens(listed_form(tool))


def listed_tokens(listed: Tool, keys: tuple[str, ...] | None = None) -> int:
    """Estimated tokens of a tool as `tools/list` sends it (`listed_form`, which is not applied
    again): characters of its compact JSON wire form divided by four, the measure of
    `bench/catalog_size.py`; only `keys` of the wire form when given."""
    wire = listed.model_dump(mode="json", by_alias=True, exclude_none=True)
    if keys is not None:
        wire = {k: wire[k] for k in keys if k in wire}
    return len(json.dumps(wire, ensure_ascii=False, separators=(",", ":"))) // 4


class ToolCost(ToolModel):
    name: str
    tokens: int


class ToolsetInfo(ToolModel):
    name: str
    description: str
    enabled: bool
    default: bool = Field(description="Whether the toolset is served when the operator chooses none.")
    tokens: int = Field(description="What listing all its tools costs, in estimated tokens.")
    tools: list[ToolCost]


class ToolsetList(ToolModel):
    toolsets: list[ToolsetInfo]


class EnabledToolset(ToolModel):
    toolset: str
    enabled_now: bool = Field(description="False when it was enabled already.")
    tools: list[str] = Field(description="The tools it adds, now listed and callable.")


def discovery_specs(offered: OfferedToolsets, specs: dict[str, ToolSpec]) -> list[ToolSpec]:
    """The two discovery tools of dynamic mode, bound to this server's offered toolsets and
    its registered tools (`specs`, which the server fills before any call)."""

    def visible(ctx: ToolContext) -> dict[str, list[ToolSpec]]:
        guard = app_state(ctx).guard
        principal = principal_of(ctx)
        by_toolset: dict[str, list[ToolSpec]] = {name: [] for name in TOOLSETS}
        for spec in specs.values():
            if guard.may_use(principal, spec.scopes):
                for toolset in spec.toolsets:
                    if toolset in by_toolset:
                        by_toolset[toolset].append(spec)
        return by_toolset

    async def list_toolsets(ctx: ToolContext) -> ToolsetList:
        """Every toolset this server can serve you: whether it is enabled, its tools and what
        listing them costs in tokens. Enable one with enable_toolset."""
        listed = {t.name: t for t in await ctx.mcp_server.list_tools()}
        answer: list[ToolsetInfo] = []
        for name, tools in visible(ctx).items():
            if not tools:
                continue
            costs = [ToolCost(name=s.name, tokens=tool_tokens(listed[s.name])) for s in tools if s.name in listed]
            answer.append(
                ToolsetInfo(
                    name=name,
                    description=TOOLSETS[name].description,
                    enabled=name in offered.enabled,
                    default=TOOLSETS[name].default,
                    tokens=sum(c.tokens for c in costs),
                    tools=costs,
                )
            )
        return ToolsetList(toolsets=answer)

    async def enable_toolset(
        ctx: ToolContext,
        toolset: Annotated[str, Field(description="The toolset's name, as list_toolsets gives it.")],
    ) -> EnabledToolset:
        """Enables a toolset: its tools are listed and callable from now on (the client is
        told the tool list changed). Call list_toolsets first to see what each costs."""
        tools = visible(ctx).get(toolset)
        if not tools:
            usable = sorted(name for name, found in visible(ctx).items() if found)
            raise ToolError(
                f"there is no toolset {toolset!r} you can use; call list_toolsets (yours: {', '.join(usable)})"
            )
        added = await offered.enable(toolset)
        if added:
            await _tell_tools_changed(ctx)
        return EnabledToolset(toolset=toolset, enabled_now=added, tools=[s.name for s in tools])

    return [
        _discovery_spec(list_toolsets, "List toolsets", idempotent=True),
        _discovery_spec(enable_toolset, "Enable a toolset", idempotent=True),
    ]


async def _tell_tools_changed(ctx: ToolContext) -> None:
    """Sends `notifications/tools/list_changed`: on the session for clients of the handshake
    protocol, and to `subscriptions/listen` subscribers for those of the current one."""
    await ctx.session.send_tool_list_changed()
    # No subscription bus on this connection: the session's notification is the one.
    with contextlib.suppress(ValueError):
        await ctx.notify_tools_changed()


def _discovery_spec(fn: Any, title: str, *, idempotent: bool) -> ToolSpec:
    # Any scope lists them: a role that may use no tool has no toolset to discover.
    return ToolSpec(
        name=fn.__name__,
        toolset=DISCOVERY,
        fn=fn,
        title=title,
        description=(fn.__doc__ or "").strip().replace("\n        ", " "),
        scopes=ALL_SCOPES,
        read_only=True,
        destructive=False,
        idempotent=idempotent,
        open_world=False,
    )
