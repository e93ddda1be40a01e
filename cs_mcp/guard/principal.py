"""Who is calling: a principal comes from the transport only, never from tool arguments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Principal:
    """The caller of a tool: over stdio the local user, over HTTP the bearer token's owner."""

    name: str
    role: str
    transport: Literal["stdio", "http"] = "stdio"
