"""How a toolset module declares its tools: one `ToolsetDeclarations` a module (or a resource
in it) names the toolset, its default scopes and its preview view once
(`declare = ToolsetDeclarations("entries", ...)`); `@declare.read(...)`, `@declare.write(...)`
and `@declare.delete(...)` then declare each tool through the registry's `tool` and
`write_tool`, so the registry holds the same `ToolSpec` either way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Concatenate, ParamSpec, TypeVar

from cs_mcp.guard.scopes import Scope
from cs_mcp.toolkit.registry import WriteToolArgs, tool, write_tool
from cs_mcp.toolkit.write import WriteCall

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class ToolsetDeclarations:
    """How a toolset module declares its tools, as a web framework's router declares routes:
    the module names its toolset, the scopes its reads and its writes are listed for, and the
    view its confirmations are previewed in once; each tool names only what is its own. It
    declares through `tool` and `write_tool`, so a tool's `ToolSpec` is the same either way.

    `read_scopes` and `write_scopes` are the default scopes (a tool's `scopes` replaces them);
    `preview` is the `ui://` view that shows a confirmation preview, for the deletes and the
    writes declared `previewed`.
    """

    toolset: str
    read_scopes: frozenset[Scope] = frozenset()
    write_scopes: frozenset[Scope] = frozenset()
    preview: str | None = None

    def read(
        self,
        title: str,
        *,
        scopes: Iterable[Scope] | None = None,
        ui: str | None = None,
        also_in: tuple[str, ...] = (),
    ) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
        """Declares a read tool (as `tool`): reading again answers the same, so it is idempotent.

        Raises:
            ValueError: as `tool`.
        """
        listed = self.read_scopes if scopes is None else scopes
        return tool(toolset=self.toolset, scopes=listed, title=title, idempotent=True, ui=ui, also_in=also_in)

    def write(
        self,
        title: str,
        *,
        read_back: str,
        scopes: Iterable[Scope] | None = None,
        idempotent: bool = False,
        previewed: bool = False,
        secret_arguments: tuple[str, ...] = (),
    ) -> Callable[
        [Callable[Concatenate[WriteCall, P], Awaitable[R]]], Callable[Concatenate[WriteCall, P], Awaitable[R]]
    ]:
        """Declares a write tool that destroys nothing (as `write_tool`); `previewed`: its
        confirmation is shown in the toolset's preview view.

        Raises:
            ValueError: as `write_tool`, or `previewed` in a toolset with no preview view.
        """
        if previewed and self.preview is None:
            raise ValueError(f"toolset {self.toolset} has no preview view for {title!r}")
        ui = self.preview if previewed else None
        return self._write_tool(title, read_back, scopes, idempotent, False, ui, secret_arguments)

    def delete(
        self, title: str, *, read_back: str, scopes: Iterable[Scope] | None = None
    ) -> Callable[
        [Callable[Concatenate[WriteCall, P], Awaitable[R]]], Callable[Concatenate[WriteCall, P], Awaitable[R]]
    ]:
        """Declares a delete (as `write_tool`): destructive, idempotent (deleting what is gone
        changes nothing), its confirmation shown in the toolset's preview view if it has one.

        Raises:
            ValueError: as `write_tool`.
        """
        return self._write_tool(title, read_back, scopes, True, True, self.preview, ())

    def _write_tool(
        self,
        title: str,
        read_back: str,
        scopes: Iterable[Scope] | None,
        idempotent: bool,
        destructive: bool,
        ui: str | None,
        secret_arguments: tuple[str, ...],
    ) -> Callable[
        [Callable[Concatenate[WriteCall, P], Awaitable[R]]], Callable[Concatenate[WriteCall, P], Awaitable[R]]
    ]:
        declaration: WriteToolArgs = {
            "toolset": self.toolset,
            "scopes": self.write_scopes if scopes is None else scopes,
            "title": title,
            "idempotent": idempotent,
            "destructive": destructive,
            "read_back": read_back,
            "secret_arguments": secret_arguments,
        }
        if ui is not None:
            declaration["ui"] = ui
        return write_tool(**declaration)
